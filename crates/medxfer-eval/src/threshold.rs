//! Choosing the decision threshold of a binary score. A case is predicted positive when its
//! score >= the threshold.

use crate::EvalError;
use crate::curves::{cumulative_counts, roc_curve};
use crate::input_checks::check_binary;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule", content = "value")]
pub enum ThresholdRule {
    /// A given threshold (0.5 for probabilities).
    Fixed(f64),
    /// Maximises Youden's J = sensitivity + specificity - 1 (the highest such threshold).
    Youden,
    /// The lowest threshold whose specificity is at least the target, i.e. the highest
    /// sensitivity at that specificity.
    AtSpecificity(f64),
}

impl std::str::FromStr for ThresholdRule {
    type Err = String;

    /// `0.5` (a fixed threshold), `youden`, or `spec:0.9` (at least this specificity).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("youden") {
            return Ok(ThresholdRule::Youden);
        }
        if let Some(target) = text.strip_prefix("spec:") {
            return match target.trim().parse::<f64>() {
                Ok(t) if (0.0..=1.0).contains(&t) => Ok(ThresholdRule::AtSpecificity(t)),
                _ => Err(format!(
                    "spec:{target}: the specificity must be a number in [0, 1]"
                )),
            };
        }
        match text.parse::<f64>() {
            Ok(t) if t.is_finite() => Ok(ThresholdRule::Fixed(t)),
            _ => Err(format!(
                "threshold {text:?}: expected a number, `youden` or `spec:<specificity>`"
            )),
        }
    }
}

/// Resolves `rule` to a threshold on these scores (`+inf` if even the top score breaks a
/// specificity target).
pub fn choose_threshold(
    is_positive: &[bool],
    scores: &[f64],
    rule: ThresholdRule,
) -> Result<f64, EvalError> {
    match rule {
        ThresholdRule::Fixed(t) => {
            if t.is_nan() {
                return Err(EvalError::InvalidArgument("threshold is NaN".into()));
            }
            Ok(t)
        }
        ThresholdRule::Youden => {
            let (n_pos, n_neg) = check_binary("Youden threshold", is_positive, scores)?;
            // J = tp/P - fp/N compared as the integer tp N - fp P, so equal J values tie
            // exactly and the highest threshold wins.
            let mut best: Option<(i128, f64)> = None;
            for (threshold, tp, fp) in cumulative_counts(is_positive, scores) {
                let j = tp as i128 * n_neg as i128 - fp as i128 * n_pos as i128;
                if best.is_none_or(|(b, _)| j > b) {
                    best = Some((j, threshold));
                }
            }
            Ok(best.map_or(f64::INFINITY, |(_, t)| t))
        }
        ThresholdRule::AtSpecificity(target) => {
            if !(0.0..=1.0).contains(&target) {
                return Err(EvalError::InvalidArgument(format!(
                    "target specificity must be in [0, 1], got {target}"
                )));
            }
            let points = roc_curve(is_positive, scores)?;
            Ok(points
                .iter()
                .take_while(|p| 1.0 - p.fpr >= target)
                .last()
                .map_or(f64::INFINITY, |p| p.threshold))
        }
    }
}

/// Predicted positive flags at `threshold`.
pub fn predict_at(scores: &[f64], threshold: f64) -> Vec<bool> {
    scores.iter().map(|&s| s >= threshold).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_on_a_small_case() {
        let y = [true, true, false, true, false, false];
        let s = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2];
        // Thresholds 0.9: J=1/3; 0.8: 2/3; 0.7: 2/3-1/3; 0.6: 1-1/3=2/3; 0.3: 1-2/3.
        assert_eq!(
            choose_threshold(&y, &s, ThresholdRule::Youden).unwrap(),
            0.8
        );
        assert_eq!(
            choose_threshold(&y, &s, ThresholdRule::AtSpecificity(0.6)).unwrap(),
            0.6
        );
        assert_eq!(
            choose_threshold(&y, &s, ThresholdRule::AtSpecificity(1.0)).unwrap(),
            0.8
        );
        assert_eq!(
            choose_threshold(&y, &s, ThresholdRule::Fixed(0.5)).unwrap(),
            0.5
        );
        assert_eq!(
            predict_at(&s, 0.8),
            vec![true, true, false, false, false, false]
        );
    }
}
