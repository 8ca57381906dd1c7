//! Wilcoxon signed-rank test of paired samples, two-sided, following SciPy's `wilcoxon`
//! defaults (`zero_method="wilcox"`, no continuity correction, `method="auto"`):
//! zero differences are dropped, tied |d| get mid-ranks, and the p-value is
//! - exact (distribution of the rank sum) when n <= 50 and there are no ties or zeros;
//! - exact conditional on the observed ranks (all 2^n sign flips) when there are ties or
//!   zeros and n <= 13;
//! - otherwise the normal approximation with the tie-corrected variance.
//!
//! Here n counts all pairs, zeros included (as SciPy does for the choice of method).
//! When every difference is zero the statistic is 0 and p = 1.

use crate::EvalError;
use crate::input_checks::{check_finite, check_same_len};
use crate::ranking::TieGroups;
use crate::special::normal_two_sided_p;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WilcoxonMethod {
    Exact,
    ExactConditional,
    Normal,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WilcoxonResult {
    /// min(R+, R-), as SciPy reports for the two-sided test.
    pub statistic: f64,
    pub rank_sum_positive: f64,
    pub rank_sum_negative: f64,
    /// Number of non-zero differences.
    pub n_nonzero: usize,
    /// (R+ - mean) / sd of the normal approximation (reported for every method).
    pub z: f64,
    pub p_value: f64,
    pub method: WilcoxonMethod,
}

/// Two-sided Wilcoxon signed-rank test of `a - b`.
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Result<WilcoxonResult, EvalError> {
    check_same_len("Wilcoxon signed-rank", a.len(), b.len())?;
    check_finite("Wilcoxon signed-rank (a)", a)?;
    check_finite("Wilcoxon signed-rank (b)", b)?;
    let n_total = a.len();
    if n_total == 0 {
        return Err(EvalError::Empty("Wilcoxon signed-rank"));
    }
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|&v| v != 0.0)
        .collect();
    let n = d.len();
    let has_zeros = n < n_total;
    let magnitudes: Vec<f64> = d.iter().map(|v| v.abs()).collect();
    let groups = TieGroups::ascending(&magnitudes);
    // Ranks doubled so that mid-ranks stay integers.
    let mut twice_rank = vec![0u64; n];
    let mut tie_term = 0.0;
    for g in 0..groups.n_groups() {
        let (start, end) = (groups.starts[g] as u64, groups.starts[g + 1] as u64);
        // Mid-rank of positions start+1..=end is (start + 1 + end) / 2.
        for &i in groups.group(g) {
            twice_rank[i] = start + 1 + end;
        }
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
    }
    let has_ties = groups.n_groups() < n;
    let twice_plus: u64 = (0..n).filter(|&i| d[i] > 0.0).map(|i| twice_rank[i]).sum();
    let twice_total: u64 = twice_rank.iter().sum();
    let r_plus = twice_plus as f64 / 2.0;
    let r_minus = (twice_total - twice_plus) as f64 / 2.0;
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let sd = ((nf * (nf + 1.0) * (2.0 * nf + 1.0) - tie_term / 2.0) / 24.0).sqrt();
    let z = if sd > 0.0 { (r_plus - mean) / sd } else { 0.0 };
    let (p_value, method) = if n == 0 {
        (1.0, WilcoxonMethod::ExactConditional)
    } else if n_total <= 50 && !has_ties && !has_zeros {
        (exact_p(n, twice_plus / 2), WilcoxonMethod::Exact)
    } else if n_total <= 13 {
        (
            conditional_p(&twice_rank, twice_plus),
            WilcoxonMethod::ExactConditional,
        )
    } else {
        (normal_two_sided_p(z), WilcoxonMethod::Normal)
    };
    Ok(WilcoxonResult {
        statistic: r_plus.min(r_minus),
        rank_sum_positive: r_plus,
        rank_sum_negative: r_minus,
        n_nonzero: n,
        z,
        p_value,
        method,
    })
}

/// Number of sign assignments giving each total of `weights` (subset-sum counts).
fn subset_sum_counts(weights: &[u64]) -> Vec<f64> {
    let max: u64 = weights.iter().sum();
    let mut counts = vec![0.0; max as usize + 1];
    counts[0] = 1.0;
    let mut reach = 0usize;
    for &w in weights {
        let w = w as usize;
        for s in (0..=reach).rev() {
            if counts[s] != 0.0 {
                counts[s + w] += counts[s];
            }
        }
        reach += w;
    }
    counts
}

fn two_sided_from_counts(counts: &[f64], observed: usize) -> f64 {
    let total: f64 = counts.iter().sum();
    let at_most: f64 = counts[..=observed].iter().sum();
    let at_least: f64 = counts[observed..].iter().sum();
    (2.0 * at_most.min(at_least) / total).min(1.0)
}

/// Exact p-value of R+ = `r_plus` with ranks 1..=n.
fn exact_p(n: usize, r_plus: u64) -> f64 {
    let ranks: Vec<u64> = (1..=n as u64).collect();
    two_sided_from_counts(&subset_sum_counts(&ranks), r_plus as usize)
}

/// Exact p-value conditional on the observed (doubled) mid-ranks.
fn conditional_p(twice_rank: &[u64], twice_plus: u64) -> f64 {
    two_sided_from_counts(&subset_sum_counts(twice_rank), twice_plus as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_small_case_by_hand() {
        // d = 1, 2, 3, -4 with ranks 1..4: R+ = 6, R- = 4. Of the 16 sign patterns,
        // P(R+ <= 6) = 11/16 and P(R+ >= 6) = 7/16 -> p = 14/16.
        let r = wilcoxon_signed_rank(&[1.0, 2.0, 3.0, -4.0], &[0.0; 4]).unwrap();
        assert_eq!((r.statistic, r.method), (4.0, WilcoxonMethod::Exact));
        assert!((r.p_value - 0.875).abs() < 1e-15);
        // All five positive: p = 2 / 32.
        let r = wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0], &[0.0; 5]).unwrap();
        assert!((r.p_value - 0.0625).abs() < 1e-15);
        assert_eq!(r.statistic, 0.0);
    }

    #[test]
    fn all_zero_differences() {
        let r = wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]).unwrap();
        assert_eq!((r.statistic, r.p_value, r.n_nonzero), (0.0, 1.0, 0));
    }
}
