//! A study's table: AUC per condition with its DeLong 95% CI, and the paired DeLong test of
//! each condition against the unperturbed images (same images, same models), written as CSV
//! and JSON.

use std::path::Path;

use medxfer_eval::delong::{delong_ci, delong_paired};

use crate::RobustnessError;
use crate::study::{StudyScores, StudySettings};
use crate::suite::{Perturbation, Suite};

/// Confidence level of every interval in the table.
pub const LEVEL: f64 = 0.95;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConditionAuc {
    pub perturbation: &'static str,
    pub level: usize,
    pub parameter: f64,
    pub auc: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// AUC under the condition minus the unperturbed AUC, with its paired DeLong CI.
    pub difference: f64,
    pub difference_ci_low: f64,
    pub difference_ci_high: f64,
    /// Paired DeLong p against the unperturbed images; None for the unperturbed row itself.
    pub p_value: Option<f64>,
}

/// Everything `robustness_<suite>.json` holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RobustnessReport {
    pub run_dir: String,
    pub suite: Suite,
    pub seed: u64,
    /// Bbox suite only: context around the box, as a fraction of its side.
    pub margin: Option<f64>,
    pub positive_class: String,
    pub images: usize,
    pub positives: usize,
    pub negatives: usize,
    pub fold_models: usize,
    /// Largest |difference| between the unperturbed scores recomputed here and those in the
    /// run's predictions.csv (0 up to float rounding when nothing changed since training).
    pub largest_gap_from_recorded: f64,
    pub conditions: Vec<ConditionAuc>,
}

impl RobustnessReport {
    pub fn new(
        run_dir: &Path,
        settings: &StudySettings,
        scores: &StudyScores,
    ) -> Result<Self, RobustnessError> {
        let positives = scores.is_positive.iter().filter(|&&p| p).count();
        Ok(RobustnessReport {
            run_dir: run_dir.display().to_string(),
            suite: settings.suite,
            seed: settings.seed,
            margin: (settings.suite == Suite::Bbox).then_some(settings.margin),
            positive_class: scores.positive_class.clone(),
            images: scores.is_positive.len(),
            positives,
            negatives: scores.is_positive.len() - positives,
            fold_models: scores.models,
            largest_gap_from_recorded: scores.largest_gap_from_recorded(),
            conditions: score_conditions(scores)?,
        })
    }

    pub fn to_csv(&self) -> String {
        let mut csv = String::from(
            "perturbation,level,parameter,auc,ci_low,ci_high,difference,difference_ci_low,difference_ci_high,p_value\n",
        );
        for r in &self.conditions {
            let p = r.p_value.map_or(String::new(), |p| format!("{p:.6e}"));
            csv.push_str(&format!(
                "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{p}\n",
                r.perturbation,
                r.level,
                r.parameter,
                r.auc,
                r.ci_low,
                r.ci_high,
                r.difference,
                r.difference_ci_low,
                r.difference_ci_high
            ));
        }
        csv
    }

    /// `robustness_<suite>.csv`, `.json` and `_scores.csv` in `dir`, written atomically.
    pub fn write(&self, dir: &Path, scores: &StudyScores) -> Result<(), RobustnessError> {
        let stem = format!("robustness_{}", self.suite.name());
        let json = serde_json::to_string_pretty(self).map_err(|e| RobustnessError::Output {
            path: dir.join(format!("{stem}.json")),
            message: e.to_string(),
        })?;
        let files = [
            (format!("{stem}.csv"), self.to_csv()),
            (format!("{stem}.json"), json),
            (format!("{stem}_scores.csv"), scores_csv(scores)),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            medxfer_atomic::write_atomic(&path, text.as_bytes())
                .map_err(|e| RobustnessError::io(&path, e))?;
        }
        Ok(())
    }
}

