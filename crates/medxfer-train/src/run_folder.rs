//! What every resumable run folder (`medxfer train`, `medxfer pretrain`) shares: it belongs to
//! one configuration, and its `progress.json` is the commit point naming the checkpoint
//! folders (`ckpt-*`) still needed.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TrainError;
use crate::atomic_file::write_atomic;

const PROGRESS_FILE: &str = "progress.json";
const CHECKPOINT_PREFIX: &str = "ckpt-";

/// Claim `out_dir` for a configuration (its resolved TOML is written as `config.toml`), or,
/// when the folder was already claimed, accept it only if `same_as_recorded` says the recorded
/// configuration equals this one: resuming with another one would mix two runs.
pub fn guard_same_config(
    out_dir: &Path,
    resolved_toml: &str,
    same_as_recorded: impl FnOnce(&Path) -> Result<bool, TrainError>,
) -> Result<(), TrainError> {
    let path = out_dir.join("config.toml");
    if path.exists() {
        if !same_as_recorded(&path)? {
            return Err(TrainError::Config {
                path,
                message: "this run folder was started with a different configuration; choose another out_dir (or delete the folder to start over)".into(),
            });
        }
        eprintln!(
            "run folder {} exists with the same configuration: resuming",
            out_dir.display()
        );
        return Ok(());
    }
    write_atomic(&path, resolved_toml.as_bytes())
}

/// The committed progress in `dir`, if any.
pub fn load_progress<T: DeserializeOwned>(dir: &Path) -> Result<Option<T>, TrainError> {
    let path = dir.join(PROGRESS_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::Checkpoint {
            path,
            message: format!("unreadable progress file: {e}"),
        })
}

/// Commit `progress` atomically, then delete the checkpoint folders not in `keep`.
pub fn commit_progress<T: Serialize>(
    dir: &Path,
    progress: &T,
    keep: &[Option<&str>],
) -> Result<(), TrainError> {
    let text =
        serde_json::to_string_pretty(progress).map_err(|e| TrainError::Other(e.to_string()))?;
    write_atomic(&dir.join(PROGRESS_FILE), text.as_bytes())?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(CHECKPOINT_PREFIX) && !keep.contains(&Some(name.as_str())) {
                // A stale checkpoint left behind only costs disk space; never fail a commit.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_folder_accepts_only_its_own_configuration() {
        let dir = tempfile::tempdir().unwrap();
        guard_same_config(dir.path(), "a = 1\n", |_| unreachable!("unclaimed")).unwrap();
        let recorded = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
        assert_eq!(recorded, "a = 1\n");
        guard_same_config(dir.path(), "a = 1\n", |_| Ok(true)).unwrap();
        let err = guard_same_config(dir.path(), "a = 2\n", |_| Ok(false))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml") && err.contains("different configuration"),
            "{err}"
        );
    }
}
