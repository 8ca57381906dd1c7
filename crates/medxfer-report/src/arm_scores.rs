//! The per-fold test scores of one arm of a study, read from what medxfer already wrote: a
//! `medxfer train` run folder (its `metrics.json`, of a classification or a segmentation run)
//! or a `medxfer ssl-eval --out` JSON (its linear-probe or k-NN scores). Only the fields a table needs are read, so newer files with
//! more fields still load.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ReportError;

/// A per-fold score a study table can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Auc,
    Accuracy,
    BalancedAccuracy,
    Mcc,
    F1Weighted,
    F1Macro,
    // Segmentation runs: per-fold means over the fold's test images.
    Dice,
    Iou,
    PixelAccuracy,
    Precision,
    Recall,
    Hd95,
    Assd,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Metric::Auc,
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::Mcc,
        Metric::F1Weighted,
        Metric::F1Macro,
        Metric::Dice,
        Metric::Iou,
        Metric::PixelAccuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::Hd95,
        Metric::Assd,
    ];

    /// The columns of a segmentation table (paper 003's Table 6.2).
    pub const SEGMENTATION: [Metric; 6] = [
        Metric::Dice,
        Metric::Iou,
        Metric::PixelAccuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::Hd95,
    ];

    /// Surface distances are better small; every other metric is better large.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Hd95 | Metric::Assd)
    }

    /// The name in `metrics.json` and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Auc => "auc",
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::Mcc => "mcc",
            Metric::F1Weighted => "f1_weighted",
            Metric::F1Macro => "f1_macro",
            Metric::Dice => "dice",
            Metric::Iou => "iou",
            Metric::PixelAccuracy => "pixel_accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::Hd95 => "hd95",
            Metric::Assd => "assd",
        }
    }

    /// The column heading.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Auc => "AUC",
            Metric::Accuracy => "Accuracy",
            Metric::BalancedAccuracy => "Bal. acc.",
            Metric::Mcc => "MCC",
            Metric::F1Weighted => "F1 (weighted)",
            Metric::F1Macro => "F1 (macro)",
            Metric::Dice => "Dice",
            Metric::Iou => "IoU",
            Metric::PixelAccuracy => "Pixel acc.",
            Metric::Precision => "Precision",
            Metric::Recall => "Recall",
            Metric::Hd95 => "HD95",
            Metric::Assd => "ASSD",
        }
    }

    pub fn parse(key: &str) -> Result<Metric, ReportError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.key() == key)
            .ok_or_else(|| {
                ReportError::Invalid(format!(
                    "unknown metric {key:?}; choose from {}",
                    Metric::ALL.map(Metric::key).join(", ")
                ))
            })
    }
}

/// Which readout of an `ssl-eval` file to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslReadout {
    LinearProbe,
    Knn,
}

/// One fold's test scores; a metric the source does not have is None.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldScores {
    pub fold: usize,
    values: [Option<f64>; Metric::ALL.len()],
}

impl FoldScores {
    pub fn new(fold: usize, scores: &[(Metric, f64)]) -> FoldScores {
        let mut values = [None; Metric::ALL.len()];
        for &(metric, value) in scores {
            values[metric as usize] = Some(value);
        }
        FoldScores { fold, values }
    }

    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values[metric as usize]
    }
}

/// An arm's scores and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmScores {
    pub source: PathBuf,
    pub folds: Vec<FoldScores>,
}

impl ArmScores {
    pub fn fold_numbers(&self) -> Vec<usize> {
        self.folds.iter().map(|f| f.fold).collect()
    }
}

// The subset of `metrics.json` (medxfer_eval::report::RunMetrics) a table reads.
#[derive(Deserialize)]
struct RunMetricsView {
    folds: Vec<RunFoldView>,
}

#[derive(Deserialize)]
struct RunFoldView {
    fold: usize,
    auc: Option<f64>,
    classification: ClassificationView,
}

#[derive(Deserialize)]
struct ClassificationView {
    accuracy: f64,
    balanced_accuracy: f64,
    mcc: f64,
    f1_weighted: f64,
    f1_macro: f64,
}

