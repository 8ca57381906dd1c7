//! Area under the ROC curve: binary (the Mann-Whitney statistic, ties count one half) and
//! multi-class (one-vs-rest macro / weighted, one-vs-one Hand & Till macro / weighted).
//!
//! Convention: a higher score means the positive class; the direction is never flipped.

use crate::EvalError;
use crate::input_checks::{check_binary, check_finite, check_labels, check_same_len};
use crate::ranking::{TieGroups, auc_from_group_counts};

/// Binary AUC: P(score of a positive > score of a negative) + 0.5 P(equal).
/// Errors on length mismatch, non-finite scores, or when one class is absent.
pub fn roc_auc(is_positive: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    let (n_pos, n_neg) = check_binary("roc_auc", is_positive, scores)?;
    let groups = TieGroups::ascending(scores);
    let (pos_counts, neg_counts) = group_class_counts(&groups, is_positive);
    Ok(auc_from_group_counts(
        &pos_counts,
        &neg_counts,
        n_pos as f64,
        n_neg as f64,
    ))
}

/// Per tie group: how many positives and negatives it holds.
pub(crate) fn group_class_counts(groups: &TieGroups, is_positive: &[bool]) -> (Vec<u32>, Vec<u32>) {
    let mut pos_counts = Vec::with_capacity(groups.n_groups());
    let mut neg_counts = Vec::with_capacity(groups.n_groups());
    for g in 0..groups.n_groups() {
        let members = groups.group(g);
        let p = members.iter().filter(|&&i| is_positive[i]).count() as u32;
        pos_counts.push(p);
        neg_counts.push(members.len() as u32 - p);
    }
    (pos_counts, neg_counts)
}

/// Multi-class averaging of per-class (or per-pair) AUCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiClassAuc {
    /// One-vs-rest, unweighted mean over classes.
    OvrMacro,
    /// One-vs-rest, weighted by class prevalence.
    OvrWeighted,
    /// One-vs-one, unweighted mean over class pairs (Hand & Till 2001).
    OvoMacro,
    /// One-vs-one, weighted by the prevalence of each pair.
    OvoWeighted,
}

/// One-vs-rest macro AUC. `scores` is row-major `n x n_classes`; every class must be present
/// (and absent from some rows) or its one-vs-rest AUC is undefined.
pub fn roc_auc_ovr_macro(
    labels: &[usize],
    scores: &[f64],
    n_classes: usize,
) -> Result<f64, EvalError> {
    roc_auc_multiclass(labels, scores, n_classes, MultiClassAuc::OvrMacro)
}

