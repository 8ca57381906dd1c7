//! The reports behind `medxfer stats auc | compare | metrics`: computed from label and score
//! arrays, serialised with the documented JSON keys, printed as readable tables.

use std::fmt;

use crate::EvalError;
use crate::auc::{MultiClassAuc, roc_auc, roc_auc_multiclass};
use crate::bootstrap::{BootstrapConfig, bootstrap_auc_ci};
use crate::calibration::{brier_score, expected_calibration_error};
use crate::classification::ClassificationMetrics;
use crate::confusion::ConfusionMatrix;
use crate::curves::average_precision;
use crate::delong::{AucComparison, delong_ci};
use crate::threshold::{ThresholdRule, choose_threshold, predict_at};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AucCiMethod {
    Delong,
    Bootstrap,
}

/// `stats auc`: `{"n_pos","n_neg","auc","variance","ci_low","ci_high","ci_level"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AucReport {
    pub n_pos: usize,
    pub n_neg: usize,
    pub auc: f64,
    /// DeLong variance, or the variance of the bootstrap replicates.
    pub variance: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub ci_level: f64,
    #[serde(skip)]
    pub ci_method: String,
}

/// AUC with a DeLong or stratified bootstrap CI (`bootstrap.level` is the CI level for both).
pub fn auc_report(
    is_positive: &[bool],
    scores: &[f64],
    method: AucCiMethod,
    bootstrap: &BootstrapConfig,
) -> Result<AucReport, EvalError> {
    let n_pos = is_positive.iter().filter(|&&p| p).count();
    let n_neg = is_positive.len() - n_pos;
    match method {
        AucCiMethod::Delong => {
            let ci = delong_ci(is_positive, scores, bootstrap.level)?;
            Ok(AucReport {
                n_pos,
                n_neg,
                auc: ci.auc,
                variance: ci.variance,
                ci_low: ci.ci_low,
                ci_high: ci.ci_high,
                ci_level: ci.ci_level,
                ci_method: "DeLong".into(),
            })
        }
        AucCiMethod::Bootstrap => {
            let ci = bootstrap_auc_ci(is_positive, scores, bootstrap)?;
            Ok(AucReport {
                n_pos,
                n_neg,
                auc: ci.estimate,
                variance: ci.variance,
                ci_low: ci.ci_low,
                ci_high: ci.ci_high,
                ci_level: ci.ci_level,
                ci_method: format!(
                    "stratified bootstrap, {:?}, {} resamples, seed {}",
                    bootstrap.method, bootstrap.n_resamples, bootstrap.seed
                )
                .to_lowercase(),
            })
        }
    }
}

impl fmt::Display for AucReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "positives {}   negatives {}", self.n_pos, self.n_neg)?;
        writeln!(f, "AUC       {:.4}", self.auc)?;
        writeln!(f, "variance  {:.6e}", self.variance)?;
        writeln!(
            f,
            "{:.0}% CI    [{:.4}, {:.4}]  ({})",
            self.ci_level * 100.0,
            self.ci_low,
            self.ci_high,
            self.ci_method
        )
    }
}

/// `stats compare`: `{"auc_a","auc_b","difference","z","p_value","ci_low","ci_high","method"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComparisonReport {
    pub auc_a: f64,
    pub auc_b: f64,
    pub difference: f64,
    pub z: f64,
    pub p_value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub method: String,
    #[serde(skip)]
    pub ci_level: f64,
}

impl From<AucComparison> for ComparisonReport {
    fn from(c: AucComparison) -> Self {
        ComparisonReport {
            auc_a: c.auc_a,
            auc_b: c.auc_b,
            difference: c.difference,
            z: c.z,
            p_value: c.p_value,
            ci_low: c.ci_low,
            ci_high: c.ci_high,
            method: c.method,
            ci_level: c.ci_level,
        }
    }
}

impl fmt::Display for ComparisonReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.method)?;
        writeln!(f, "AUC a       {:.4}", self.auc_a)?;
        writeln!(f, "AUC b       {:.4}", self.auc_b)?;
        writeln!(
            f,
            "difference  {:.4}  {:.0}% CI [{:.4}, {:.4}]",
            self.difference,
            self.ci_level * 100.0,
            self.ci_low,
            self.ci_high
        )?;
        writeln!(f, "Z           {:.4}", self.z)?;
        writeln!(f, "p (2-sided) {:.4e}", self.p_value)
    }
}

/// `stats metrics --score COL --positive VALUE`: ranking, calibration and thresholded metrics
/// of one binary score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BinaryScoreReport {
    pub threshold_rule: ThresholdRule,
    pub threshold: f64,
    pub auc: f64,
    /// DeLong CI; None with fewer than two cases in a class.
    pub auc_ci_low: Option<f64>,
    pub auc_ci_high: Option<f64>,
    pub average_precision: f64,
    /// Only when every score is a probability in [0, 1].
    pub brier: Option<f64>,
    /// Ten equal-width bins; only for probabilities.
    pub expected_calibration_error: Option<f64>,
    #[serde(flatten)]
    pub classification: ClassificationMetrics,
}

