//! DeLong's variance of the AUC and the DeLong tests comparing two AUCs, computed from
//! placement values in O(n log n) (Sun & Xu 2014: one sort per score; tied groups get the
//! mid-rank, which is what the one-half credit for ties amounts to).
//!
//! With `m` positives and `n` negatives, the placement of a positive is the fraction of
//! negatives it outranks (ties count one half), V10; that of a negative is the fraction of
//! positives outranking it, V01. AUC = mean(V10) = mean(V01), and
//! Var(AUC) = S10 / m + S01 / n with S10, S01 the sample variances (denominator m - 1, n - 1).
//! At least two cases per class are needed for the variance.

use crate::EvalError;
use crate::input_checks::{check_binary, check_same_len};
use crate::ranking::TieGroups;
use crate::special::{normal_quantile, normal_two_sided_p};

/// Placement value of every case (V10 for positives, V01 for negatives), in input order.
pub(crate) struct Placements {
    pub auc: f64,
    pub n_pos: usize,
    pub n_neg: usize,
    pub values: Vec<f64>,
}

impl Placements {
    pub fn compute(is_positive: &[bool], scores: &[f64]) -> Result<Self, EvalError> {
        let (n_pos, n_neg) = check_binary("DeLong", is_positive, scores)?;
        let groups = TieGroups::ascending(scores);
        let mut values = vec![0.0; scores.len()];
        let mut neg_below = 0usize;
        let mut pos_below = 0usize;
        // Twice the Mann-Whitney U as an integer, so the AUC is exactly `roc_auc`'s.
        let mut twice_u: u128 = 0;
        for g in 0..groups.n_groups() {
            let members = groups.group(g);
            let pos_in = members.iter().filter(|&&i| is_positive[i]).count();
            let neg_in = members.len() - pos_in;
            let pos_above = n_pos - pos_below - pos_in;
            let v10 = (neg_below as f64 + 0.5 * neg_in as f64) / n_neg as f64;
            let v01 = (pos_above as f64 + 0.5 * pos_in as f64) / n_pos as f64;
            for &i in members {
                values[i] = if is_positive[i] { v10 } else { v01 };
            }
            twice_u += pos_in as u128 * (2 * neg_below + neg_in) as u128;
            neg_below += neg_in;
            pos_below += pos_in;
        }
        let auc = twice_u as f64 / (2.0 * n_pos as f64 * n_neg as f64);
        Ok(Placements {
            auc,
            n_pos,
            n_neg,
            values,
        })
    }

    fn require_two_per_class(&self) -> Result<(), EvalError> {
        if self.n_pos < 2 || self.n_neg < 2 {
            return Err(EvalError::TooFewCases {
                what: "DeLong variance",
                needed: 2,
                n_pos: self.n_pos,
                n_neg: self.n_neg,
            });
        }
        Ok(())
    }
}

/// Sample covariance of the placements of two scores over the cases of one class.
fn placement_covariance(
    a: &Placements,
    b: &Placements,
    is_positive: &[bool],
    positive: bool,
) -> f64 {
    // Both V10 (over positives) and V01 (over negatives) average to the AUC.
    let count = if positive { a.n_pos } else { a.n_neg };
    let sum: f64 = is_positive
        .iter()
        .enumerate()
        .filter(|&(_, &p)| p == positive)
        .map(|(i, _)| (a.values[i] - a.auc) * (b.values[i] - b.auc))
        .sum();
    sum / (count as f64 - 1.0)
}

fn covariance(a: &Placements, b: &Placements, is_positive: &[bool]) -> f64 {
    placement_covariance(a, b, is_positive, true) / a.n_pos as f64
        + placement_covariance(a, b, is_positive, false) / a.n_neg as f64
}

/// AUC with its DeLong variance and normal-theory confidence interval (clamped to [0, 1]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AucCi {
    pub n_pos: usize,
    pub n_neg: usize,
    pub auc: f64,
    pub variance: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub ci_level: f64,
}

pub(crate) fn check_level(level: f64) -> Result<(), EvalError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(EvalError::InvalidArgument(format!(
            "confidence level must be strictly between 0 and 1, got {level}"
        )));
    }
    Ok(())
}

/// Two-sided critical value of the standard normal for a `level` interval.
pub(crate) fn z_critical(level: f64) -> f64 {
    normal_quantile(0.5 + level / 2.0)
}

/// The DeLong variance of the binary AUC.
pub fn delong_variance(is_positive: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    let p = Placements::compute(is_positive, scores)?;
    p.require_two_per_class()?;
    Ok(covariance(&p, &p, is_positive))
}

