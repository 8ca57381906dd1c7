//! Friedman test: do k treatments (e.g. the cells of a study) differ, judged on n blocks
//! (e.g. cross-validation folds) each scoring every treatment? Follows SciPy's
//! `friedmanchisquare`: values are ranked within each block (ties get mid-ranks), the statistic
//! is tie-corrected, and the p-value is the chi-square(k - 1) upper tail (an approximation
//! that needs several blocks; with few, read it as a rough guide).

use crate::EvalError;
use crate::special::chi_square_upper_tail;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FriedmanResult {
    pub statistic: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
    /// Mean rank of each treatment (1 = lowest value).
    pub mean_ranks: Vec<f64>,
}

/// `blocks[b][t]`: treatment t's value in block b. Needs at least 3 treatments and 2 blocks,
/// the same number of treatments in every block, and finite values.
pub fn friedman(blocks: &[Vec<f64>]) -> Result<FriedmanResult, EvalError> {
    let n = blocks.len();
    let k = blocks.first().map_or(0, Vec::len);
    if k < 3 {
        return Err(EvalError::InvalidArgument(format!(
            "Friedman test: needs at least 3 treatments, got {k}"
        )));
    }
    if n < 2 {
        return Err(EvalError::InvalidArgument(format!(
            "Friedman test: needs at least 2 blocks, got {n}"
        )));
    }
    let mut rank_sums = vec![0.0; k];
    let mut tie_sum = 0.0;
    for (b, block) in blocks.iter().enumerate() {
        if block.len() != k {
            return Err(EvalError::InvalidArgument(format!(
                "Friedman test: block {b} has {} values, block 0 has {k}",
                block.len()
            )));
        }
        crate::input_checks::check_finite("Friedman test", block)?;
        for (t, &value) in block.iter().enumerate() {
            let below = block.iter().filter(|&&v| v < value).count() as f64;
            let equal = block.iter().filter(|&&v| v == value).count() as f64;
            rank_sums[t] += below + (equal + 1.0) / 2.0;
            // Each tie group of size g adds g^3 - g once: 1/g of it per member.
            tie_sum += (equal.powi(3) - equal) / equal;
        }
    }
    let (n_f, k_f) = (n as f64, k as f64);
    let correction = 1.0 - tie_sum / (n_f * k_f * (k_f * k_f - 1.0));
    let sum_squares: f64 = rank_sums.iter().map(|r| r * r).sum();
    let raw = 12.0 / (n_f * k_f * (k_f + 1.0)) * sum_squares - 3.0 * n_f * (k_f + 1.0);
    // Every block all tied: no evidence of any difference.
    let statistic = if correction > 0.0 {
        raw / correction
    } else {
        0.0
    };
    Ok(FriedmanResult {
        statistic,
        degrees_of_freedom: k - 1,
        p_value: chi_square_upper_tail(statistic, (k - 1) as f64),
        mean_ranks: rank_sums.iter().map(|r| r / n_f).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_case_without_ties() {
        // Three blocks ranking the treatments identically: R = (3, 6, 9), chi2 = 6.
        let blocks = vec![
            vec![0.1, 0.2, 0.3],
            vec![0.4, 0.5, 0.6],
            vec![0.0, 0.5, 0.9],
        ];
        let r = friedman(&blocks).unwrap();
        assert!((r.statistic - 6.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r.degrees_of_freedom, 2);
        // chi2(2) upper tail is exp(-x / 2).
        assert!((r.p_value - (-3.0f64).exp()).abs() < 1e-12, "{r:?}");
        assert_eq!(r.mean_ranks, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn all_tied_blocks_give_no_evidence_and_bad_input_is_refused() {
        let r = friedman(&[vec![1.0; 3], vec![2.0; 3]]).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert!((r.p_value - 1.0).abs() < 1e-12);
        assert!(friedman(&[vec![1.0, 2.0], vec![1.0, 2.0]]).is_err());
        assert!(friedman(&[vec![1.0, 2.0, 3.0]]).is_err());
        assert!(friedman(&[vec![1.0, 2.0, 3.0], vec![1.0, 2.0]]).is_err());
        assert!(friedman(&[vec![1.0, f64::NAN, 3.0], vec![1.0, 2.0, 3.0]]).is_err());
    }
}
