//! The names of the files in a run folder, defined once for every crate that writes or reads
//! them (training, pretraining, evaluation, reports, prediction).

/// The resolved configuration the folder belongs to.
pub const CONFIG: &str = "config.toml";
/// The advisory lock held by the process writing the folder.
pub const LOCK: &str = ".medxfer.lock";
/// The fingerprint of the data the run started on (checked on resume).
pub const DATA: &str = "data.json";
/// The commit point of resumable training, and the one before it (the fallback when the
/// latest checkpoint is damaged).
pub const PROGRESS: &str = "progress.json";
pub const PREVIOUS_PROGRESS: &str = "progress.previous.json";
/// Checkpoint folders start with this prefix.
pub const CHECKPOINT_PREFIX: &str = "ckpt-";
/// Inside a checkpoint folder, and the best model of a finished fold.
pub const MODEL: &str = "model.bpk";
pub const OPTIMIZER: &str = "optim.bpk";
/// Per-epoch learning curve.
pub const CURVES: &str = "curves.csv";
/// The contract between training and evaluation.
pub const PREDICTIONS: &str = "predictions.csv";
pub const TASK: &str = "task.json";
pub const METRICS: &str = "metrics.json";
/// A segmentation run's contract: per test/val image, the input, truth and predicted mask
/// PNGs (paths relative to the run folder); see `medxfer_eval::segmentation_run`.
pub const SEGMENTATIONS: &str = "segmentations.csv";
/// Written by `medxfer evaluate` on a segmentation run: every metric of every test image, and
/// the best / middle / worst test images side by side.
pub const SEGMENTATION_PER_IMAGE: &str = "segmentation_per_image.csv";
pub const SEGMENTATION_GALLERY: &str = "gallery.png";
/// Written by `medxfer evaluate` on a binary classification run: the reliability diagram.
pub const RELIABILITY_DIAGRAM: &str = "reliability.png";
/// Provenance of a finished run: seed, code version, data manifest, wall times.
pub const RUN_RECORD: &str = "run.json";
/// In an external validation's folder (`medxfer validate`): which run, which data.
pub const EXTERNAL: &str = "external.json";
/// A run folder's subfolder for `medxfer explain RUN ... --out RUN/explanations`: the study
/// report shows the contact sheets it finds there.
pub const EXPLANATIONS: &str = "explanations";
/// `medxfer explain`'s contact sheet of a batch is `contact_sheet_<method>.png`.
pub const CONTACT_SHEET_PREFIX: &str = "contact_sheet_";
/// In a `medxfer baseline` folder: the model, features, and per fold the hyperparameters
/// nested CV chose with every grid point's inner-CV scores.
pub const BASELINE: &str = "baseline.json";
/// The input normalisation the models were trained with.
pub const NORMALISATION: &str = "input.json";
/// A fold's folder is `fold_K`.
pub const FOLD_PREFIX: &str = "fold_";

/// `fold_K`.
pub fn fold_dir_name(fold: usize) -> String {
    format!("{FOLD_PREFIX}{fold}")
}
