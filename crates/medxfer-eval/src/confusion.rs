//! The confusion core: every classification metric derives from these counts.
//!
//! Conventions (those of scikit-learn): a ratio whose denominator is zero is 0.0
//! (`zero_division = 0`); balanced accuracy averages recall over the classes present in the
//! truth; macro F1 averages over the classes present in the truth or the predictions;
//! weighted F1 weights by support in the truth. Cohen's kappa is NaN when it is undefined
//! (both raters put every case in one and the same class).

use crate::EvalError;
use crate::input_checks::{check_labels, check_same_len};

/// `counts[t * n_classes + p]` = number of cases with true class `t` predicted as `p`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    n_classes: usize,
    counts: Vec<u64>,
}

fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

impl ConfusionMatrix {
    pub fn new(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self, EvalError> {
        check_same_len("confusion matrix", y_true.len(), y_pred.len())?;
        if y_true.is_empty() {
            return Err(EvalError::Empty("confusion matrix"));
        }
        check_labels("confusion matrix (true labels)", y_true, n_classes)?;
        check_labels("confusion matrix (predicted labels)", y_pred, n_classes)?;
        let mut counts = vec![0u64; n_classes * n_classes];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            counts[t * n_classes + p] += 1;
        }
        Ok(ConfusionMatrix { n_classes, counts })
    }

    /// Binary matrix with class 1 = positive, class 0 = negative.
    pub fn from_binary(
        is_positive: &[bool],
        predicted_positive: &[bool],
    ) -> Result<Self, EvalError> {
        let t: Vec<usize> = is_positive.iter().map(|&b| usize::from(b)).collect();
        let p: Vec<usize> = predicted_positive.iter().map(|&b| usize::from(b)).collect();
        Self::new(&t, &p, 2)
    }

