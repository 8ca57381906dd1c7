//! Per-fold training progress and checkpoints, committed atomically so that a run killed at
//! any instant resumes from its last completed epoch.
//!
//! Layout of `RUN_DIR/fold_K/`:
//! - `ckpt-PPP-EEEE/` — model (`model.bpk`) and optimizer (`optim.bpk`) after epoch EEEE of
//!   phase PPP, written completely before `progress.json` names it;
//! - `progress.json` — the commit point: which checkpoint is current, which is best, the
//!   per-epoch curve so far. Older checkpoint folders are removed after the commit.
//! - `model.bpk` — the best model, once the fold has finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use medxfer_atomic::run_files::{CHECKPOINT_PREFIX, MODEL, OPTIMIZER};

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::json_float::{self, Float};
use crate::run_folder::{Progress, load_progress};

/// One row of the per-epoch learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurveRow {
    pub phase: String,
    pub epoch: usize,
    #[serde(with = "json_float")]
    pub lr: f64,
    #[serde(with = "json_float")]
    pub train_loss: f64,
    #[serde(with = "json_float")]
    pub val_loss: f64,
    /// The task's validation metrics by curve column (`val_auc`, `val_dice`, ...); NaN when
    /// undefined (e.g. AUC on a validation split of one class).
    #[serde(flatten)]
    pub metrics: BTreeMap<String, Float>,
    #[serde(with = "json_float")]
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FoldProgress {
    /// Index of the phase in progress.
    pub phase: usize,
    /// Epochs of that phase already completed and checkpointed.
    pub epochs_done: usize,
    /// Epochs since the best validation score, within the current phase.
    pub epochs_since_best: usize,
    /// Checkpoint folder holding the latest state.
    pub current: Option<String>,
    /// Checkpoint folder holding the best model so far, with its validation score.
    pub best: Option<String>,
    #[serde(with = "json_float::option", default)]
    pub best_score: Option<f64>,
    pub curve: Vec<CurveRow>,
    pub finished: bool,
    /// Wall time spent training this fold so far, summed over resumptions.
    #[serde(default)]
    pub train_seconds: f64,
    /// The shorter run this one continued (`medxfer pretrain --continue-from`), and after
    /// which epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_from: Option<ContinuedFrom>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContinuedFrom {
    pub run: PathBuf,
    pub after_epoch: usize,
}

impl FoldProgress {
    pub fn load(fold_dir: &Path) -> Result<Option<Self>, TrainError> {
        load_progress(fold_dir)
    }
}

/// Write `curves.csv` at `path`: one row per epoch with the task's metric `columns` in that
/// order.
pub fn write_curve_csv(
    path: &Path,
    curve: &[CurveRow],
    columns: &[&str],
) -> Result<(), TrainError> {
    let mut out = String::from("phase,epoch,lr,train_loss,val_loss,");
    for column in columns {
        out.push_str(column);
        out.push(',');
    }
    out.push_str("seconds\n");
    for r in curve {
        out.push_str(&format!(
            "{},{},{:e},{:.6},{:.6},",
            r.phase, r.epoch, r.lr, r.train_loss, r.val_loss
        ));
        for column in columns {
            let value = r.metrics.get(*column).map_or(f64::NAN, |v| v.0);
            out.push_str(&format!("{value:.6},"));
        }
        out.push_str(&format!("{:.2}\n", r.seconds));
    }
    write_atomic(path, out.as_bytes())
}

impl Progress for FoldProgress {
    fn checkpoints(&self) -> Vec<&str> {
        [self.current.as_deref(), self.best.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// The folder name of the checkpoint after `epoch` (1-based) of `phase`.
pub fn checkpoint_name(phase: usize, epoch: usize) -> String {
    format!("{CHECKPOINT_PREFIX}{phase:03}-{epoch:04}")
}

pub fn model_file(checkpoint_dir: &Path) -> PathBuf {
    checkpoint_dir.join(MODEL)
}

pub fn optimizer_file(checkpoint_dir: &Path) -> PathBuf {
    checkpoint_dir.join(OPTIMIZER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_folder::commit_progress;
    use medxfer_atomic::run_files::CURVES;

    const COLUMNS: &[&str] = &["val_auc", "val_balanced_accuracy"];

    /// What the engine does after an epoch.
    fn commit(progress: &FoldProgress, dir: &Path) {
        commit_progress(dir, progress).unwrap();
        write_curve_csv(&dir.join(CURVES), &progress.curve, COLUMNS).unwrap();
    }

    fn metrics(auc: f64, balanced_accuracy: f64) -> BTreeMap<String, Float> {
        [
            ("val_auc", auc),
            ("val_balanced_accuracy", balanced_accuracy),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Float(v)))
        .collect()
    }

    #[test]
    fn commit_round_trips_and_prunes_stale_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["ckpt-000-0001", "ckpt-000-0002", "ckpt-000-0003"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let progress = FoldProgress {
            phase: 0,
            epochs_done: 3,
            current: Some("ckpt-000-0003".into()),
            best: Some("ckpt-000-0001".into()),
            best_score: Some(0.8),
            curve: vec![CurveRow {
                phase: "full".into(),
                epoch: 1,
                lr: 1e-3,
                train_loss: 0.7,
                val_loss: 0.6,
                metrics: metrics(0.8, 0.7),
                seconds: 1.0,
            }],
            ..Default::default()
        };
        commit(&progress, dir.path());
        assert_eq!(FoldProgress::load(dir.path()).unwrap(), Some(progress));
        assert!(dir.path().join("ckpt-000-0001").exists());
        assert!(!dir.path().join("ckpt-000-0002").exists());
        assert!(dir.path().join("ckpt-000-0003").exists());
        let csv = std::fs::read_to_string(dir.path().join("curves.csv")).unwrap();
        assert_eq!(
            csv,
            "phase,epoch,lr,train_loss,val_loss,val_auc,val_balanced_accuracy,seconds\nfull,1,1e-3,0.700000,0.600000,0.800000,0.700000,1.00\n"
        );
    }

    #[test]
    fn an_undefined_validation_auc_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let progress = FoldProgress {
            epochs_done: 1,
            current: Some("ckpt-000-0001".into()),
            best: Some("ckpt-000-0001".into()),
            best_score: Some(-0.69),
            curve: vec![CurveRow {
                phase: "full".into(),
                epoch: 1,
                lr: 1e-3,
                train_loss: 0.7,
                val_loss: 0.69,
                metrics: metrics(f64::NAN, 0.5),
                seconds: 1.0,
            }],
            ..Default::default()
        };
        commit(&progress, dir.path());
        let loaded = FoldProgress::load(dir.path()).unwrap().unwrap();
        assert!(loaded.curve[0].metrics["val_auc"].0.is_nan());
        assert_eq!(loaded.best_score, Some(-0.69));
        // What the version before this fix wrote, and then could not read.
        let old = std::fs::read_to_string(dir.path().join("progress.json"))
            .unwrap()
            .replace("\"NaN\"", "null");
        std::fs::write(dir.path().join("progress.json"), old).unwrap();
        let reread = FoldProgress::load(dir.path()).unwrap().unwrap();
        assert!(reread.curve[0].metrics["val_auc"].0.is_nan());
    }
}
