//! Scoring a model's class probabilities: the validation numbers that choose the best epoch.
//! The metrics themselves come from `medxfer-eval`, as everywhere else.

use medxfer_eval::auc::{roc_auc, roc_auc_ovr_macro};
use medxfer_eval::confusion::ConfusionMatrix;

/// Validation summary of one epoch.
#[derive(Debug, Clone, Copy)]
pub struct ValScore {
    pub loss: f64,
    /// Binary AUC of the positive class, or one-vs-rest macro AUC; NaN if undefined (one class).
    pub auc: f64,
    pub balanced_accuracy: f64,
}

impl ValScore {
    /// The number early stopping maximises: AUC when defined, else minus the loss.
    pub fn monitor(&self) -> f64 {
        if self.auc.is_finite() {
            self.auc
        } else {
            -self.loss
        }
    }
}

/// `probs` is row-major n x k (softmax outputs) for the samples whose true labels are `labels`.
pub fn score(
    probs: &[f32],
    labels: &[usize],
    num_classes: usize,
    positive: Option<usize>,
) -> ValScore {
    let n = labels.len();
    let k = num_classes;
    let mut loss = 0.0;
    let mut predicted = Vec::with_capacity(n);
    let probs64: Vec<f64> = probs.iter().map(|&p| p as f64).collect();
    for (i, &y) in labels.iter().enumerate() {
        let row = &probs64[i * k..(i + 1) * k];
        loss -= row[y].max(1e-12).ln();
        predicted.push(argmax(row));
    }
    let loss = if n > 0 { loss / n as f64 } else { f64::NAN };
    let auc = if k == 2 {
        let pos = positive.unwrap_or(1);
        let is_pos: Vec<bool> = labels.iter().map(|&y| y == pos).collect();
        let scores: Vec<f64> = (0..n).map(|i| probs64[i * k + pos]).collect();
        roc_auc(&is_pos, &scores).unwrap_or(f64::NAN)
    } else {
        roc_auc_ovr_macro(labels, &probs64, k).unwrap_or(f64::NAN)
    };
    let balanced_accuracy = ConfusionMatrix::new(labels, &predicted, k)
        .map(|cm| cm.balanced_accuracy())
        .unwrap_or(f64::NAN);
    ValScore {
        loss,
        auc,
        balanced_accuracy,
    }
}

pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_binary_scores() {
        let probs = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.4, 0.6];
        let s = score(&probs, &[0, 1, 0, 1], 2, Some(1));
        assert!((s.auc - 1.0).abs() < 1e-12);
        assert!((s.balanced_accuracy - 1.0).abs() < 1e-12);
        let expected_loss = -((0.9f64.ln() + 0.8f64.ln() + 0.7f64.ln() + 0.6f64.ln()) / 4.0);
        assert!((s.loss - expected_loss).abs() < 1e-6);
        assert_eq!(s.monitor(), s.auc);
    }

    #[test]
    fn one_class_validation_falls_back_to_loss() {
        let s = score(&[0.9, 0.1, 0.8, 0.2], &[0, 0], 2, Some(1));
        assert!(s.auc.is_nan());
        assert!((s.monitor() + s.loss).abs() < 1e-12);
    }
}
