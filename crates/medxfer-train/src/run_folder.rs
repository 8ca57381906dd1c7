//! What every resumable run folder (`medxfer train`, `medxfer pretrain`) shares: it is claimed
//! only when it is new, empty or already a run of the same configuration; one process writes it
//! at a time (an OS lock); it records the data it started on and refuses to resume on other
//! data; and its `progress.json` is the commit point naming the checkpoint folders (`ckpt-*`)
//! still needed, with the commit before it kept as a fallback for a damaged checkpoint.

use std::path::{Path, PathBuf};
use std::time::Duration;

use medxfer_atomic::run_files::{
    CHECKPOINT_PREFIX, CONFIG, DATA, LOCK, PREVIOUS_PROGRESS, PROGRESS,
};
use medxfer_atomic::{FolderLock, LockError};
use medxfer_events::Reporter;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::atomic_file::write_atomic;

/// The data a run trains on, as recorded in `data.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataFingerprint {
    /// sha256 over every image's id, label and content (see `medxfer_data::manifest`).
    pub sha256: String,
    pub images: usize,
}

/// A configuration that owns a run folder (`medxfer train`'s, `medxfer pretrain`'s).
pub trait RunConfig: PartialEq + Sized {
    fn out_dir(&self) -> &Path;
    /// The resolved configuration as written to `config.toml`.
    fn to_toml_string(&self) -> String;
    /// The configuration recorded in a run folder's `config.toml`.
    fn load_recorded(path: &Path) -> Result<Self, TrainError>;
}

/// What a process asks for when it claims a run folder.
pub struct ClaimRequest<'a> {
    /// The resolved configuration, written as `config.toml`.
    pub resolved_toml: &'a str,
    pub data: &'a DataFingerprint,
    /// Resume even when the data differs from what the run started on (with a warning).
    pub allow_data_change: bool,
}

/// A run folder this process owns until the value is dropped (the lock is the OS's, so a
/// killed process releases it too).
#[derive(Debug)]
pub struct RunFolder {
    dir: PathBuf,
    /// None once handed over to fold locks ([`RunFolder::release_to_fold_locks`]).
    _lock: Option<FolderLock>,
}

/// How long claiming waits for another process's claim (which takes milliseconds) to finish.
const CLAIM_PATIENCE: Duration = Duration::from_secs(5);

impl RunFolder {
    /// Claim `dir`: refuse a folder that holds anything but a medxfer run, lock it, then write
    /// the configuration and data fingerprint, or, for an existing run, check that both are
    /// the recorded ones (`same_as_recorded` compares the recorded `config.toml`). A run that
    /// never committed an epoch may be started over with another configuration.
    pub fn claim(
        dir: &Path,
        request: &ClaimRequest,
        same_as_recorded: impl FnOnce(&Path) -> Result<bool, TrainError>,
        events: &dyn Reporter,
    ) -> Result<RunFolder, TrainError> {
        refuse_foreign_folder(dir)?;
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let lock =
            FolderLock::acquire_within(dir, CLAIM_PATIENCE).map_err(|e| lock_error(dir, e))?;
        let config_path = dir.join(CONFIG);
        let fresh = if !config_path.exists() {
            true
        } else if same_as_recorded(&config_path)? {
            false
        } else if !has_progress(dir) {
            events.note(format!(
                "{}: no epoch was committed under the recorded configuration: starting over with this one",
                dir.display()
            ));
            true
        } else {
            return Err(TrainError::Config {
                path: config_path,
                message: "this run folder was started with a different configuration; choose another out_dir (or delete the folder to start over)".into(),
            });
        };
        if fresh {
            write_atomic(&config_path, request.resolved_toml.as_bytes())?;
            write_json(&dir.join(DATA), request.data)?;
        } else {
            check_same_data(dir, request, events)?;
            events.note(format!(
                "run folder {} exists with the same configuration: resuming",
                dir.display()
            ));
        }
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
        })
    }

    /// A `--fold` process writes only its folds' folders, each under its own lock (taken by
    /// the engine's `train_fold`), so after the claim it lets go of the run folder: several
    /// such processes then train one run side by side, while a run of every fold (which
    /// writes the run-level results) keeps the folder lock throughout.
    pub fn release_to_fold_locks(&mut self) {
        self._lock = None;
    }

    /// [`RunFolder::claim`] for a run configuration: its `out_dir`, resolved TOML, and equality
    /// with the recorded one.
    pub fn claim_for<C: RunConfig>(
        config: &C,
        data: &DataFingerprint,
        allow_data_change: bool,
        events: &dyn Reporter,
    ) -> Result<RunFolder, TrainError> {
        let resolved = config.to_toml_string();
        RunFolder::claim(
            config.out_dir(),
            &ClaimRequest {
                resolved_toml: &resolved,
                data,
                allow_data_change,
            },
            |path| Ok(&C::load_recorded(path)? == config),
            events,
        )
    }

    /// Lock an existing run folder for a writer that does not claim it (e.g. re-evaluation).
    pub fn lock_existing(dir: &Path) -> Result<RunFolder, TrainError> {
        let lock = FolderLock::acquire(dir).map_err(|e| lock_error(dir, e))?;
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

pub(crate) fn lock_error(dir: &Path, error: LockError) -> TrainError {
    match error {
        LockError::Io(e) => TrainError::io(dir.join(LOCK), e),
        held => TrainError::Config {
            path: dir.to_path_buf(),
            message: held.to_string(),
        },
    }
}

/// A folder that exists, is not empty and has no `config.toml` belongs to someone else: a run
/// would overwrite their files. Our lock and atomic writes in flight are not someone else's: a
/// folder holding only those is a run another process is claiming this instant (`--fold`
/// processes started together), and the claim's lock then waits for it.
fn refuse_foreign_folder(dir: &Path) -> Result<(), TrainError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(TrainError::Config {
                path: dir.to_path_buf(),
                message: "out_dir is a file, not a folder".into(),
            });
        }
        Err(e) => return Err(TrainError::io(dir, e)),
    };
    if dir.join(CONFIG).exists() {
        return Ok(());
    }
    let foreign: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != LOCK && !medxfer_atomic::is_temporary(name))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(TrainError::Config {
        path: dir.to_path_buf(),
        message: format!(
            "not empty and not a medxfer run folder (no {CONFIG}; it holds {}{}): choose a new or empty out_dir",
            foreign
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if foreign.len() > 3 { ", ..." } else { "" }
        ),
    })
}

