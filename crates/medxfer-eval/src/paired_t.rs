//! Paired t-test on per-fold (or per-case) metric pairs: t = mean(d) / (sd(d) / sqrt(n)),
//! n - 1 degrees of freedom, two-sided p.
//!
//! Convention when all differences are equal (sd = 0): t = 0 and p = 1 if they are all zero,
//! otherwise t = +-infinity and p = 0.

use crate::EvalError;
use crate::input_checks::{check_finite, check_same_len};
use crate::special::student_t_two_sided_p;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairedTTest {
    pub n: usize,
    pub mean_difference: f64,
    pub t: f64,
    pub df: f64,
    pub p_value: f64,
}

/// Paired t-test of `a - b`.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<PairedTTest, EvalError> {
    check_same_len("paired t-test", a.len(), b.len())?;
    check_finite("paired t-test (a)", a)?;
    check_finite("paired t-test (b)", b)?;
    let n = a.len();
    if n < 2 {
        return Err(EvalError::InvalidArgument(format!(
            "paired t-test needs at least 2 pairs, got {n}"
        )));
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let df = n as f64 - 1.0;
    let t = if var > 0.0 {
        mean / (var / n as f64).sqrt()
    } else if mean == 0.0 {
        0.0
    } else {
        mean.signum() * f64::INFINITY
    };
    Ok(PairedTTest {
        n,
        mean_difference: mean,
        t,
        df,
        p_value: student_t_two_sided_p(t, df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_case() {
        // d = 1, 2, 3: mean 2, sd 1, t = 2 sqrt(3), df 2.
        let r = paired_t_test(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r.t - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        // Two-sided p for t = sqrt(12), df = 2: 1 - sqrt(12 / 14) ... = 0.0741799002274...
        assert!((r.p_value - (1.0 - (12.0f64 / 14.0).sqrt())).abs() < 1e-12);
        let same = paired_t_test(&[1.0, 2.0], &[1.0, 2.0]).unwrap();
        assert_eq!((same.t, same.p_value), (0.0, 1.0));
        assert!(paired_t_test(&[1.0], &[2.0]).is_err());
    }
}
