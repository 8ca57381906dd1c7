//! The one error type of medxfer-eval.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    #[error("{0}: no cases")]
    Empty(&'static str),
    #[error("{what}: needs both classes, got {n_pos} positive and {n_neg} negative cases")]
    OneClassOnly {
        what: &'static str,
        n_pos: usize,
        n_neg: usize,
    },
    #[error("{what}: value {value} at index {index} is not a finite number")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    #[error("{what}: label {label} at index {index} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        what: &'static str,
        index: usize,
        label: usize,
        n_classes: usize,
    },
    #[error("{0}")]
    InvalidArgument(String),
    #[error(
        "{what}: needs at least {needed} cases per class, got {n_pos} positive and {n_neg} negative"
    )]
    TooFewCases {
        what: &'static str,
        needed: usize,
        n_pos: usize,
        n_neg: usize,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
}

impl EvalError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn bad_file(path: &std::path::Path, message: impl Into<String>) -> Self {
        EvalError::BadFile {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
