//! Metrics of a run folder: per fold, mean +- sd across folds, and pooled over all test rows
//! with confidence intervals. `medxfer evaluate` and the end of `medxfer train` both call
//! [`evaluate_run`].
//!
//! Decisions: with a positive class the prediction is positive when its probability is >= 0.5;
//! otherwise the class with the highest score (the first one on ties). Pooled CIs: DeLong for
//! the binary AUC; a stratified (by true class) percentile bootstrap, 2,000 resamples, seed 0,
//! for the multi-class AUC, balanced accuracy and MCC.
//!
//! What is pooled: in a cross-validated run every image is a test image of exactly one fold,
//! so the pooled rows are the out-of-fold predictions. In an external validation
//! (`medxfer validate`) every fold model scores every image; pooling those rows would count
//! each image once per model and make every CI too narrow, so the pooled metrics are those of
//! the fold ensemble instead: per image, the mean of the models' probabilities.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::EvalError;
use crate::atomic_write::write_json_atomic;
use crate::auc::{roc_auc, roc_auc_ovr_macro};
use crate::bootstrap::{BootstrapConfig, CiMethod, stratified_bootstrap_ci};
use crate::classification::ClassificationMetrics;
use crate::confusion::ConfusionMatrix;
use crate::delong::delong_ci;
use crate::predictions::{PredictionRow, Predictions, Split, TaskInfo, TaskKind};
pub use crate::report_breakdown::{Breakdown, GroupBy, GroupMetrics};
use crate::report_breakdown::{group_metrics, write_groups};
pub use crate::report_calibration::{
    CALIBRATION_BINS, Calibration, FoldTemperature, TemperatureScaled,
};
use crate::report_calibration::{calibration, temperature_scaled};