// The subset of a segmentation run's `metrics.json`
// (medxfer_eval::segmentation_run::SegmentationRunMetrics) a table reads.
#[derive(Deserialize)]
struct SegmentationMetricsView {
    folds: Vec<SegmentationFoldView>,
}

#[derive(Deserialize)]
struct SegmentationFoldView {
    fold: usize,
    mean: SegmentationMeansView,
}

// A distance mean is null when every image of the fold had an empty mask.
#[derive(Deserialize)]
struct SegmentationMeansView {
    dice: Option<f64>,
    iou: Option<f64>,
    pixel_accuracy: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    hd95: Option<f64>,
    assd: Option<f64>,
}

fn segmentation_folds(
    file: &Path,
    json: serde_json::Value,
) -> Result<Vec<FoldScores>, ReportError> {
    let view: SegmentationMetricsView = serde_json::from_value(json).map_err(|e| {
        ReportError::format(file, format!("not a segmentation run's metrics.json: {e}"))
    })?;
    Ok(view
        .folds
        .into_iter()
        .map(|fold| {
            let m = fold.mean;
            let scores: Vec<(Metric, f64)> = [
                (Metric::Dice, m.dice),
                (Metric::Iou, m.iou),
                (Metric::PixelAccuracy, m.pixel_accuracy),
                (Metric::Precision, m.precision),
                (Metric::Recall, m.recall),
                (Metric::Hd95, m.hd95),
                (Metric::Assd, m.assd),
            ]
            .into_iter()
            .filter_map(|(metric, value)| value.map(|v| (metric, v)))
            .collect();
            FoldScores::new(fold.fold, &scores)
        })
        .collect())
}

// The subset of an `ssl-eval --out` file (medxfer_train::ssl::eval::SslEvalReport).
#[derive(Deserialize)]
struct SslEvalView {
    folds: Vec<SslFoldView>,
}

#[derive(Deserialize)]
struct SslFoldView {
    fold: usize,
    knn: SslScoresView,
    linear_probe: SslScoresView,
}

#[derive(Deserialize)]
struct SslScoresView {
    accuracy: f64,
    balanced_accuracy: f64,
    mcc: f64,
    f1_weighted: f64,
}

