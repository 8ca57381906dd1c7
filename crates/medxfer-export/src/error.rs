use std::path::PathBuf;

use medxfer_train::TrainError;

/// Everything that stops an export, each naming the file or folder at fault.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Not a finished run folder, or one whose configuration or models cannot be read.
    #[error(transparent)]
    Run(#[from] TrainError),
    #[error("{path}: a segmentation run cannot be exported yet (only classification runs)")]
    Segmentation { path: PathBuf },
    #[error("{path}: {message}")]
    OutputFolder { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ExportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ExportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
