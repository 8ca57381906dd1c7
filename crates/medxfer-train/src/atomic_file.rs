//! Outputs are replaced atomically: written to a temporary file in the same folder, flushed,
//! then renamed over the destination, so a killed process never leaves a half-written file.

use std::io::Write;
use std::path::Path;

use crate::TrainError;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| TrainError::io(path, e))
}

/// The temporary sibling used while `path` is being written.
pub fn temp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}
