use std::path::{Path, PathBuf};

use medxfer_train::TrainError;

/// Everything that can go wrong while configuring, pretraining or evaluating an encoder.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid setting `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The run engine's, the run folder's and the training configuration's errors.
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Data(#[from] medxfer_data::DataError),
    #[error(transparent)]
    Model(#[from] medxfer_models::ModelError),
    #[error(transparent)]
    Eval(#[from] medxfer_eval::EvalError),
    #[error(transparent)]
    Report(#[from] medxfer_report::ReportError),
    #[error("{0}")]
    Other(String),
}

impl SslError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SslError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        SslError::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// The engine's task hooks answer in `TrainError`: an SSL error travels through it unchanged
/// with its message unchanged, also when it comes back out wrapped in `SslError::Train`.
impl From<SslError> for TrainError {
    fn from(error: SslError) -> Self {
        match error {
            SslError::Train(inner) => inner,
            other => TrainError::Task(Box::new(other)),
        }
    }
}

/// Replace `path` atomically (see `medxfer_atomic`), naming it in the error.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SslError> {
    medxfer_atomic::write_atomic(path, bytes).map_err(|e| SslError::io(path, e))
}