/// Every image's positive-class probability under every condition (`robustness_<suite>_scores.csv`):
/// `image_id`, `positive` (1 or 0), then a column `<perturbation>@<level>` per condition, so a
/// study can be re-analysed without running the models again.
pub fn scores_csv(scores: &StudyScores) -> String {
    let mut csv = String::from("image_id,positive");
    for c in &scores.conditions {
        csv.push_str(&format!(",{}@{}", c.perturbation.name(), c.level));
    }
    csv.push('\n');
    for (i, id) in scores.image_ids.iter().enumerate() {
        csv.push_str(&format!(
            "\"{}\",{}",
            id.replace('"', "\"\""),
            u8::from(scores.is_positive[i])
        ));
        for column in &scores.scores {
            csv.push_str(&format!(",{:.9}", column[i]));
        }
        csv.push('\n');
    }
    csv
}

/// AUC with DeLong CI per condition and the paired DeLong comparison with condition 0 (the
/// unperturbed images).
pub fn score_conditions(scores: &StudyScores) -> Result<Vec<ConditionAuc>, RobustnessError> {
    let reference = &scores.scores[0];
    let mut rows = Vec::with_capacity(scores.conditions.len());
    for (condition, values) in scores.conditions.iter().zip(&scores.scores) {
        let ci = delong_ci(&scores.is_positive, values, LEVEL)?;
        let unperturbed = condition.perturbation == Perturbation::None;
        let paired = delong_paired(&scores.is_positive, values, reference, LEVEL)?;
        rows.push(ConditionAuc {
            perturbation: condition.perturbation.name(),
            level: condition.level,
            parameter: condition.parameter,
            auc: ci.auc,
            ci_low: ci.ci_low,
            ci_high: ci.ci_high,
            difference: paired.difference,
            difference_ci_low: paired.ci_low,
            difference_ci_high: paired.ci_high,
            p_value: (!unperturbed).then_some(paired.p_value),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::conditions;

    /// The unperturbed row has no test; a condition with identical scores has difference 0
    /// and p = 1; a condition with the scores reversed loses AUC with a small p; every value
    /// agrees with medxfer-eval's DeLong functions called directly.
    #[test]
    fn each_condition_is_compared_with_the_unperturbed_images() {
        let is_positive = vec![true, true, true, true, false, false, false, false];
        let good = vec![0.9, 0.8, 0.7, 0.65, 0.3, 0.2, 0.1, 0.68];
        let reversed: Vec<f64> = good.iter().map(|s| 1.0 - s).collect();
        let mut conditions = conditions(Suite::Bbox, &[]);
        conditions.truncate(3);
        let scores = StudyScores {
            conditions,
            image_ids: (0..8).map(|i| i.to_string()).collect(),
            is_positive: is_positive.clone(),
            scores: vec![good.clone(), good.clone(), reversed.clone()],
            recorded: good.clone(),
            models: 2,
            positive_class: "malignant".into(),
        };
        let rows = score_conditions(&scores).unwrap();
        assert_eq!(rows[0].p_value, None);
        assert_eq!(rows[1].p_value, Some(1.0));
        assert_eq!(rows[1].difference, 0.0);
        let expected = delong_paired(&is_positive, &reversed, &good, LEVEL).unwrap();
        assert_eq!(rows[2].p_value, Some(expected.p_value));
        assert!(
            rows[2].difference < -0.5 && expected.p_value < 0.05,
            "{:?}",
            rows[2]
        );
        let ci = delong_ci(&is_positive, &good, LEVEL).unwrap();
        assert_eq!(
            (rows[0].auc, rows[0].ci_low, rows[0].ci_high),
            (ci.auc, ci.ci_low, ci.ci_high)
        );
        // 15 of 16 pairs ordered: AUC 0.9375.
        assert!((rows[0].auc - 0.9375).abs() < 1e-12);
        assert_eq!(scores.largest_gap_from_recorded(), 0.0);
        let csv = scores_csv(&scores);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "image_id,positive,none@0,bbox_crop@0,bbox_crop@1");
        assert_eq!(lines[1], "\"0\",1,0.900000000,0.900000000,0.100000000");
        assert_eq!(lines.len(), 9);
    }
}
