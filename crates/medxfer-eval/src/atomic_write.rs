//! Atomic file output: write a temporary file in the destination folder, then rename, so a
//! reader never sees a half-written file even if the process is killed.

use std::io::Write;
use std::path::Path;

use crate::EvalError;

/// Writes `bytes` to `path` atomically (temp file in the same folder + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".medxfer-tmp-")
        .tempfile_in(dir)
        .map_err(|e| EvalError::io(path, e))?;
    tmp.write_all(bytes).map_err(|e| EvalError::io(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| EvalError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| EvalError::io(path, e.error))?;
    Ok(())
}
