//! An exclusive advisory lock on a folder, so that two processes never write one run folder at
//! once. The lock is the OS's (`flock`), held through an open `.medxfer.lock` file: it is
//! released when the process ends, even by kill -9, so a stale lock never blocks a resume. The
//! file holds the holder's pid, which the refused process names.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::run_files::LOCK;

/// Why a folder could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock; its pid, when it could be read.
    Held {
        holder: Option<u32>,
    },
    Io(io::Error),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { holder: Some(pid) } => write!(
                f,
                "in use by another medxfer process (pid {pid}); wait for it to finish or stop it"
            ),
            LockError::Held { holder: None } => {
                write!(f, "in use by another medxfer process")
            }
            LockError::Io(e) => write!(f, "cannot take the folder lock: {e}"),
        }
    }
}

impl std::error::Error for LockError {}

/// Held for as long as this value lives.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    // Never read: the open file is what holds the lock.
    _file: File,
}

impl FolderLock {
    /// Lock `dir` (which must exist) for this process, without waiting.
    pub fn acquire(dir: &Path) -> Result<FolderLock, LockError> {
        let path = dir.join(LOCK);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(LockError::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    holder: text.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        // Only the holder writes the pid, so a reader sees the current holder's.
        file.set_len(0).map_err(LockError::Io)?;
        file.rewind().map_err(LockError::Io)?;
        writeln!(file, "{}", std::process::id()).map_err(LockError::Io)?;
        file.flush().map_err(LockError::Io)?;
        Ok(FolderLock { path, _file: file })
    }

    /// [`FolderLock::acquire`], retrying for up to `patience` while another process holds
    /// the lock: claiming a run folder takes it for milliseconds, so `--fold` processes
    /// started together queue instead of failing.
    pub fn acquire_within(dir: &Path, patience: Duration) -> Result<FolderLock, LockError> {
        let deadline = Instant::now() + patience;
        loop {
            match FolderLock::acquire(dir) {
                Err(LockError::Held { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                result => return result,
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description, so a second open in the same
        // process conflicts just as another process would.
        let err = FolderLock::acquire(dir.path()).unwrap_err();
        let pid = std::process::id();
        assert!(
            matches!(err, LockError::Held { holder: Some(p) } if p == pid),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format!("pid {pid}")), "{err}");
        drop(first);
        FolderLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_folder_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = FolderLock::acquire(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, LockError::Io(_)), "{err:?}");
    }
}
