//! Errors of the DICOM / NIfTI layer: every variant names the file and what is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    #[error("{path}: cannot read file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable DICOM file: {message}")]
    NotDicom { path: PathBuf, message: String },
    #[error(
        "{path}: {element} declares {declared} bytes but the file has {file_size} \
         ({remaining} bytes left there): truncated, or a forged length"
    )]
    DeclaredLength {
        path: PathBuf,
        element: String,
        declared: u64,
        file_size: String,
        remaining: u64,
    },
    #[error("{path}: DICOM object has no Pixel Data (7FE0,0010)")]
    NoPixelData { path: PathBuf },
    #[error("{path}: transfer syntax {uid} ({name}) is not supported by this build: {reason}")]
    UnsupportedTransferSyntax {
        path: PathBuf,
        uid: String,
        name: String,
        reason: String,
    },
    #[error("{path}: cannot decode pixel data ({syntax}): {message}")]
    Decode {
        path: PathBuf,
        syntax: String,
        message: String,
    },
    #[error("{path}: invalid image attribute: {message}")]
    InvalidAttribute { path: PathBuf, message: String },
    #[error("{path}: frame {frame} out of range (the object has {frames} frames)")]
    FrameOutOfRange {
        path: PathBuf,
        frame: u32,
        frames: u32,
    },
    #[error("{path}: {message}")]
    Nifti { path: PathBuf, message: String },
    #[error("{path}: cannot write output: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Deid { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Labels { path: PathBuf, message: String },
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

impl DicomError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DicomError::Io {
            path: path.into(),
            source,
        }
    }
}
