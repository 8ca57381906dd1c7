//! The one error type of this crate; every variant names the file (or the setting) at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: dataset root has no class folders")]
    NoClasses { path: PathBuf },
    #[error("{path}: class folder contains no images")]
    EmptyClass { path: PathBuf },
    #[error("{path}: file not found (referenced by {referenced_by})")]
    MissingFile {
        path: PathBuf,
        referenced_by: String,
    },
    #[error("{path}: line {line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    Npz { path: PathBuf, message: String },
    #[error("{path}: cannot decode image: {message}")]
    Decode { path: PathBuf, message: String },
    #[error(
        "{path}: declares {width} x {height} pixels, above the limit of {limit} (data.max_image_pixels)"
    )]
    ImageTooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        limit: u64,
    },
    #[error("{path}: unsupported image format '.{extension}'{hint}")]
    UnsupportedFormat {
        path: PathBuf,
        extension: String,
        hint: String,
    },
    #[error(
        "{path}: mask is {mask_width}x{mask_height} but its image is {image_width}x{image_height}"
    )]
    MaskSizeMismatch {
        path: PathBuf,
        mask_width: u32,
        mask_height: u32,
        image_width: u32,
        image_height: u32,
    },
    #[error(
        "{path}: mask is not binary: {distinct} distinct values ({values}); expected 0 and one foreground value (resampled or JPEG masks have intermediate greys)"
    )]
    NonBinaryMask {
        path: PathBuf,
        distinct: usize,
        /// The first few values on a 0-255 scale.
        values: String,
    },
    #[error("{path}: image has no segmentation mask")]
    MissingMask { path: PathBuf },
    /// A file or row that does not match the rest of a dataset's layout.
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    #[error("unknown class '{name}' (classes: {available})")]
    UnknownClass { name: String, available: String },
    #[error("invalid dataset configuration: {0}")]
    Config(String),
    #[error("cannot split: {0}")]
    Split(String),
    #[error("{path}: image cache: {message}")]
    Cache { path: PathBuf, message: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
