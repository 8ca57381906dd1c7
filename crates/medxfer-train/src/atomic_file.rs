//! Outputs are replaced atomically (see `medxfer_atomic`), so a killed process never leaves a
//! half-written file; errors name the destination.

use std::path::Path;

use crate::TrainError;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    medxfer_atomic::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}
