//! Atomic output (see `medxfer_atomic`), creating parent folders, with errors naming the file.

use std::io::Write;
use std::path::Path;

use crate::error::DicomError;

/// Writes `path` atomically with the bytes produced by `fill`; creates parent folders.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), DicomError> {
    let fail = |message: String| DicomError::Write {
        path: path.into(),
        message,
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    medxfer_atomic::write_atomic_with(path, |writer| fill(writer).map_err(std::io::Error::other))
        .map_err(|e| fail(e.to_string()))
}
