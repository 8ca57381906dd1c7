//! `medxfer export RUN_DIR --to onnx --out DIR`: every fold model of a finished classification
//! run as `DIR/fold_K.onnx`, and `DIR/export.json` describing them.

use std::path::{Path, PathBuf};

use medxfer_atomic::run_files::{CONFIG, FOLD_PREFIX, fold_dir_name};
use medxfer_eval::predictions::TaskKind;
use medxfer_models::{BackboneKind, Classifier, HeadConfig};
use medxfer_train::TrainConfig;
use medxfer_train::normalisation::Normalisation;
use medxfer_train::predict::RunPredictor;
use serde::Serialize;

use crate::ExportError;
use crate::classifier_graph::{INPUT_NAME, OUTPUT_NAME, classifier_graph, ensemble_graph};
use crate::onnx::{Graph, IR_VERSION, OPSET_VERSION};

/// The description of an export, written last so that its presence means the export is whole.
pub const EXPORT_JSON: &str = "export.json";
/// Exported model files are `fold_K.onnx`, one per `fold_K` of the run.
const ONNX_EXTENSION: &str = "onnx";
/// The fold ensemble as one graph, when asked for.
pub const ENSEMBLE_FILE: &str = "ensemble.onnx";

/// Whether to write, beside the fold models, the ensemble as one graph (`ensemble.onnx`:
/// every fold on the same input, the mean of their probabilities as its output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnsembleGraph {
    Skip,
    Write,
}

/// The formats `medxfer export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Onnx,
}

/// One exported fold model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedFold {
    /// The run's fold folder, `fold_K`.
    pub fold: String,
    /// The model file, relative to the export folder.
    pub file: String,
    pub bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputDescription {
    pub name: &'static str,
    /// N x C x S x S, float32.
    pub shape: (&'static str, usize, usize, usize),
    pub preprocessing: &'static str,
    pub normalisation: Normalisation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputDescription {
    pub name: &'static str,
    /// N x classes, softmax probabilities in `class_names` order.
    pub shape: (&'static str, usize),
}

/// `export.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportManifest {
    pub run: PathBuf,
    pub format: ExportFormat,
    pub opset: i64,
    pub ir_version: i64,
    pub backbone: BackboneKind,
    pub head: HeadConfig,
    pub batch_norm_folded: bool,
    pub input: InputDescription,
    pub output: OutputDescription,
    pub class_names: Vec<String>,
    /// How `medxfer predict` combines the folds: the mean of their probabilities.
    pub ensemble: &'static str,
    pub folds: Vec<ExportedFold>,
    /// `ensemble.onnx` when written: the folds' mean in one graph.
    pub ensemble_file: Option<String>,
}

/// Export every fold model of the finished classification run in `run_dir` into `out_dir`.
pub fn export_run(
    run_dir: &Path,
    out_dir: &Path,
    format: ExportFormat,
    ensemble_graph: EnsembleGraph,
) -> Result<ExportManifest, ExportError> {
    let predictor = RunPredictor::open(run_dir)?;
    if predictor.task() == TaskKind::Segmentation {
        return Err(ExportError::Segmentation {
            path: run_dir.to_path_buf(),
        });
    }
    let config = TrainConfig::load(&run_dir.join(CONFIG), &[])?;
    let run_abs = std::fs::canonicalize(run_dir).map_err(|e| ExportError::io(run_dir, e))?;
    prepare_output_folder(&run_abs, out_dir)?;
    let image_size = config.data.image_size as usize;
    // Each model named by the fold the predictor loaded it from, in its order.
    let models: Vec<(String, &Classifier)> = predictor
        .fold_numbers()
        .iter()
        .map(|&fold| fold_dir_name(fold))
        .zip(predictor.classifiers())
        .collect();
    let context = ModelContext {
        run_abs: &run_abs,
        out_dir,
        image_size,
    };
    let folds = write_fold_models(&models, &context)?;
    let ensemble_file = match ensemble_graph {
        EnsembleGraph::Skip => None,
        EnsembleGraph::Write => Some(write_ensemble_model(&models, &context)?),
    };
    let manifest = ExportManifest {
        run: run_abs,
        format,
        opset: OPSET_VERSION,
        ir_version: IR_VERSION,
        backbone: config.model.backbone,
        head: config.model.head.clone(),
        batch_norm_folded: true,
        input: InputDescription {
            name: INPUT_NAME,
            shape: ("N", config.model.in_channels, image_size, image_size),
            preprocessing: "the image decoded and resized as `medxfer predict` does, then each channel c as (x - mean[c]) / std[c]",
            normalisation: Normalisation::read(run_dir, &config)?,
        },
        output: OutputDescription {
            name: OUTPUT_NAME,
            shape: ("N", predictor.class_names.len()),
        },
        class_names: predictor.class_names.clone(),
        ensemble: "mean of the fold models' probabilities",
        folds,
        ensemble_file,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| ExportError::OutputFolder {
        path: out_dir.join(EXPORT_JSON),
        message: e.to_string(),
    })?;
    write_file(&out_dir.join(EXPORT_JSON), text.as_bytes())?;
    // After export.json names the new files, so it never lists a file that is gone.
    remove_stale_models(out_dir, &manifest)?;
    Ok(manifest)
}

/// Where and how the model files are written.
struct ModelContext<'a> {
    run_abs: &'a Path,
    out_dir: &'a Path,
    image_size: usize,
}

impl ModelContext<'_> {
    /// `graph` serialised into `out_dir/file`; returns the byte count.
    fn write_graph(&self, graph: &Graph, file: &str) -> Result<usize, ExportError> {
        let doc = format!("medxfer {} of {}", graph.name, self.run_abs.display());
        let bytes = graph.to_model_bytes(env!("CARGO_PKG_VERSION"), &doc);
        write_file(&self.out_dir.join(file), &bytes)?;
        Ok(bytes.len())
    }
}

