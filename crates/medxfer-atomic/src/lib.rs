//! Atomic file output for every medxfer crate: the bytes go to a temporary file in the
//! destination's folder, are flushed to disk, then the file is renamed over the destination.
//! A reader never sees a half-written file and a killed process never damages an existing one.
//! Each crate wraps these in its own error type, naming the destination.
//!
//! Beside it: the folder lock every run-folder writer takes ([`FolderLock`]) and the run
//! folder's file names ([`run_files`]), so that all crates agree on them.

pub mod lock;
pub mod run_files;

pub use lock::{FolderLock, LockError};

use std::io::{self, Write};
use std::path::Path;

/// The name prefix of a file being written atomically (renamed over its destination when
/// complete).
pub const TEMPORARY_PREFIX: &str = ".medxfer-tmp-";

/// Whether a folder entry named `name` is one of medxfer's atomic writes in flight (or left by
/// a killed process): never a user's file.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with(TEMPORARY_PREFIX)
}

/// Write `bytes` to `path` atomically. The parent folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |writer| writer.write_all(bytes))
}

/// Write what `fill` produces to `path` atomically (buffered). The parent folder must exist.
/// On any error the temporary file is removed and `path` is left as it was.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMPORARY_PREFIX)
        .tempfile_in(dir)?;
    {
        let mut writer = io::BufWriter::new(tmp.as_file_mut());
        fill(&mut writer)?;
        writer.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failing_writer_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"kept").unwrap();
        let err = write_atomic_with(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "encoder failed");
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/out.txt"), b"x").is_err());
    }
}
