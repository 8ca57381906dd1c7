use std::path::PathBuf;

use medxfer_report::ReportError;
use medxfer_train::TrainError;

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(
        "{}: a segmentation run has no classes to explain; explanations need a classification run",
        run.display()
    )]
    Segmentation { run: PathBuf },
    #[error(
        "stage {requested} does not exist: the {backbone} backbone has stages 0 to {last} ({names})"
    )]
    NoSuchStage {
        requested: usize,
        backbone: String,
        last: usize,
        names: String,
    },
    #[error("class {name:?} is not one of the run's classes ({classes})")]
    UnknownClass { name: String, classes: String },
    #[error("{}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
}

impl ExplainError {
    pub(crate) fn output(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ExplainError::Output {
            path: path.into(),
            message: message.into(),
        }
    }
}