/// Multi-class AUC with the chosen averaging (scikit-learn's `roc_auc_score` semantics).
pub fn roc_auc_multiclass(
    labels: &[usize],
    scores: &[f64],
    n_classes: usize,
    average: MultiClassAuc,
) -> Result<f64, EvalError> {
    if n_classes < 2 {
        return Err(EvalError::InvalidArgument(format!(
            "roc_auc_multiclass: needs at least 2 classes, got {n_classes}"
        )));
    }
    check_same_len(
        "roc_auc_multiclass (scores must be n x n_classes)",
        labels.len() * n_classes,
        scores.len(),
    )?;
    check_finite("roc_auc_multiclass", scores)?;
    check_labels("roc_auc_multiclass", labels, n_classes)?;
    let n = labels.len();
    let column = |c: usize| -> Vec<f64> { (0..n).map(|i| scores[i * n_classes + c]).collect() };
    let mut prevalence = vec![0usize; n_classes];
    for &l in labels {
        prevalence[l] += 1;
    }
    match average {
        MultiClassAuc::OvrMacro | MultiClassAuc::OvrWeighted => {
            let mut total = 0.0;
            for (c, &count) in prevalence.iter().enumerate() {
                let is_c: Vec<bool> = labels.iter().map(|&l| l == c).collect();
                let auc = roc_auc(&is_c, &column(c))?;
                total += match average {
                    MultiClassAuc::OvrMacro => auc / n_classes as f64,
                    _ => auc * count as f64 / n as f64,
                };
            }
            Ok(total)
        }
        MultiClassAuc::OvoMacro | MultiClassAuc::OvoWeighted => {
            let mut pair_aucs = Vec::new();
            let mut pair_weights = Vec::new();
            for a in 0..n_classes {
                for b in (a + 1)..n_classes {
                    let rows: Vec<usize> = (0..n)
                        .filter(|&i| labels[i] == a || labels[i] == b)
                        .collect();
                    let is_a: Vec<bool> = rows.iter().map(|&i| labels[i] == a).collect();
                    let is_b: Vec<bool> = is_a.iter().map(|&x| !x).collect();
                    let score_a: Vec<f64> =
                        rows.iter().map(|&i| scores[i * n_classes + a]).collect();
                    let score_b: Vec<f64> =
                        rows.iter().map(|&i| scores[i * n_classes + b]).collect();
                    let auc_ab = roc_auc(&is_a, &score_a)?;
                    let auc_ba = roc_auc(&is_b, &score_b)?;
                    pair_aucs.push((auc_ab + auc_ba) / 2.0);
                    pair_weights.push(rows.len() as f64);
                }
            }
            if average == MultiClassAuc::OvoMacro {
                Ok(pair_aucs.iter().sum::<f64>() / pair_aucs.len() as f64)
            } else {
                let total_weight: f64 = pair_weights.iter().sum();
                Ok(pair_aucs
                    .iter()
                    .zip(&pair_weights)
                    .map(|(a, w)| a * w)
                    .sum::<f64>()
                    / total_weight)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_binary_auc_with_ties() {
        // Pairs (pos, neg): 0.8>0.3, 0.8>0.5, 0.5=0.5 (half), 0.5>0.3 -> 3.5 of 4.
        let auc = roc_auc(&[true, false, true, false], &[0.8, 0.3, 0.5, 0.5]).unwrap();
        assert!((auc - 0.875).abs() < 1e-15);
    }

    #[test]
    fn all_equal_scores_give_one_half() {
        let auc = roc_auc(&[true, false, false, true, false], &[0.3; 5]).unwrap();
        assert_eq!(auc, 0.5);
    }

    #[test]
    fn inverted_scorer_is_not_flipped() {
        let auc = roc_auc(&[true, true, false, false], &[0.1, 0.2, 0.8, 0.9]).unwrap();
        assert_eq!(auc, 0.0);
    }

    #[test]
    fn one_per_class() {
        assert_eq!(roc_auc(&[true, false], &[0.9, 0.1]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[true, false], &[0.1, 0.1]).unwrap(), 0.5);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        assert_eq!(roc_auc(&[true, false], &[-0.0, 0.0]).unwrap(), 0.5);
    }

    #[test]
    fn one_class_and_nan_are_errors() {
        assert!(matches!(
            roc_auc(&[true, true], &[0.1, 0.2]),
            Err(EvalError::OneClassOnly { .. })
        ));
        assert!(matches!(
            roc_auc(&[true, false], &[0.1, f64::NAN]),
            Err(EvalError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            roc_auc(&[true], &[0.1, 0.2]),
            Err(EvalError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn perfect_three_class_scorer() {
        let labels = [0, 1, 2, 0];
        let scores = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8, 0.7, 0.2, 0.1];
        for avg in [
            MultiClassAuc::OvrMacro,
            MultiClassAuc::OvrWeighted,
            MultiClassAuc::OvoMacro,
            MultiClassAuc::OvoWeighted,
        ] {
            assert_eq!(roc_auc_multiclass(&labels, &scores, 3, avg).unwrap(), 1.0);
        }
    }

    #[test]
    fn missing_class_is_an_error() {
        let err = roc_auc_ovr_macro(
            &[0, 1, 0],
            &[0.5, 0.5, 0.0, 0.2, 0.8, 0.0, 0.6, 0.4, 0.0],
            3,
        );
        assert!(matches!(err, Err(EvalError::OneClassOnly { .. })));
    }
}
