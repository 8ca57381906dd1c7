use std::path::PathBuf;

/// Everything that can go wrong while configuring, training, resuming or predicting.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
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
    #[error(transparent)]
    Data(#[from] medxfer_data::DataError),
    #[error(transparent)]
    Model(#[from] medxfer_models::ModelError),
    #[error(transparent)]
    Eval(#[from] medxfer_eval::EvalError),
    #[error(transparent)]
    Report(#[from] medxfer_report::ReportError),
    /// A task's own error (e.g. pretraining's) carried through the run engine's hooks.
    #[error(transparent)]
    Task(Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Other(String),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        TrainError::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
