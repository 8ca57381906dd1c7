//! Atomic file output (see `medxfer_atomic`), with errors naming the destination.

use std::path::Path;

use crate::EvalError;

/// Writes `bytes` to `path` atomically (temp file in the same folder + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    medxfer_atomic::write_atomic(path, bytes).map_err(|e| EvalError::io(path, e))
}