/// Each fold classifier of the run as `out_dir/fold_K.onnx`.
fn write_fold_models(
    models: &[(String, &Classifier)],
    context: &ModelContext<'_>,
) -> Result<Vec<ExportedFold>, ExportError> {
    let mut folds = Vec::with_capacity(models.len());
    for (fold, model) in models {
        let graph = classifier_graph(model, fold, context.image_size);
        let file = format!("{fold}.{ONNX_EXTENSION}");
        let bytes = context.write_graph(&graph, &file)?;
        folds.push(ExportedFold {
            fold: fold.clone(),
            file,
            bytes,
        });
    }
    Ok(folds)
}

/// The fold ensemble as one graph in `out_dir/ensemble.onnx`; returns the file name.
fn write_ensemble_model(
    models: &[(String, &Classifier)],
    context: &ModelContext<'_>,
) -> Result<String, ExportError> {
    let graph = ensemble_graph(models, "ensemble", context.image_size);
    context.write_graph(&graph, ENSEMBLE_FILE)?;
    Ok(ENSEMBLE_FILE.to_string())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    medxfer_atomic::write_atomic(path, bytes).map_err(|e| ExportError::io(path, e))
}

/// The run's `fold_K` folders holding a model, in the order `RunPredictor` loads them
/// (sorted by path).
/// Whether `name` is a file an export writes (so a previous export may be replaced).
fn is_export_file(name: &str) -> bool {
    name == EXPORT_JSON
        || name == ENSEMBLE_FILE
        || (name.starts_with(FOLD_PREFIX) && name.ends_with(&format!(".{ONNX_EXTENSION}")))
}

/// `out_dir` must not be inside the run folder and may hold only a previous export; it is
/// created when missing.
fn prepare_output_folder(run_abs: &Path, out_dir: &Path) -> Result<(), ExportError> {
    let refuse = |message: &str| ExportError::OutputFolder {
        path: out_dir.to_path_buf(),
        message: message.to_string(),
    };
    if absolute_path(out_dir)?.starts_with(run_abs) {
        return Err(refuse(
            "is inside the run folder: export somewhere else (a run folder is never written by an export)",
        ));
    }
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(refuse("exists and is not a folder"));
    }
    if out_dir.is_dir() {
        let entries = std::fs::read_dir(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_export_file(&name) {
                return Err(refuse(&format!(
                    "holds other files ({name}): choose a new or empty folder"
                )));
            }
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))
}

/// `path` made absolute through its nearest existing ancestor (symbolic links resolved), so
/// that a folder which does not exist yet can be compared with the run folder.
fn absolute_path(path: &Path) -> Result<PathBuf, ExportError> {
    let absolute = std::path::absolute(path).map_err(|e| ExportError::io(path, e))?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    while !existing.exists() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
            break;
        };
        missing.push(name.to_os_string());
        existing = parent;
    }
    let mut resolved = std::fs::canonicalize(existing).map_err(|e| ExportError::io(existing, e))?;
    resolved.extend(missing.iter().rev());
    Ok(resolved)
}

/// Model files of an earlier export (of more folds, or with the ensemble graph) that
/// `export.json` does not list.
fn remove_stale_models(out_dir: &Path, manifest: &ExportManifest) -> Result<(), ExportError> {
    let entries = std::fs::read_dir(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let listed = manifest.folds.iter().any(|fold| fold.file == name)
            || manifest.ensemble_file.as_deref() == Some(name.as_str());
        if name != EXPORT_JSON && is_export_file(&name) && !listed {
            std::fs::remove_file(entry.path()).map_err(|e| ExportError::io(&entry.path(), e))?;
        }
    }
    Ok(())
}