/// Load an arm from `path`: a run folder (or its `metrics.json`), or an `ssl-eval` JSON, whose
/// `readout` is taken (default: the linear probe). A `readout` on a run folder is an error.
pub fn load_arm_scores(path: &Path, readout: Option<SslReadout>) -> Result<ArmScores, ReportError> {
    let file = if path.is_dir() {
        let metrics = path.join("metrics.json");
        if !metrics.exists() {
            return Err(ReportError::format(
                path,
                "no metrics.json in this run folder: finish the run (`medxfer train` without --fold assembles the folds) or run `medxfer evaluate` on it",
            ));
        }
        metrics
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| ReportError::io(&file, e))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ReportError::format(&file, format!("not JSON: {e}")))?;
    let folds = if json.get("mean_linear_probe").is_some() {
        let view: SslEvalView = serde_json::from_value(json)
            .map_err(|e| ReportError::format(&file, format!("not an ssl-eval result: {e}")))?;
        view.folds
            .into_iter()
            .map(|fold| {
                let s = match readout.unwrap_or(SslReadout::LinearProbe) {
                    SslReadout::LinearProbe => fold.linear_probe,
                    SslReadout::Knn => fold.knn,
                };
                FoldScores::new(
                    fold.fold,
                    &[
                        (Metric::Accuracy, s.accuracy),
                        (Metric::BalancedAccuracy, s.balanced_accuracy),
                        (Metric::Mcc, s.mcc),
                        (Metric::F1Weighted, s.f1_weighted),
                    ],
                )
            })
            .collect::<Vec<_>>()
    } else if json.get("task").and_then(|t| t.as_str()) == Some("segmentation") {
        if readout.is_some() {
            return Err(ReportError::format(
                &file,
                "#knn / #probe choose an ssl-eval readout; this is a segmentation run's metrics",
            ));
        }
        segmentation_folds(&file, json)?
    } else if json.get("across_folds").is_some() {
        if readout.is_some() {
            return Err(ReportError::format(
                &file,
                "#knn / #probe choose an ssl-eval readout; this is a training run's metrics",
            ));
        }
        let view: RunMetricsView = serde_json::from_value(json)
            .map_err(|e| ReportError::format(&file, format!("not a run's metrics.json: {e}")))?;
        view.folds
            .into_iter()
            .map(|fold| {
                let c = fold.classification;
                let mut scores = vec![
                    (Metric::Accuracy, c.accuracy),
                    (Metric::BalancedAccuracy, c.balanced_accuracy),
                    (Metric::Mcc, c.mcc),
                    (Metric::F1Weighted, c.f1_weighted),
                    (Metric::F1Macro, c.f1_macro),
                ];
                scores.extend(fold.auc.map(|auc| (Metric::Auc, auc)));
                FoldScores::new(fold.fold, &scores)
            })
            .collect()
    } else {
        return Err(ReportError::format(
            &file,
            "neither a run's metrics.json nor an `ssl-eval --out` result",
        ));
    };
    if folds.is_empty() {
        return Err(ReportError::format(&file, "has no folds"));
    }
    Ok(ArmScores {
        source: path.to_path_buf(),
        folds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSL_EVAL: &str = r#"{
      "class_names": ["a", "b"], "k": 20,
      "folds": [
        {"fold": 0, "encoder": "e0", "n_train": 8, "n_test": 4,
         "knn": {"accuracy": 0.5, "balanced_accuracy": 0.55, "mcc": 0.1, "f1_weighted": 0.45},
         "linear_probe": {"accuracy": 0.75, "balanced_accuracy": 0.7, "mcc": 0.4, "f1_weighted": 0.72}},
        {"fold": 1, "encoder": "e1", "n_train": 8, "n_test": 4,
         "knn": {"accuracy": 0.25, "balanced_accuracy": 0.3, "mcc": -0.2, "f1_weighted": 0.2},
         "linear_probe": {"accuracy": 1.0, "balanced_accuracy": 1.0, "mcc": 1.0, "f1_weighted": 1.0}}
      ],
      "mean_knn": {"accuracy": 0.375, "balanced_accuracy": 0.425, "mcc": -0.05, "f1_weighted": 0.325},
      "mean_linear_probe": {"accuracy": 0.875, "balanced_accuracy": 0.85, "mcc": 0.7, "f1_weighted": 0.86}
    }"#;

    #[test]
    fn ssl_eval_files_give_the_chosen_readout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.json");
        std::fs::write(&path, SSL_EVAL).unwrap();
        let probe = load_arm_scores(&path, None).unwrap();
        assert_eq!(probe.fold_numbers(), vec![0, 1]);
        assert_eq!(probe.folds[0].get(Metric::BalancedAccuracy), Some(0.7));
        assert_eq!(probe.folds[1].get(Metric::Mcc), Some(1.0));
        assert_eq!(probe.folds[0].get(Metric::Auc), None);
        let knn = load_arm_scores(&path, Some(SslReadout::Knn)).unwrap();
        assert_eq!(knn.folds[1].get(Metric::Mcc), Some(-0.2));
        assert_eq!(knn.folds[0].get(Metric::F1Weighted), Some(0.45));
    }

    #[test]
    fn run_folders_read_their_metrics_json_with_null_kappa() {
        let dir = tempfile::tempdir().unwrap();
        let fold = |k: usize, auc: &str, mcc: f64| {
            format!(
                r#"{{"fold": {k}, "n": 4, "auc": {auc}, "classification": {{"n": 4, "accuracy": 0.5,
                "balanced_accuracy": 0.6, "f1_macro": 0.4, "f1_weighted": 0.45, "mcc": {mcc},
                "cohen_kappa": null, "per_class": [], "confusion_matrix": []}}}}"#
            )
        };
        let text = format!(
            r#"{{"class_names": ["a", "b"], "folds": [{}, {}], "across_folds": {{}}, "pooled": {{}}}}"#,
            fold(0, "0.8", 0.3),
            fold(1, "null", -0.1)
        );
        std::fs::write(dir.path().join("metrics.json"), text).unwrap();
        let arm = load_arm_scores(dir.path(), None).unwrap();
        assert_eq!(arm.folds[0].get(Metric::Auc), Some(0.8));
        assert_eq!(arm.folds[1].get(Metric::Auc), None);
        assert_eq!(arm.folds[1].get(Metric::Mcc), Some(-0.1));
        assert_eq!(arm.folds[0].get(Metric::F1Macro), Some(0.4));
        let err = load_arm_scores(dir.path(), Some(SslReadout::Knn)).unwrap_err();
        assert!(err.to_string().contains("metrics.json"), "{err}");
    }

    #[test]
    fn segmentation_runs_give_fold_means_with_undefined_distances_missing() {
        use medxfer_eval::segmentation_run::{
            DistanceUnit, EmptyMasks, ImageSegmentation, PerMetric, SegMetric, aggregate,
        };
        let image = |fold: usize, dice: f64, hd95: Option<f64>| ImageSegmentation {
            image_id: format!("{fold}-{dice}"),
            fold,
            label: "benign".into(),
            image: "i.png".into(),
            truth: "t.png".into(),
            prediction: "p.png".into(),
            shape: [2, 2],
            empty_masks: if hd95.is_some() {
                EmptyMasks::Neither
            } else {
                EmptyMasks::PredictionOnly
            },
            metrics: PerMetric::from_fn(|m| match m {
                SegMetric::Dice => Some(dice),
                SegMetric::Recall => Some(0.25),
                m if m.is_distance() => hd95,
                _ => Some(0.5),
            }),
        };
        let metrics = aggregate(
            vec![
                image(0, 0.8, Some(3.0)),
                image(0, 0.6, Some(5.0)),
                image(1, 0.0, None),
            ],
            &["benign".to_string(), "malignant".to_string()],
            DistanceUnit::Pixel,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        metrics
            .write_json(&dir.path().join("metrics.json"))
            .unwrap();
        let arm = load_arm_scores(dir.path(), None).unwrap();
        assert_eq!(arm.fold_numbers(), vec![0, 1]);
        assert!((arm.folds[0].get(Metric::Dice).unwrap() - 0.7).abs() < 1e-12);
        assert_eq!(arm.folds[0].get(Metric::Hd95), Some(4.0));
        assert_eq!(arm.folds[1].get(Metric::Hd95), None);
        assert_eq!(arm.folds[1].get(Metric::Recall), Some(0.25));
        assert_eq!(arm.folds[0].get(Metric::Auc), None);
        assert!(load_arm_scores(dir.path(), Some(SslReadout::Knn)).is_err());
        assert!(!Metric::Hd95.higher_is_better() && Metric::Dice.higher_is_better());
        assert_eq!(
            Metric::parse("pixel_accuracy").unwrap(),
            Metric::PixelAccuracy
        );
    }

    #[test]
    fn unusable_sources_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_arm_scores(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("no metrics.json"), "{err}");
        let other = dir.path().join("other.json");
        std::fs::write(&other, r#"{"hello": 1}"#).unwrap();
        let err = load_arm_scores(&other, None).unwrap_err().to_string();
        assert!(
            err.contains("other.json") && err.contains("neither"),
            "{err}"
        );
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{").unwrap();
        let err = load_arm_scores(&broken, None).unwrap_err().to_string();
        assert!(
            err.contains("broken.json") && err.contains("not JSON"),
            "{err}"
        );
        let missing = dir.path().join("missing.json");
        let err = load_arm_scores(&missing, None).unwrap_err().to_string();
        assert!(err.contains("missing.json"), "{err}");
        assert!(Metric::parse("kappa").is_err());
        assert_eq!(Metric::parse("f1_weighted").unwrap(), Metric::F1Weighted);
    }
}
