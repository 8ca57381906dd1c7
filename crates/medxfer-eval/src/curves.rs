//! ROC and precision-recall curve points (one point per distinct threshold, no points
//! dropped) and average precision with scikit-learn's definition:
//! AP = sum over thresholds of (R_k - R_{k-1}) P_k.
//!
//! A case is predicted positive at threshold t when its score >= t.

use crate::EvalError;
use crate::input_checks::{check_binary, check_finite, check_same_len};
use crate::ranking::TieGroups;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RocPoint {
    /// `+inf` for the first point (nothing predicted positive).
    pub threshold: f64,
    pub fpr: f64,
    pub tpr: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrPoint {
    pub threshold: f64,
    pub recall: f64,
    pub precision: f64,
}

/// Cumulative (threshold, true positives, false positives) at each distinct score, highest
/// threshold first.
pub(crate) fn cumulative_counts(is_positive: &[bool], scores: &[f64]) -> Vec<(f64, usize, usize)> {
    let groups = TieGroups::ascending(scores);
    let mut out = Vec::with_capacity(groups.n_groups());
    let (mut tp, mut fp) = (0, 0);
    for g in (0..groups.n_groups()).rev() {
        let members = groups.group(g);
        let pos = members.iter().filter(|&&i| is_positive[i]).count();
        tp += pos;
        fp += members.len() - pos;
        out.push((scores[members[0]], tp, fp));
    }
    out
}

/// ROC points from (0, 0) at threshold +inf down to (1, 1) at the lowest score.
pub fn roc_curve(is_positive: &[bool], scores: &[f64]) -> Result<Vec<RocPoint>, EvalError> {
    let (n_pos, n_neg) = check_binary("roc_curve", is_positive, scores)?;
    let mut points = vec![RocPoint {
        threshold: f64::INFINITY,
        fpr: 0.0,
        tpr: 0.0,
    }];
    points.extend(
        cumulative_counts(is_positive, scores)
            .into_iter()
            .map(|(threshold, tp, fp)| RocPoint {
                threshold,
                fpr: fp as f64 / n_neg as f64,
                tpr: tp as f64 / n_pos as f64,
            }),
    );
    Ok(points)
}

fn check_has_positive(
    what: &'static str,
    is_positive: &[bool],
    scores: &[f64],
) -> Result<usize, EvalError> {
    check_same_len(what, is_positive.len(), scores.len())?;
    check_finite(what, scores)?;
    let n_pos = is_positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return Err(EvalError::OneClassOnly {
            what,
            n_pos,
            n_neg: is_positive.len(),
        });
    }
    Ok(n_pos)
}

/// Precision-recall points, highest threshold first (recall increasing). Negatives may be
/// absent; at least one positive is required.
pub fn pr_curve(is_positive: &[bool], scores: &[f64]) -> Result<Vec<PrPoint>, EvalError> {
    let n_pos = check_has_positive("pr_curve", is_positive, scores)?;
    Ok(cumulative_counts(is_positive, scores)
        .into_iter()
        .map(|(threshold, tp, fp)| PrPoint {
            threshold,
            recall: tp as f64 / n_pos as f64,
            precision: tp as f64 / (tp + fp) as f64,
        })
        .collect())
}

/// Average precision (scikit-learn's step-wise definition, no interpolation).
pub fn average_precision(is_positive: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    let points = pr_curve(is_positive, scores)?;
    let mut previous_recall = 0.0;
    let mut ap = 0.0;
    for p in points {
        ap += (p.recall - previous_recall) * p.precision;
        previous_recall = p.recall;
    }
    Ok(ap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_points_with_a_tie() {
        let pts = roc_curve(&[true, false, true, false], &[0.8, 0.3, 0.5, 0.5]).unwrap();
        let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.fpr, p.tpr)).collect();
        assert_eq!(xy, vec![(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
        assert_eq!(pts[2].threshold, 0.5);
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending: 0.9 (+), 0.8 (-), 0.7 (+): AP = 0.5 * 1 + 0.5 * 2/3.
        let ap = average_precision(&[true, false, true], &[0.9, 0.8, 0.7]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        assert!(average_precision(&[false, false], &[0.9, 0.8]).is_err());
        assert_eq!(average_precision(&[true, true], &[0.9, 0.8]).unwrap(), 1.0);
    }
}
