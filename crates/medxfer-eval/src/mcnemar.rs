//! Exact McNemar test of two classifiers on the same cases: under the null the discordant
//! cases split Binomial(b + c, 1/2); two-sided p = min(1, 2 P(X <= min(b, c))).

use crate::EvalError;
use crate::input_checks::check_same_len;
use crate::special::binomial_cdf;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McNemarResult {
    /// Cases only classifier A got right.
    pub only_a_correct: u64,
    /// Cases only classifier B got right.
    pub only_b_correct: u64,
    pub p_value: f64,
}

/// Exact McNemar p-value from the two discordant counts (p = 1 when there are none).
pub fn mcnemar_exact(only_a_correct: u64, only_b_correct: u64) -> McNemarResult {
    let n = only_a_correct + only_b_correct;
    let k = only_a_correct.min(only_b_correct);
    let p_value = if n == 0 {
        1.0
    } else {
        (2.0 * binomial_cdf(k, n, 0.5)).min(1.0)
    };
    McNemarResult {
        only_a_correct,
        only_b_correct,
        p_value,
    }
}

/// Exact McNemar test from per-case correctness of two classifiers.
pub fn mcnemar_from_correctness(
    correct_a: &[bool],
    correct_b: &[bool],
) -> Result<McNemarResult, EvalError> {
    check_same_len(
        "McNemar (classifier a vs b)",
        correct_a.len(),
        correct_b.len(),
    )?;
    let only_a = correct_a
        .iter()
        .zip(correct_b)
        .filter(|&(&a, &b)| a && !b)
        .count() as u64;
    let only_b = correct_a
        .iter()
        .zip(correct_b)
        .filter(|&(&a, &b)| !a && b)
        .count() as u64;
    Ok(mcnemar_exact(only_a, only_b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_by_hand() {
        // b = 1, c = 6: 2 * (1 + 7) / 128 = 0.125.
        assert!((mcnemar_exact(1, 6).p_value - 0.125).abs() < 1e-15);
        assert_eq!(mcnemar_exact(3, 3).p_value, 1.0);
        assert_eq!(mcnemar_exact(0, 0).p_value, 1.0);
        let r = mcnemar_from_correctness(&[true, true, false], &[false, true, true]).unwrap();
        assert_eq!((r.only_a_correct, r.only_b_correct), (1, 1));
    }
}
