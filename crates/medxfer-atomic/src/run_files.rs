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
/// A run folder's subfolder for `medxfer embed RUN`: a t-SNE of each fold model's features
/// of its own test images (`tsne.csv`, `tsne.png`) and a summary (`embedding.json`); the
/// study report draws what it finds there.
pub const EMBEDDING: &str = "embedding";
pub const EMBEDDING_SUMMARY: &str = "embedding.json";
/// t-SNE coordinates, one row per image, and their picture (`medxfer embed`, and a
/// `medxfer pretrain` run's encoder).
pub const TSNE_CSV: &str = "tsne.csv";
pub const TSNE_PNG: &str = "tsne.png";
/// In a `medxfer baseline` folder: the model, features, and per fold the hyperparameters
/// nested CV chose with every grid point's inner-CV scores.
pub const BASELINE: &str = "baseline.json";
/// In a `medxfer pretrain` folder: the pretrained encoder (its `.json` sidecar beside it).
pub const ENCODER: &str = "encoder.bpk";
/// In a `medxfer ensemble` folder: the member run folders and their weights.
pub const ENSEMBLE: &str = "ensemble.json";
/// The input normalisation the models were trained with.
pub const NORMALISATION: &str = "input.json";
/// A fold's folder is `fold_K`.
pub const FOLD_PREFIX: &str = "fold_";

/// `fold_K`.
pub fn fold_dir_name(fold: usize) -> String {
    format!("{FOLD_PREFIX}{fold}")
}

/// K of a path `.../fold_K/<file>` (the fold a fold folder's file belongs to).
pub fn fold_of(path_in_fold: &std::path::Path) -> Option<usize> {
    let folder = path_in_fold.parent()?.file_name()?.to_str()?;
    folder.strip_prefix(FOLD_PREFIX)?.parse().ok()
}

/// `run_dir/fold_K/file` for every fold folder that holds `file`, ordered by K (so fold_10
/// comes after fold_9).
pub fn fold_files(
    run_dir: &std::path::Path,
    file: &str,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut found: Vec<(usize, std::path::PathBuf)> = std::fs::read_dir(run_dir)?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let fold = name.to_str()?.strip_prefix(FOLD_PREFIX)?.parse().ok()?;
            let path = entry.path().join(file);
            path.exists().then_some((fold, path))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_files_are_ordered_by_fold_number_and_skip_folds_without_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for fold in [10, 2, 9, 3] {
            let folder = dir.path().join(fold_dir_name(fold));
            std::fs::create_dir(&folder).unwrap();
            if fold != 3 {
                std::fs::write(folder.join(MODEL), b"").unwrap();
            }
        }
        std::fs::create_dir(dir.path().join("fold_x")).unwrap();
        let found = fold_files(dir.path(), MODEL).unwrap();
        let folds: Vec<String> = found
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(folds, ["fold_2", "fold_9", "fold_10"]);
        let numbers: Vec<Option<usize>> = found.iter().map(|p| fold_of(p)).collect();
        assert_eq!(numbers, [Some(2), Some(9), Some(10)]);
    }
}