impl BinaryScoreReport {
    /// `class_names` = [negative name, positive name].
    pub fn compute(
        is_positive: &[bool],
        scores: &[f64],
        rule: ThresholdRule,
        class_names: &[String; 2],
    ) -> Result<Self, EvalError> {
        let auc = roc_auc(is_positive, scores)?;
        let ci = delong_ci(is_positive, scores, 0.95).ok();
        let threshold = choose_threshold(is_positive, scores, rule)?;
        let predicted = predict_at(scores, threshold);
        let cm = ConfusionMatrix::from_binary(is_positive, &predicted)?;
        let probabilities = scores.iter().all(|s| (0.0..=1.0).contains(s));
        Ok(BinaryScoreReport {
            threshold_rule: rule,
            threshold,
            auc,
            auc_ci_low: ci.as_ref().map(|c| c.ci_low),
            auc_ci_high: ci.as_ref().map(|c| c.ci_high),
            average_precision: average_precision(is_positive, scores)?,
            brier: probabilities
                .then(|| brier_score(is_positive, scores))
                .transpose()?,
            expected_calibration_error: probabilities
                .then(|| expected_calibration_error(is_positive, scores, 10))
                .transpose()?,
            classification: ClassificationMetrics::from_confusion(&cm, class_names),
        })
    }
}

fn optional(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.4}"))
}

impl fmt::Display for BinaryScoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ci = match (self.auc_ci_low, self.auc_ci_high) {
            (Some(lo), Some(hi)) => format!("  95% CI [{lo:.4}, {hi:.4}] (DeLong)"),
            _ => String::new(),
        };
        writeln!(f, "AUC {:.4}{ci}", self.auc)?;
        writeln!(
            f,
            "average precision {:.4}   Brier {}   ECE (10 bins) {}",
            self.average_precision,
            optional(self.brier),
            optional(self.expected_calibration_error)
        )?;
        writeln!(
            f,
            "threshold {} ({:?}): positive when score >= threshold",
            self.threshold, self.threshold_rule
        )?;
        write!(f, "{}", self.classification)
    }
}

/// `stats metrics --score A --score B ...`: one score column per class, prediction = argmax.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MultiClassScoreReport {
    pub auc_ovr_macro: Option<f64>,
    pub auc_ovr_weighted: Option<f64>,
    pub auc_ovo_macro: Option<f64>,
    pub auc_ovo_weighted: Option<f64>,
    #[serde(flatten)]
    pub classification: ClassificationMetrics,
}

impl MultiClassScoreReport {
    /// `scores` row-major n x k; AUCs are None when some class is absent.
    pub fn compute(
        labels: &[usize],
        scores: &[f64],
        class_names: &[String],
    ) -> Result<Self, EvalError> {
        let k = class_names.len();
        let predicted: Vec<usize> = scores
            .chunks(k)
            .map(|row| {
                let mut best = 0;
                for (c, &s) in row.iter().enumerate() {
                    if s > row[best] {
                        best = c;
                    }
                }
                best
            })
            .collect();
        let cm = ConfusionMatrix::new(labels, &predicted, k)?;
        let auc = |mode| roc_auc_multiclass(labels, scores, k, mode).ok();
        Ok(MultiClassScoreReport {
            auc_ovr_macro: auc(MultiClassAuc::OvrMacro),
            auc_ovr_weighted: auc(MultiClassAuc::OvrWeighted),
            auc_ovo_macro: auc(MultiClassAuc::OvoMacro),
            auc_ovo_weighted: auc(MultiClassAuc::OvoWeighted),
            classification: ClassificationMetrics::from_confusion(&cm, class_names),
        })
    }
}

impl fmt::Display for MultiClassScoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "AUC one-vs-rest macro {}  weighted {}   one-vs-one macro {}  weighted {}",
            optional(self.auc_ovr_macro),
            optional(self.auc_ovr_weighted),
            optional(self.auc_ovo_macro),
            optional(self.auc_ovo_weighted)
        )?;
        writeln!(f, "prediction: the class with the highest score")?;
        write!(f, "{}", self.classification)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::CiMethod;

    #[test]
    fn auc_report_keys_and_methods() {
        let y = [true, false, true, false, true, false, false];
        let s = [0.9, 0.1, 0.6, 0.7, 0.8, 0.3, 0.2];
        let delong = auc_report(&y, &s, AucCiMethod::Delong, &BootstrapConfig::default()).unwrap();
        let json = serde_json::to_value(&delong).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "auc", "ci_high", "ci_level", "ci_low", "n_neg", "n_pos", "variance"
            ]
        );
        let config = BootstrapConfig {
            n_resamples: 500,
            method: CiMethod::Bca,
            ..Default::default()
        };
        let boot = auc_report(&y, &s, AucCiMethod::Bootstrap, &config).unwrap();
        assert_eq!(boot.auc, delong.auc);
        assert!(boot.variance > 0.0 && boot.ci_low <= boot.auc && boot.auc <= boot.ci_high);
        assert!(delong.to_string().contains("DeLong"));
    }

    #[test]
    fn binary_and_multiclass_reports() {
        let y = [true, false, true, false, true, false];
        let s = [0.9, 0.1, 0.6, 0.7, 0.4, 0.3];
        let names = ["benign".to_string(), "malignant".to_string()];
        let r = BinaryScoreReport::compute(&y, &s, ThresholdRule::Fixed(0.5), &names).unwrap();
        assert_eq!(
            r.classification.confusion_matrix,
            vec![vec![2, 1], vec![1, 2]]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert!(
            json.get("mcc").is_some() && json.get("auc").is_some() && json.get("brier").is_some()
        );
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let m = MultiClassScoreReport::compute(
            &[0, 1, 2],
            &[0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.3, 0.3, 0.4],
            &names,
        )
        .unwrap();
        assert_eq!(m.classification.accuracy, 1.0);
        assert_eq!(m.auc_ovr_macro, Some(1.0));
    }
}