/// AUC, DeLong variance and the `level` (e.g. 0.95) confidence interval.
pub fn delong_ci(is_positive: &[bool], scores: &[f64], level: f64) -> Result<AucCi, EvalError> {
    check_level(level)?;
    let p = Placements::compute(is_positive, scores)?;
    p.require_two_per_class()?;
    let variance = covariance(&p, &p, is_positive);
    let half = z_critical(level) * variance.sqrt();
    Ok(AucCi {
        n_pos: p.n_pos,
        n_neg: p.n_neg,
        auc: p.auc,
        variance,
        ci_low: (p.auc - half).max(0.0),
        ci_high: (p.auc + half).min(1.0),
        ci_level: level,
    })
}

/// Comparison of two AUCs: difference a - b, its variance, Z, two-sided p and CI.
/// When the variance of the difference is 0: Z = 0 and p = 1 if the AUCs are equal, otherwise
/// Z = +-infinity and p = 0.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AucComparison {
    pub auc_a: f64,
    pub auc_b: f64,
    pub difference: f64,
    pub variance: f64,
    pub z: f64,
    pub p_value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub ci_level: f64,
    pub method: String,
}

fn comparison(auc_a: f64, auc_b: f64, variance: f64, level: f64, method: &str) -> AucComparison {
    let difference = auc_a - auc_b;
    let sd = variance.max(0.0).sqrt();
    let z = if sd > 0.0 {
        difference / sd
    } else if difference == 0.0 {
        0.0
    } else {
        difference.signum() * f64::INFINITY
    };
    let half = z_critical(level) * sd;
    AucComparison {
        auc_a,
        auc_b,
        difference,
        variance,
        z,
        p_value: normal_two_sided_p(z),
        ci_low: (difference - half).max(-1.0),
        ci_high: (difference + half).min(1.0),
        ci_level: level,
        method: method.to_string(),
    }
}

/// Paired DeLong test: two scores of the same cases.
pub fn delong_paired(
    is_positive: &[bool],
    scores_a: &[f64],
    scores_b: &[f64],
    level: f64,
) -> Result<AucComparison, EvalError> {
    check_level(level)?;
    check_same_len(
        "paired DeLong (score a vs score b)",
        scores_a.len(),
        scores_b.len(),
    )?;
    let a = Placements::compute(is_positive, scores_a)?;
    let b = Placements::compute(is_positive, scores_b)?;
    a.require_two_per_class()?;
    let variance = covariance(&a, &a, is_positive) + covariance(&b, &b, is_positive)
        - 2.0 * covariance(&a, &b, is_positive);
    Ok(comparison(a.auc, b.auc, variance, level, "DeLong paired"))
}

/// Unpaired DeLong test: two independent samples, each with its own labels.
pub fn delong_unpaired(
    is_positive_a: &[bool],
    scores_a: &[f64],
    is_positive_b: &[bool],
    scores_b: &[f64],
    level: f64,
) -> Result<AucComparison, EvalError> {
    check_level(level)?;
    let a = delong_ci(is_positive_a, scores_a, level)?;
    let b = delong_ci(is_positive_b, scores_b, level)?;
    Ok(comparison(
        a.auc,
        b.auc,
        a.variance + b.variance,
        level,
        "DeLong unpaired",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_equal_scores_have_zero_variance() {
        let ci = delong_ci(&[true, false, true, false], &[0.4; 4], 0.95).unwrap();
        assert_eq!(
            (ci.auc, ci.variance, ci.ci_low, ci.ci_high),
            (0.5, 0.0, 0.5, 0.5)
        );
    }

    #[test]
    fn hand_computed_variance() {
        // positives 0.9, 0.6; negatives 0.7, 0.1.
        // V10: 0.9 -> 1, 0.6 -> 0.5; V01: 0.7 -> 0.5, 0.1 -> 1. AUC 0.75.
        // S10 = S01 = ((0.25)^2 * 2) / 1 = 0.125; Var = 0.125/2 + 0.125/2 = 0.125.
        let ci = delong_ci(&[true, true, false, false], &[0.9, 0.6, 0.7, 0.1], 0.95).unwrap();
        assert!((ci.auc - 0.75).abs() < 1e-15);
        assert!((ci.variance - 0.125).abs() < 1e-15);
    }

    #[test]
    fn one_case_per_class_is_too_few_for_the_variance() {
        assert!(matches!(
            delong_ci(&[true, false], &[0.9, 0.1], 0.95),
            Err(EvalError::TooFewCases { .. })
        ));
    }

    #[test]
    fn identical_scores_compare_equal() {
        let y = [true, false, true, false, true];
        let s = [0.9, 0.2, 0.4, 0.5, 0.7];
        let c = delong_paired(&y, &s, &s, 0.95).unwrap();
        assert_eq!((c.difference, c.z, c.p_value), (0.0, 0.0, 1.0));
    }

    #[test]
    fn bad_level_is_an_error() {
        assert!(delong_ci(&[true, false, true, false], &[0.1, 0.2, 0.3, 0.4], 1.0).is_err());
    }
}
