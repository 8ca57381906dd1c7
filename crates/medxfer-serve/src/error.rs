//! Errors of starting the server and of handling one upload.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {addr} without a bearer token: a non-loopback address needs --token-file"
    )]
    TokenRequired { addr: SocketAddr },
    #[error("{path}: {message}")]
    TokenFile { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    RunFolder { path: PathBuf, message: String },
    #[error(transparent)]
    Explain(#[from] medxfer_explain::ExplainError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Runtime(String),
}

/// Why an upload could not be answered; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("not a PNG, JPEG or DICOM file (checked by its first bytes)")]
    NotAnImage,
    #[error("cannot decode the {kind} upload: {message}")]
    Undecodable { kind: &'static str, message: String },
    #[error("DICOM refused on de-identification: {0}")]
    Deidentification(String),
    #[error("cannot explain the upload: {0}")]
    Model(String),
    #[error("server error: {0}")]
    Internal(String),
}
