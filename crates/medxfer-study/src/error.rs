//! The one error type of medxfer-study. Every message is one line naming the file (or the
//! cell) and the problem.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The study file (or a file it names) is malformed or asks for something impossible.
    #[error("{}: {message}", path.display())]
    Definition { path: PathBuf, message: String },
    /// A grid cell's configuration does not resolve to a valid run configuration.
    #[error("cell {cell}: {message}")]
    Cell { cell: String, message: String },
    /// `--shard` or the scheduler's environment variables are malformed.
    #[error("{0}")]
    Shard(String),
    /// The study folder belongs to another study, or is not a study folder.
    #[error("{}: {message}", path.display())]
    Folder { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Train(#[from] medxfer_train::TrainError),
    #[error(transparent)]
    Eval(#[from] medxfer_eval::EvalError),
    #[error(transparent)]
    Report(#[from] medxfer_report::ReportError),
}

impl StudyError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StudyError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn definition(path: &Path, message: impl Into<String>) -> Self {
        StudyError::Definition {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn folder(path: &Path, message: impl Into<String>) -> Self {
        StudyError::Folder {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn store(path: &Path, source: rusqlite::Error) -> Self {
        StudyError::Store {
            path: path.to_path_buf(),
            source,
        }
    }
}
