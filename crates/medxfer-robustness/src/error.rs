use std::path::PathBuf;

use medxfer_data::DataError;
use medxfer_eval::EvalError;
use medxfer_report::ReportError;
use medxfer_train::TrainError;

#[derive(Debug, thiserror::Error)]
pub enum RobustnessError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The run cannot be studied (segmentation, more than two classes, unfinished...).
    #[error("{}: {message}", run.display())]
    Run { run: PathBuf, message: String },
    /// An image the bbox suite cannot crop: no mask or box, or an empty or malformed one.
    #[error("{}: {message}", image.display())]
    NoLesionBox { image: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    #[error("JPEG round trip of a {size} x {size} image failed: {message}")]
    Jpeg { size: u32, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RobustnessError {
    pub(crate) fn run(run: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        RobustnessError::Run {
            run: run.into(),
            message: message.into(),
        }
    }

    pub(crate) fn no_box(image: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        RobustnessError::NoLesionBox {
            image: image.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RobustnessError::Io {
            path: path.into(),
            source,
        }
    }
}