/// Whether any epoch was committed in `dir` or its fold folders.
fn has_progress(dir: &Path) -> bool {
    if dir.join(PROGRESS).exists() {
        return true;
    }
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().join(PROGRESS).exists())
    })
}

fn check_same_data(
    dir: &Path,
    request: &ClaimRequest,
    events: &dyn Reporter,
) -> Result<(), TrainError> {
    let path = dir.join(DATA);
    // Runs from before `data.json` start recording it now.
    let Some(recorded) = read_json::<DataFingerprint>(&path)? else {
        return write_json(&path, request.data);
    };
    if recorded.sha256 == request.data.sha256 {
        return Ok(());
    }
    let change = format!(
        "the data changed since this run started ({} images then, {} now; manifest sha256 {} then, {} now)",
        recorded.images,
        request.data.images,
        short(&recorded.sha256),
        short(&request.data.sha256)
    );
    if request.allow_data_change {
        events.warn(format!(
            "{}: {change}; resuming anyway (--allow-data-change)",
            dir.display()
        ));
        return Ok(());
    }
    Err(TrainError::Config {
        path,
        message: format!(
            "{change}: images were added, removed or changed; resume with --allow-data-change, or train into a new out_dir"
        ),
    })
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Other(e.to_string()))?;
    write_atomic(path, text.as_bytes())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("unreadable: {e}"),
        })
}

/// Progress committed in a run folder: it names the checkpoint folders it needs.
pub trait Progress: Serialize + DeserializeOwned {
    fn checkpoints(&self) -> Vec<&str>;
    /// A finished run needs no fallback: the commit before it and its checkpoints go.
    fn is_finished(&self) -> bool;
}

/// The committed progress in `dir`, if any.
pub fn load_progress<T: Progress>(dir: &Path) -> Result<Option<T>, TrainError> {
    read_json(&dir.join(PROGRESS)).map_err(|e| match e {
        TrainError::Checkpoint { path, .. } if is_pre_engine_pretraining(&path) => {
            TrainError::Checkpoint {
                path,
                message: "written by a medxfer whose pretraining kept its own progress format (before the shared run engine): it cannot be resumed or continued; pretrain into a new out_dir (its finished encoder files still load with ssl:PATH)".into(),
            }
        }
        TrainError::Checkpoint { path, message } => TrainError::Checkpoint {
            path,
            message: message.replace("unreadable", "unreadable progress file"),
        },
        other => other,
    })
}

/// Pretraining progress from before the engine: epochs but no phases.
fn is_pre_engine_pretraining(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .is_ok_and(|value| value.get("epochs_done").is_some() && value.get("phase").is_none())
}

