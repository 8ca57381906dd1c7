use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Eval(#[from] medxfer_eval::EvalError),
}

impl ReportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn format(path: &std::path::Path, message: impl Into<String>) -> Self {
        ReportError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
