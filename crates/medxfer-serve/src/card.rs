//! The model card `GET /v1/model` returns and the page shows: what the model was trained on,
//! how well it did (the run's own metrics.json, with its confidence intervals), what it is for
//! and what it cannot do. Built once at start-up from the run folder.

use std::path::Path;

use medxfer_atomic::run_files::{CONFIG, METRICS, RUN_RECORD};
use medxfer_eval::report::{AcrossFolds, Interval, RunMetrics};
use medxfer_train::TrainConfig;
use serde::Serialize;

use crate::engine::Engine;
use crate::error::ServeError;

const INTENDED_USE: &str = "Research decision support: a second reader's suggestion for a \
radiologist who reads the image themself. Not a medical device; not validated for clinical \
use; never a diagnosis on its own.";

/// Limits every card states; the run-specific ones are added by [`limits`].
const GENERAL_LIMITS: [&str; 5] = [
    "The metrics are cross-validated on the training dataset's own images; performance on \
     another hospital, scanner or population is unknown until externally validated \
     (medxfer validate).",
    "The model sees one image, downscaled to its input size, in grey levels; it knows nothing \
     of the patient's history, other views or prior studies.",
    "Probabilities are the mean of the fold models' softmax outputs; they are not calibrated \
     risks unless the run's calibration says so.",
    "The Grad-CAM overlay shows which regions moved the score, not a lesion outline; it is \
     coarse (the last backbone stage) and can highlight artefacts or text.",
    "Images of a kind absent from training (another modality, body part or view) still get \
     an answer: out-of-distribution inputs are not detected.",
];

#[derive(Debug, Clone, Serialize)]
pub struct ModelCard {
    /// The run folder's name (not its location on the server).
    pub run: String,
    pub task: &'static str,
    pub classes: Vec<String>,
    pub decision_rule: String,
    /// Fold models averaged for each answer.
    pub models: usize,
    /// The folds whose models answer, when the server was told to use only some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folds: Option<Vec<usize>>,
    pub model: serde_json::Value,
    pub training: Training,
    pub metrics: Option<CardMetrics>,
    /// Why `metrics` is absent, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_note: Option<String>,
    pub intended_use: &'static str,
    pub limits: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Training {
    pub data_source: serde_json::Value,
    pub image_size: u32,
    pub split: serde_json::Value,
    pub strategy: serde_json::Value,
    pub epochs: usize,
    pub seed: u64,
    /// From run.json: images per class, the code version and the data manifest's hash.
    pub provenance: Option<serde_json::Value>,
}

/// Pooled test metrics with their CIs, and mean +- sd across folds.
#[derive(Debug, Clone, Serialize)]
pub struct CardMetrics {
    pub test_images: usize,
    pub auc: Option<f64>,
    pub auc_ci: Option<Interval>,
    pub balanced_accuracy: f64,
    pub balanced_accuracy_ci: Option<Interval>,
    pub mcc: f64,
    pub mcc_ci: Option<Interval>,
    pub sensitivity_specificity: Vec<ClassRates>,
    pub across_folds: AcrossFolds,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassRates {
    pub class: String,
    pub sensitivity: f64,
    pub specificity: f64,
}

impl ModelCard {
    pub fn build(
        run_dir: &Path,
        engine: &Engine,
        folds: Option<&[usize]>,
    ) -> Result<Self, ServeError> {
        let config_path = run_dir.join(CONFIG);
        let config = TrainConfig::load(&config_path, &[]).map_err(|e| ServeError::RunFolder {
            path: config_path.clone(),
            message: e.to_string(),
        })?;
        let (metrics, metrics_note) = match read_metrics(run_dir) {
            Ok(metrics) => (Some(metrics), None),
            Err(note) => (None, Some(note)),
        };
        Ok(ModelCard {
            run: run_dir
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            task: "classification",
            classes: engine.class_names().to_vec(),
            decision_rule: engine.decision_rule(),
            models: engine.num_models(),
            folds: folds.map(<[usize]>::to_vec),
            model: to_json(&config.model),
            training: Training {
                data_source: without_folders(to_json(&config.data.source)),
                image_size: config.data.image_size,
                split: to_json(&config.split),
                strategy: to_json(&config.train.strategy),
                epochs: config.train.epochs,
                seed: config.seed,
                provenance: read_provenance(run_dir),
            },
            limits: limits(metrics.as_ref(), folds),
            metrics,
            metrics_note,
            intended_use: INTENDED_USE,
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// The data source with each path cut to its last component: the card names the dataset
/// (`busi`), not the server's folders.
fn without_folders(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) if text.contains('/') => {
            let last = Path::new(&text)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            serde_json::Value::String(last.unwrap_or_default())
        }
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (k, without_folders(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other,
    }
}

fn read_metrics(run_dir: &Path) -> Result<CardMetrics, String> {
    let path = run_dir.join(METRICS);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{METRICS}: {e} (run `medxfer evaluate` on the run)"))?;
    let metrics: RunMetrics =
        serde_json::from_str(&text).map_err(|e| format!("{METRICS}: unreadable: {e}"))?;
    let pooled = metrics.pooled;
    Ok(CardMetrics {
        test_images: pooled.n,
        auc: pooled.auc,
        auc_ci: pooled.auc_ci,
        balanced_accuracy: pooled.classification.balanced_accuracy,
        balanced_accuracy_ci: pooled.balanced_accuracy_ci,
        mcc: pooled.classification.mcc,
        mcc_ci: pooled.mcc_ci,
        sensitivity_specificity: pooled
            .classification
            .per_class
            .iter()
            .map(|c| ClassRates {
                class: c.class.clone(),
                sensitivity: c.sensitivity,
                specificity: c.specificity,
            })
            .collect(),
        across_folds: metrics.across_folds,
    })
}

/// The parts of run.json a reader of the card needs (the rest is wall times and ids).
fn read_provenance(run_dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir.join(RUN_RECORD)).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    let keep = [
        "class_names",
        "class_counts",
        "code_version",
        "data_manifest_sha256",
    ];
    Some(
        keep.iter()
            .filter_map(|k| record.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    )
}

fn limits(metrics: Option<&CardMetrics>, folds: Option<&[usize]>) -> Vec<String> {
    let mut limits: Vec<String> = GENERAL_LIMITS.iter().map(|s| s.to_string()).collect();
    if let Some(folds) = folds {
        let names: Vec<String> = folds.iter().map(usize::to_string).collect();
        limits.push(format!(
            "Answers come from the model(s) of fold(s) {} only, not the run's whole ensemble; \
             the metrics are the run's cross-validated estimate for a model trained this way.",
            names.join(", ")
        ));
    }
    match metrics {
        Some(m) if m.test_images < 100 => limits.push(format!(
            "Only {} test images: the confidence intervals are wide.",
            m.test_images
        )),
        Some(_) => {}
        None => limits.push("No metrics: the run's performance is unknown.".into()),
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_names_datasets_not_server_folders() {
        let source = serde_json::json!({ "kind": "folder", "root": "/srv/data/busi", "n": 3 });
        assert_eq!(
            without_folders(source),
            serde_json::json!({ "kind": "folder", "root": "busi", "n": 3 })
        );
    }
}