/// Commit `progress` atomically, keeping the commit before it (and its checkpoints) as the
/// fallback for a damaged checkpoint, then delete the checkpoint folders neither names.
pub fn commit_progress<T: Progress>(dir: &Path, progress: &T) -> Result<(), TrainError> {
    let previous_path = dir.join(PREVIOUS_PROGRESS);
    let previous: Option<T> = if progress.is_finished() {
        None
    } else {
        load_progress(dir).ok().flatten()
    };
    if let Some(previous) = &previous {
        write_json(&previous_path, previous)?;
    }
    write_json(&dir.join(PROGRESS), progress)?;
    if previous.is_none() && previous_path.exists() {
        std::fs::remove_file(&previous_path).map_err(|e| TrainError::io(&previous_path, e))?;
    }
    let mut keep = progress.checkpoints();
    if let Some(previous) = &previous {
        keep.extend(previous.checkpoints());
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(CHECKPOINT_PREFIX) && !keep.contains(&name.as_str()) {
                // A stale checkpoint left behind only costs disk space; never fail a commit.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

/// Resume from the committed progress in `dir`: `restore` loads the state its checkpoint
/// names. When the progress file or that checkpoint is damaged, the commit before it is
/// restored instead, with a warning; when that fails too, the first error is returned.
pub fn resume<T: Progress, S>(
    dir: &Path,
    events: &dyn Reporter,
    mut restore: impl FnMut(&T) -> Result<S, TrainError>,
) -> Result<Option<(T, S)>, TrainError> {
    let latest = load_progress::<T>(dir).and_then(|progress| match progress {
        Some(progress) => restore(&progress).map(|state| Some((progress, state))),
        None => Ok(None),
    });
    let error = match latest {
        Ok(resumed) => return Ok(resumed),
        Err(error) => error,
    };
    let previous = read_json::<T>(&dir.join(PREVIOUS_PROGRESS)).ok().flatten();
    let Some(previous) = previous else {
        return Err(error);
    };
    match restore(&previous) {
        Ok(state) => {
            events.warn(format!(
                "{error}; resuming from the checkpoint before it ({})",
                previous.checkpoints().join(", ")
            ));
            Ok(Some((previous, state)))
        }
        Err(_) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use medxfer_events::{Collected, Silent};

    use super::*;

    fn request<'a>(toml: &'a str, data: &'a DataFingerprint) -> ClaimRequest<'a> {
        ClaimRequest {
            resolved_toml: toml,
            data,
            allow_data_change: false,
        }
    }

    fn data(sha256: &str) -> DataFingerprint {
        DataFingerprint {
            sha256: sha256.into(),
            images: 4,
        }
    }

    #[test]
    fn pretraining_progress_from_before_the_engine_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"epochs_done": 3, "current": "ckpt-0003", "curve": [], "finished": false}"#;
        std::fs::write(dir.path().join(PROGRESS), old).unwrap();
        let err = load_progress::<crate::checkpoint::FoldProgress>(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("progress.json") && message.contains("new out_dir"),
            "{message}"
        );
        std::fs::write(dir.path().join(PROGRESS), "{\"phase\": \"x\"}").unwrap();
        let err = load_progress::<crate::checkpoint::FoldProgress>(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("unreadable progress file"),
            "{err}"
        );
    }

    #[test]
    fn a_claimed_folder_accepts_only_its_own_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let d = data("aa");
        let run = RunFolder::claim(
            dir.path(),
            &request("a = 1\n", &d),
            |_| unreachable!(),
            &Silent,
        )
        .unwrap();
        drop(run);
        let recorded = std::fs::read_to_string(dir.path().join(CONFIG)).unwrap();
        assert_eq!(recorded, "a = 1\n");
        drop(RunFolder::claim(dir.path(), &request("a = 1\n", &d), |_| Ok(true), &Silent).unwrap());
        std::fs::write(dir.path().join(PROGRESS), "{}").unwrap();
        let err = RunFolder::claim(dir.path(), &request("a = 2\n", &d), |_| Ok(false), &Silent)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(CONFIG) && err.contains("different configuration"),
            "{err}"
        );
    }

    /// Two `--fold` processes started together: the second finds the first's lock and its
    /// `config.toml` still being written (a temporary file), and claims the same run.
    #[test]
    fn a_folder_another_process_is_claiming_is_not_foreign() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK), "").unwrap();
        let in_flight = format!("{}config", medxfer_atomic::TEMPORARY_PREFIX);
        std::fs::write(dir.path().join(in_flight), "a = ").unwrap();
        let d = data("aa");
        let run = RunFolder::claim(dir.path(), &request("a = 1\n", &d), |_| Ok(true), &Silent);
        assert!(run.is_ok(), "{:?}", run.err());
        assert!(dir.path().join(CONFIG).is_file());
    }

    #[test]
    fn a_folder_holding_other_files_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("predictions.csv"), "someone's work").unwrap();
        let d = data("aa");
        let err = RunFolder::claim(
            dir.path(),
            &request("a = 1\n", &d),
            |_| unreachable!(),
            &Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("not a medxfer run folder") && err.contains("predictions.csv"),
            "{err}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("predictions.csv")]);
        let file = dir.path().join("predictions.csv");
        let err = RunFolder::claim(&file, &request("a = 1\n", &d), |_| unreachable!(), &Silent)
            .unwrap_err();
        assert!(err.to_string().contains("is a file"), "{err}");
    }

    #[test]
    fn a_run_that_never_committed_an_epoch_can_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let d = data("aa");
        drop(
            RunFolder::claim(
                dir.path(),
                &request("folds = 99\n", &d),
                |_| unreachable!(),
                &Silent,
            )
            .unwrap(),
        );
        let events = Collected::default();
        drop(
            RunFolder::claim(
                dir.path(),
                &request("folds = 5\n", &d),
                |_| Ok(false),
                &events,
            )
            .unwrap(),
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CONFIG)).unwrap(),
            "folds = 5\n"
        );
        assert!(
            events.lines()[0].contains("starting over"),
            "{:?}",
            events.lines()
        );
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let d = data("aa");
        let _first = RunFolder::claim(
            dir.path(),
            &request("a = 1\n", &d),
            |_| unreachable!(),
            &Silent,
        )
        .unwrap();
        let err = RunFolder::claim(dir.path(), &request("a = 1\n", &d), |_| Ok(true), &Silent)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(RunFolder::lock_existing(dir.path()).is_err());
    }

    #[test]
    fn resuming_on_changed_data_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        drop(
            RunFolder::claim(
                dir.path(),
                &request("a = 1\n", &data("aa")),
                |_| unreachable!(),
                &Silent,
            )
            .unwrap(),
        );
        let changed = DataFingerprint {
            sha256: "bb".into(),
            images: 5,
        };
        let err = RunFolder::claim(
            dir.path(),
            &request("a = 1\n", &changed),
            |_| Ok(true),
            &Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("data.json")
                && err.contains("4 images then, 5 now")
                && err.contains("--allow-data-change"),
            "{err}"
        );
        let events = Collected::default();
        let allowed = ClaimRequest {
            allow_data_change: true,
            ..request("a = 1\n", &changed)
        };
        drop(RunFolder::claim(dir.path(), &allowed, |_| Ok(true), &events).unwrap());
        assert!(
            events
                .lines()
                .iter()
                .any(|l| l.starts_with("warning:") && l.contains("resuming anyway"))
        );
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Step {
        current: String,
        #[serde(default)]
        finished: bool,
    }

    impl Progress for Step {
        fn checkpoints(&self) -> Vec<&str> {
            vec![self.current.as_str()]
        }

        fn is_finished(&self) -> bool {
            self.finished
        }
    }

    fn checkpoint_folders(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with(CHECKPOINT_PREFIX))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_damaged_latest_checkpoint_falls_back_to_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        for epoch in 1..=3 {
            let name = format!("ckpt-{epoch:04}");
            std::fs::create_dir(dir.path().join(&name)).unwrap();
            commit_progress(
                dir.path(),
                &Step {
                    current: name,
                    finished: false,
                },
            )
            .unwrap();
        }
        assert_eq!(checkpoint_folders(dir.path()), ["ckpt-0002", "ckpt-0003"]);
        let events = Collected::default();
        let (progress, state) = resume(dir.path(), &events, |p: &Step| {
            if p.current == "ckpt-0003" {
                Err(TrainError::Checkpoint {
                    path: dir.path().join("ckpt-0003/model.bpk"),
                    message: "truncated".into(),
                })
            } else {
                Ok(p.current.clone())
            }
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            (progress.current.as_str(), state.as_str()),
            ("ckpt-0002", "ckpt-0002")
        );
        let lines = events.lines();
        assert!(
            lines[0].contains("truncated") && lines[0].contains("ckpt-0002"),
            "{lines:?}"
        );
        // Both damaged: the latest error is the one reported.
        let err = resume(dir.path(), &Silent, |_: &Step| -> Result<(), _> {
            Err(TrainError::Other("damaged".into()))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "damaged");
        // A finished run keeps no fallback.
        let done = Step {
            current: "ckpt-0003".into(),
            finished: true,
        };
        commit_progress(dir.path(), &done).unwrap();
        assert_eq!(checkpoint_folders(dir.path()), ["ckpt-0003"]);
        assert!(!dir.path().join(PREVIOUS_PROGRESS).exists());
    }

    #[test]
    fn corrupt_progress_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROGRESS), "{not json").unwrap();
        let err = load_progress::<Step>(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("progress.json") && err.contains("unreadable progress file"),
            "{err}"
        );
    }
}