    /// From precomputed counts (row-major, rows = truth).
    pub fn from_counts(n_classes: usize, counts: Vec<u64>) -> Result<Self, EvalError> {
        check_same_len(
            "confusion matrix counts (n_classes^2)",
            n_classes * n_classes,
            counts.len(),
        )?;
        if counts.iter().all(|&c| c == 0) {
            return Err(EvalError::Empty("confusion matrix"));
        }
        Ok(ConfusionMatrix { n_classes, counts })
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn count(&self, true_class: usize, predicted_class: usize) -> u64 {
        self.counts[true_class * self.n_classes + predicted_class]
    }

    /// Rows = true class, columns = predicted class.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts
            .chunks(self.n_classes)
            .map(<[u64]>::to_vec)
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of cases whose true class is `class`.
    pub fn support(&self, class: usize) -> u64 {
        (0..self.n_classes).map(|p| self.count(class, p)).sum()
    }

    /// Number of cases predicted as `class`.
    pub fn predicted(&self, class: usize) -> u64 {
        (0..self.n_classes).map(|t| self.count(t, class)).sum()
    }

    pub fn true_positives(&self, class: usize) -> u64 {
        self.count(class, class)
    }

    pub fn false_positives(&self, class: usize) -> u64 {
        self.predicted(class) - self.true_positives(class)
    }

    pub fn false_negatives(&self, class: usize) -> u64 {
        self.support(class) - self.true_positives(class)
    }

    pub fn true_negatives(&self, class: usize) -> u64 {
        self.total() - self.support(class) - self.false_positives(class)
    }

    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.n_classes).map(|c| self.count(c, c)).sum();
        correct as f64 / self.total() as f64
    }

    /// Mean recall over the classes present in the truth.
    pub fn balanced_accuracy(&self) -> f64 {
        let present: Vec<usize> = (0..self.n_classes)
            .filter(|&c| self.support(c) > 0)
            .collect();
        present.iter().map(|&c| self.sensitivity(c)).sum::<f64>() / present.len() as f64
    }

    /// Recall of `class` (true positive rate).
    pub fn sensitivity(&self, class: usize) -> f64 {
        ratio(
            self.true_positives(class) as f64,
            self.support(class) as f64,
        )
    }

    /// True negative rate of `class` (one-vs-rest).
    pub fn specificity(&self, class: usize) -> f64 {
        let tn = self.true_negatives(class) as f64;
        ratio(tn, tn + self.false_positives(class) as f64)
    }

    /// Positive predictive value of `class`.
    pub fn precision(&self, class: usize) -> f64 {
        ratio(
            self.true_positives(class) as f64,
            self.predicted(class) as f64,
        )
    }

    /// Negative predictive value of `class` (one-vs-rest).
    pub fn npv(&self, class: usize) -> f64 {
        let tn = self.true_negatives(class) as f64;
        ratio(tn, tn + self.false_negatives(class) as f64)
    }

    /// F1 of `class`: 2TP / (2TP + FP + FN).
    pub fn f1(&self, class: usize) -> f64 {
        let tp = self.true_positives(class) as f64;
        ratio(
            2.0 * tp,
            2.0 * tp + self.false_positives(class) as f64 + self.false_negatives(class) as f64,
        )
    }

    /// Mean F1 over the classes that occur in the truth or the predictions.
    pub fn f1_macro(&self) -> f64 {
        let used: Vec<usize> = (0..self.n_classes)
            .filter(|&c| self.support(c) > 0 || self.predicted(c) > 0)
            .collect();
        used.iter().map(|&c| self.f1(c)).sum::<f64>() / used.len() as f64
    }

    /// F1 averaged with weights = support in the truth.
    pub fn f1_weighted(&self) -> f64 {
        let total = self.total() as f64;
        (0..self.n_classes)
            .map(|c| self.f1(c) * self.support(c) as f64 / total)
            .sum()
    }

    /// Matthews correlation coefficient (Gorodkin's R_K for more than two classes); 0 when a
    /// marginal is constant.
    pub fn mcc(&self) -> f64 {
        let s = self.total() as f64;
        let correct: f64 = (0..self.n_classes).map(|c| self.count(c, c) as f64).sum();
        let mut t_dot_p = 0.0;
        let mut t_dot_t = 0.0;
        let mut p_dot_p = 0.0;
        for c in 0..self.n_classes {
            let t = self.support(c) as f64;
            let p = self.predicted(c) as f64;
            t_dot_p += t * p;
            t_dot_t += t * t;
            p_dot_p += p * p;
        }
        let cov_tp = correct * s - t_dot_p;
        let cov_pp = s * s - p_dot_p;
        let cov_tt = s * s - t_dot_t;
        if cov_pp * cov_tt == 0.0 {
            0.0
        } else {
            cov_tp / (cov_tt.sqrt() * cov_pp.sqrt())
        }
    }

    /// Cohen's kappa (unweighted); NaN when the chance agreement is 1.
    pub fn cohen_kappa(&self) -> f64 {
        let s = self.total() as f64;
        let observed: f64 = (0..self.n_classes)
            .map(|c| self.count(c, c) as f64)
            .sum::<f64>()
            / s;
        let expected: f64 = (0..self.n_classes)
            .map(|c| self.support(c) as f64 * self.predicted(c) as f64)
            .sum::<f64>()
            / (s * s);
        if expected == 1.0 {
            f64::NAN
        } else {
            (observed - expected) / (1.0 - expected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_counts_and_rates() {
        // truth:  1 1 1 0 0 0 0
        // pred:   1 1 0 1 0 0 0
        let cm = ConfusionMatrix::new(&[1, 1, 1, 0, 0, 0, 0], &[1, 1, 0, 1, 0, 0, 0], 2).unwrap();
        assert_eq!(cm.rows(), vec![vec![3, 1], vec![1, 2]]);
        assert!((cm.accuracy() - 5.0 / 7.0).abs() < 1e-15);
        assert!((cm.sensitivity(1) - 2.0 / 3.0).abs() < 1e-15);
        assert!((cm.specificity(1) - 0.75).abs() < 1e-15);
        assert!((cm.precision(1) - 2.0 / 3.0).abs() < 1e-15);
        assert!((cm.npv(1) - 0.75).abs() < 1e-15);
        assert!((cm.balanced_accuracy() - (2.0 / 3.0 + 0.75) / 2.0).abs() < 1e-15);
        // MCC = (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (6 - 1) / sqrt(3*3*4*4)
        assert!((cm.mcc() - 5.0 / 12.0).abs() < 1e-15);
        assert_eq!(cm.sensitivity(0), cm.specificity(1));
    }

    #[test]
    fn constant_prediction_gives_zero_mcc_and_zero_division_zero() {
        let cm = ConfusionMatrix::new(&[0, 1, 1], &[0, 0, 0], 2).unwrap();
        assert_eq!(cm.mcc(), 0.0);
        assert_eq!(cm.precision(1), 0.0);
        assert_eq!(cm.f1(1), 0.0);
    }

    #[test]
    fn kappa_undefined_is_nan() {
        let cm = ConfusionMatrix::new(&[1, 1], &[1, 1], 2).unwrap();
        assert!(cm.cohen_kappa().is_nan());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(ConfusionMatrix::new(&[0, 2], &[0, 1], 2).is_err());
        assert!(ConfusionMatrix::new(&[0], &[0, 1], 2).is_err());
        assert!(ConfusionMatrix::new(&[], &[], 2).is_err());
    }
}