// The run folder's file names, defined once in medxfer-atomic.
pub const PREDICTIONS_FILE: &str = medxfer_atomic::run_files::PREDICTIONS;
pub const TASK_FILE: &str = medxfer_atomic::run_files::TASK;
pub const METRICS_FILE: &str = medxfer_atomic::run_files::METRICS;
pub(crate) const CI_LEVEL: f64 = 0.95;
const BOOTSTRAP: BootstrapConfig = BootstrapConfig {
    n_resamples: 2000,
    level: CI_LEVEL,
    seed: 0,
    method: CiMethod::Percentile,
};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    pub level: f64,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FoldMetrics {
    pub fold: usize,
    pub n: usize,
    /// Binary AUC, or one-vs-rest macro AUC for multi-class; None when a class is missing.
    pub auc: Option<f64>,
    pub classification: ClassificationMetrics,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanSd {
    pub mean: f64,
    /// Sample standard deviation (n - 1); None with a single fold.
    pub sd: Option<f64>,
    pub n_folds: usize,
}

impl MeanSd {
    /// Mean and sample sd of `values`; None when empty.
    pub fn of(values: &[f64]) -> Option<MeanSd> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.len() > 1)
            .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
        Some(MeanSd {
            mean,
            sd,
            n_folds: values.len(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AcrossFolds {
    pub auc: Option<MeanSd>,
    pub accuracy: Option<MeanSd>,
    pub balanced_accuracy: Option<MeanSd>,
    pub f1_macro: Option<MeanSd>,
    pub f1_weighted: Option<MeanSd>,
    pub mcc: Option<MeanSd>,
}

/// Which rows the pooled metrics are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PooledOver {
    /// Each image is a test image of one fold: its out-of-fold prediction.
    #[default]
    OutOfFold,
    /// Each image was scored by every one of `models` fold models: their mean probability.
    FoldEnsemble { models: usize },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PooledMetrics {
    #[serde(default)]
    pub over: PooledOver,
    /// Images (fold ensemble) or test rows (out of fold).
    pub n: usize,
    pub auc: Option<f64>,
    pub auc_ci: Option<Interval>,
    /// DeLong variance of the binary AUC.
    pub auc_variance: Option<f64>,
    pub balanced_accuracy_ci: Option<Interval>,
    pub mcc_ci: Option<Interval>,
    #[serde(default)]
    pub calibration: Option<Calibration>,
    #[serde(default)]
    pub temperature_scaled: Option<TemperatureScaled>,
    pub classification: ClassificationMetrics,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunMetrics {
    pub class_names: Vec<String>,
    pub positive_class: Option<String>,
    pub decision_rule: String,
    pub folds: Vec<FoldMetrics>,
    pub across_folds: AcrossFolds,
    pub pooled: PooledMetrics,
    /// The pooled rows per source and per centre (when the predictions name them).
    #[serde(default)]
    pub breakdown: Breakdown,
}

impl RunMetrics {
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        write_json_atomic(path, self)
    }
}

/// Reads `task.json` and `predictions.csv` in `run_dir`, computes the metrics of the `test`
/// rows and writes `metrics.json` there atomically.
pub fn evaluate_run(run_dir: &Path) -> Result<RunMetrics, EvalError> {
    let task_path = run_dir.join(TASK_FILE);
    let predictions_path = run_dir.join(PREDICTIONS_FILE);
    let task = TaskInfo::read_json(&task_path)?;
    if task.task != TaskKind::Classification {
        return Err(EvalError::bad_file(
            &task_path,
            format!(
                "this is a {} run; evaluate it with segmentation_run::evaluate_segmentation_run",
                task.task
            ),
        ));
    }
    let predictions = Predictions::read_csv(&predictions_path)?;
    if predictions.class_names != task.class_names {
        return Err(EvalError::bad_file(
            &predictions_path,
            format!(
                "score columns' classes {:?} differ from class_names {:?} in {}",
                predictions.class_names,
                task.class_names,
                task_path.display()
            ),
        ));
    }
    let fit = match training_run_of_external(run_dir) {
        Some(training_run) => Predictions::read_csv(&training_run.join(PREDICTIONS_FILE))?,
        None => predictions.clone(),
    };
    let metrics = compute_run_metrics_fitted_on(&predictions, &task, &fit)
        .map_err(|e| EvalError::bad_file(&predictions_path, e.to_string()))?;
    metrics.write_json(&run_dir.join(METRICS_FILE))?;
    Ok(metrics)
}

/// For an external validation's folder (`medxfer validate`), the training run it validated,
/// whose validation rows the temperatures are fitted on; None for a run folder, or when the
/// training run is no longer where `external.json` says (then its own rows have no
/// validation split and no temperature is fitted).
fn training_run_of_external(dir: &Path) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(dir.join(medxfer_atomic::run_files::EXTERNAL)).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    let run_dir = std::path::PathBuf::from(record.get("run_dir")?.as_str()?);
    run_dir.join(PREDICTIONS_FILE).is_file().then_some(run_dir)
}

/// A binary run's positive class is predicted when its probability reaches this.
pub const POSITIVE_THRESHOLD: f64 = 0.5;

/// The class each test row is predicted as.
fn decide(row: &PredictionRow, positive: Option<usize>) -> usize {
    decide_class(&row.scores, positive)
}

/// A run's decision on one image's class scores: with a positive class (binary runs) it is
/// predicted when its probability is >= [`POSITIVE_THRESHOLD`]; otherwise the class with the
/// highest score (the first one on ties). Serving uses the same rule as the run's metrics.
pub fn decide_class(scores: &[f64], positive: Option<usize>) -> usize {
    match positive {
        Some(p) if scores.len() == 2 => {
            if scores[p] >= POSITIVE_THRESHOLD {
                p
            } else {
                1 - p
            }
        }
        _ => {
            let mut best = 0;
            for (k, &s) in scores.iter().enumerate() {
                if s > scores[best] {
                    best = k;
                }
            }
            best
        }
    }
}

/// Test rows as class indices, decisions and a score matrix: what every metric of a set of
/// rows is computed from (here and in `run_comparison`).
pub(crate) struct Cases {
    pub(crate) labels: Vec<usize>,
    pub(crate) predicted: Vec<usize>,
    /// Row-major n x k.
    pub(crate) scores: Vec<f64>,
}

impl Cases {
    /// `class_names` in score order; row labels were validated against them when read.
    pub(crate) fn new(
        rows: &[&PredictionRow],
        class_names: &[String],
        positive: Option<usize>,
    ) -> Self {
        let mut cases = Cases {
            labels: Vec::with_capacity(rows.len()),
            predicted: Vec::with_capacity(rows.len()),
            scores: Vec::with_capacity(rows.len() * class_names.len()),
        };
        for row in rows {
            // Labels were validated against the class names when the file was read.
            cases.labels.push(
                class_names
                    .iter()
                    .position(|c| *c == row.label)
                    .unwrap_or(0),
            );
            cases.predicted.push(decide(row, positive));
            cases.scores.extend_from_slice(&row.scores);
        }
        cases
    }

    pub(crate) fn positive_flags_and_scores(
        &self,
        positive: usize,
        k: usize,
    ) -> (Vec<bool>, Vec<f64>) {
        let flags = self.labels.iter().map(|&l| l == positive).collect();
        let scores = self.scores.chunks(k).map(|s| s[positive]).collect();
        (flags, scores)
    }

    pub(crate) fn auc(&self, positive: Option<usize>, k: usize) -> Option<f64> {
        match positive {
            Some(p) if k == 2 => {
                let (flags, scores) = self.positive_flags_and_scores(p, k);
                roc_auc(&flags, &scores).ok()
            }
            _ => roc_auc_ovr_macro(&self.labels, &self.scores, k).ok(),
        }
    }
}

pub(crate) fn interval(low: f64, high: f64, method: &str) -> Interval {
    Interval {
        low,
        high,
        level: CI_LEVEL,
        method: method.to_string(),
    }
}

/// The metrics of the test rows of `predictions`; temperatures are fitted on its own
/// validation rows.
pub fn compute_run_metrics(
    predictions: &Predictions,
    task: &TaskInfo,
) -> Result<RunMetrics, EvalError> {
    compute_run_metrics_fitted_on(predictions, task, predictions)
}

/// The metrics of the test rows of `predictions`, with each fold model's temperature fitted
/// on the validation rows of `fit` (the training run's predictions, for an external
/// validation).
pub fn compute_run_metrics_fitted_on(
    predictions: &Predictions,
    task: &TaskInfo,
    fit: &Predictions,
) -> Result<RunMetrics, EvalError> {
    predictions.validate()?;
    let k = predictions.class_names.len();
    let positive = task.positive_index().filter(|_| k == 2);
    let test_rows: Vec<&PredictionRow> = predictions
        .rows
        .iter()
        .filter(|r| r.split == Split::Test)
        .collect();
    if test_rows.is_empty() {
        return Err(EvalError::InvalidArgument(
            "no rows with split = test".into(),
        ));
    }
    let mut by_fold: BTreeMap<usize, Vec<&PredictionRow>> = BTreeMap::new();
    for row in &test_rows {
        by_fold.entry(row.fold).or_default().push(row);
    }
    let mut folds = Vec::with_capacity(by_fold.len());
    for (&fold, rows) in &by_fold {
        let cases = Cases::new(rows, &predictions.class_names, positive);
        let cm = ConfusionMatrix::new(&cases.labels, &cases.predicted, k)?;
        folds.push(FoldMetrics {
            fold,
            n: rows.len(),
            auc: cases.auc(positive, k),
            classification: ClassificationMetrics::from_confusion(&cm, &predictions.class_names),
        });
    }
    let collect = |get: fn(&FoldMetrics) -> Option<f64>| {
        MeanSd::of(&folds.iter().filter_map(get).collect::<Vec<f64>>())
    };
    let across_folds = AcrossFolds {
        auc: collect(|f| f.auc),
        accuracy: collect(|f| Some(f.classification.accuracy)),
        balanced_accuracy: collect(|f| Some(f.classification.balanced_accuracy)),
        f1_macro: collect(|f| Some(f.classification.f1_macro)),
        f1_weighted: collect(|f| Some(f.classification.f1_weighted)),
        mcc: collect(|f| Some(f.classification.mcc)),
    };
    let (pooled_rows, over) = rows_to_pool(&test_rows)?;
    let pooled_refs: Vec<&PredictionRow> = pooled_rows.iter().collect();
    let mut pooled = pooled_metrics(
        &Cases::new(&pooled_refs, &predictions.class_names, positive),
        positive,
        k,
        &predictions.class_names,
    )?;
    pooled.over = over;
    if let Some(p) = positive {
        pooled.temperature_scaled = temperature_scaled(&test_rows, fit, p, k)?;
    }
    let breakdown = Breakdown {
        per_source: group_metrics(
            &pooled_rows,
            GroupBy::Source,
            &predictions.class_names,
            positive,
        )?,
        per_center: group_metrics(
            &pooled_rows,
            GroupBy::Center,
            &predictions.class_names,
            positive,
        )?,
    };
    let decision_rule = match positive {
        Some(p) => format!(
            "{} if its probability >= {POSITIVE_THRESHOLD}",
            predictions.class_names[p]
        ),
        None => "class with the highest score".to_string(),
    };
    Ok(RunMetrics {
        class_names: predictions.class_names.clone(),
        positive_class: positive.map(|p| predictions.class_names[p].clone()),
        decision_rule,
        folds,
        across_folds,
        pooled,
        breakdown,
    })
}

/// The rows the pooled metrics are computed from (see the module doc), and which kind they are.
pub(crate) fn rows_to_pool(
    test_rows: &[&PredictionRow],
) -> Result<(Vec<PredictionRow>, PooledOver), EvalError> {
    let mut order: Vec<&str> = Vec::new();
    let mut rows_of: std::collections::HashMap<&str, Vec<&PredictionRow>> =
        std::collections::HashMap::new();
    for row in test_rows {
        let rows = rows_of.entry(&row.image_id).or_default();
        if rows.is_empty() {
            order.push(&row.image_id);
        }
        rows.push(row);
    }
    if order.len() == test_rows.len() {
        return Ok((
            test_rows.iter().map(|&r| r.clone()).collect(),
            PooledOver::OutOfFold,
        ));
    }
    let models: std::collections::BTreeSet<usize> = test_rows.iter().map(|r| r.fold).collect();
    let mut ensemble = Vec::with_capacity(order.len());
    for id in order {
        let rows = &rows_of[id];
        let folds: std::collections::BTreeSet<usize> = rows.iter().map(|r| r.fold).collect();
        if rows.len() != models.len() || folds != models {
            return Err(EvalError::InvalidArgument(format!(
                "test image {id} was scored by folds {folds:?} but the file has folds {models:?}: \
                 a cross-validation scores each image in one fold, an external validation in every fold"
            )));
        }
        if let Some(other) = rows.iter().find(|r| r.label != rows[0].label) {
            return Err(EvalError::InvalidArgument(format!(
                "test image {id} has label {:?} in fold {} but {:?} in fold {}",
                rows[0].label, rows[0].fold, other.label, other.fold
            )));
        }
        let mut scores = vec![0.0; rows[0].scores.len()];
        for row in rows {
            for (sum, s) in scores.iter_mut().zip(&row.scores) {
                *sum += s / rows.len() as f64;
            }
        }
        ensemble.push(PredictionRow {
            scores,
            ..rows[0].clone()
        });
    }
    Ok((
        ensemble,
        PooledOver::FoldEnsemble {
            models: models.len(),
        },
    ))
}

fn pooled_metrics(
    cases: &Cases,
    positive: Option<usize>,
    k: usize,
    class_names: &[String],
) -> Result<PooledMetrics, EvalError> {
    let cm = ConfusionMatrix::new(&cases.labels, &cases.predicted, k)?;
    let (auc, auc_ci, auc_variance) = match positive {
        Some(p) => {
            let (flags, scores) = cases.positive_flags_and_scores(p, k);
            match delong_ci(&flags, &scores, CI_LEVEL) {
                Ok(ci) => (
                    Some(ci.auc),
                    Some(interval(ci.ci_low, ci.ci_high, "DeLong")),
                    Some(ci.variance),
                ),
                Err(_) => (roc_auc(&flags, &scores).ok(), None, None),
            }
        }
        None => match roc_auc_ovr_macro(&cases.labels, &cases.scores, k) {
            Ok(auc) => {
                let ci = stratified_bootstrap_ci(&cases.labels, &BOOTSTRAP, |idx| {
                    let labels: Vec<usize> = idx.iter().map(|&i| cases.labels[i]).collect();
                    let scores: Vec<f64> = idx
                        .iter()
                        .flat_map(|&i| cases.scores[i * k..(i + 1) * k].iter().copied())
                        .collect();
                    roc_auc_ovr_macro(&labels, &scores, k)
                })
                .ok();
                (
                    Some(auc),
                    ci.map(|c| interval(c.ci_low, c.ci_high, "stratified bootstrap percentile")),
                    None,
                )
            }
            Err(_) => (None, None, None),
        },
    };
    let confusion_ci = |metric: fn(&ConfusionMatrix) -> f64| {
        stratified_bootstrap_ci(&cases.labels, &BOOTSTRAP, |idx| {
            let t: Vec<usize> = idx.iter().map(|&i| cases.labels[i]).collect();
            let p: Vec<usize> = idx.iter().map(|&i| cases.predicted[i]).collect();
            Ok(metric(&ConfusionMatrix::new(&t, &p, k)?))
        })
        .ok()
        .map(|c| interval(c.ci_low, c.ci_high, "stratified bootstrap percentile"))
    };
    Ok(PooledMetrics {
        over: PooledOver::OutOfFold,
        n: cases.labels.len(),
        auc,
        auc_ci,
        auc_variance,
        balanced_accuracy_ci: confusion_ci(ConfusionMatrix::balanced_accuracy),
        mcc_ci: confusion_ci(ConfusionMatrix::mcc),
        calibration: positive.and_then(|p| calibration(cases, p, k)),
        temperature_scaled: None,
        classification: ClassificationMetrics::from_confusion(&cm, class_names),
    })
}

pub(crate) fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"))
}

fn mean_sd(m: &Option<MeanSd>) -> String {
    match m {
        Some(MeanSd {
            mean, sd: Some(sd), ..
        }) => format!("{mean:.3} +- {sd:.3}"),
        Some(MeanSd { mean, sd: None, .. }) => format!("{mean:.3}"),
        None => "-".to_string(),
    }
}

pub(crate) fn with_ci(value: Option<f64>, ci: &Option<Interval>) -> String {
    match ci {
        Some(i) => format!("{} [{:.3}, {:.3}]", opt(value), i.low, i.high),
        None => opt(value),
    }
}

impl fmt::Display for RunMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "classes: {}   positive: {}   decision: {}",
            self.class_names.join(", "),
            self.positive_class.as_deref().unwrap_or("-"),
            self.decision_rule
        )?;
        writeln!(
            f,
            "{:<14} {:>6} {:>8} {:>9} {:>8} {:>9} {:>9}",
            "fold", "n", "AUC", "bal.acc", "MCC", "F1 macro", "accuracy"
        )?;
        for fold in &self.folds {
            let c = &fold.classification;
            writeln!(
                f,
                "{:<14} {:>6} {:>8} {:>9.3} {:>8.3} {:>9.3} {:>9.3}",
                fold.fold,
                fold.n,
                opt(fold.auc),
                c.balanced_accuracy,
                c.mcc,
                c.f1_macro,
                c.accuracy
            )?;
        }
        let a = &self.across_folds;
        writeln!(f, "mean +- sd across {} fold(s):", self.folds.len())?;
        writeln!(
            f,
            "  AUC {}   balanced accuracy {}   MCC {}",
            mean_sd(&a.auc),
            mean_sd(&a.balanced_accuracy),
            mean_sd(&a.mcc)
        )?;
        writeln!(
            f,
            "  F1 macro {}   F1 weighted {}   accuracy {}",
            mean_sd(&a.f1_macro),
            mean_sd(&a.f1_weighted),
            mean_sd(&a.accuracy)
        )?;
        let p = &self.pooled;
        let c = &p.classification;
        match p.over {
            PooledOver::OutOfFold => writeln!(f, "pooled over {} test rows (95% CI):", p.n)?,
            PooledOver::FoldEnsemble { models } => writeln!(
                f,
                "fold ensemble (mean probability of {models} models) on {} images (95% CI):",
                p.n
            )?,
        }
        writeln!(f, "  AUC {}", with_ci(p.auc, &p.auc_ci))?;
        writeln!(
            f,
            "  balanced accuracy {}",
            with_ci(Some(c.balanced_accuracy), &p.balanced_accuracy_ci)
        )?;
        writeln!(f, "  MCC {}", with_ci(Some(c.mcc), &p.mcc_ci))?;
        writeln!(
            f,
            "  F1 macro {:.3}   F1 weighted {:.3}   accuracy {:.3}   kappa {}",
            c.f1_macro,
            c.f1_weighted,
            c.accuracy,
            opt(Some(c.cohen_kappa).filter(|k| k.is_finite()))
        )?;
        if let Some(cal) = &p.calibration {
            writeln!(
                f,
                "  calibration: Brier {:.3}   ECE {:.3} ({CALIBRATION_BINS} bins)",
                cal.brier, cal.ece
            )?;
        }
        if let Some(scaled) = &p.temperature_scaled {
            let temperatures: Vec<String> = scaled
                .temperatures
                .iter()
                .map(|t| format!("{:.2}", t.temperature))
                .collect();
            writeln!(
                f,
                "  after temperature scaling (T per fold {}, fitted on validation rows): Brier {:.3}   ECE {:.3}",
                temperatures.join(" / "),
                scaled.calibration.brier,
                scaled.calibration.ece
            )?;
        }
        writeln!(
            f,
            "  {:<16} {:>7} {:>11} {:>11} {:>9} {:>7} {:>7}",
            "class", "support", "sensitivity", "specificity", "precision", "NPV", "F1"
        )?;
        for m in &c.per_class {
            writeln!(
                f,
                "  {:<16} {:>7} {:>11.3} {:>11.3} {:>9.3} {:>7.3} {:>7.3}",
                m.class, m.support, m.sensitivity, m.specificity, m.precision, m.npv, m.f1
            )?;
        }
        for (heading, groups) in [
            ("source", &self.breakdown.per_source),
            ("centre", &self.breakdown.per_center),
        ] {
            write_groups(f, heading, groups)?;
        }
        writeln!(f, "  confusion matrix (rows = truth, columns = predicted):")?;
        let width = self
            .class_names
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(1)
            .max(6);
        write!(f, "  {:<width$}", "")?;
        for name in &self.class_names {
            write!(f, " {name:>width$}")?;
        }
        writeln!(f)?;
        for (name, row) in self.class_names.iter().zip(&c.confusion_matrix) {
            write!(f, "  {name:<width$}")?;
            for v in row {
                write!(f, " {v:>width$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
