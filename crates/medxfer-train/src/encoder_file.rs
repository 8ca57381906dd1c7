//! Reading a pretrained encoder as `medxfer train` receives it (`init = "ssl:NAME.bpk"`):
//! `NAME.bpk`, a burnpack of exactly the `medxfer_models::Backbone` module, and `NAME.json`
//! beside it naming the backbone kind, its input channels and the input the encoder was
//! trained on (size, normalisation), plus how it was made. `medxfer-ssl` writes these files;
//! the format lives here because training reads it and must not depend on pretraining.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use medxfer_models::{Backbone, BackboneKind};
use serde::{Deserialize, Serialize};

use crate::TrainError;

pub const ENCODER_FORMAT: &str = "medxfer-ssl-encoder";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EncoderInfo {
    /// Always `medxfer-ssl-encoder`.
    pub format: String,
    pub version: u32,
    pub backbone: BackboneKind,
    pub in_channels: usize,
    /// Side of the square images the encoder was pretrained on.
    pub input_size: u32,
    /// Per-channel normalisation of luma in [0, 1] the encoder expects: `(v - mean) / std`.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub method: String,
    pub epochs: usize,
    pub seed: u64,
    /// Spread of the normalised projections at the last epoch, and whether it was collapsed.
    pub final_spread: f64,
    pub collapsed: bool,
    /// Evaluation test images kept out of pretraining, and where they came from.
    pub excluded_test_images: usize,
    pub excluded_from: Option<String>,
    pub code_version: String,
}

/// `encoder.bpk` -> `encoder.json`.
pub fn sidecar_path(encoder: &Path) -> PathBuf {
    encoder.with_extension("json")
}

pub fn read_info(path: &Path) -> Result<EncoderInfo, TrainError> {
    let sidecar = sidecar_path(path);
    let text = std::fs::read_to_string(&sidecar).map_err(|e| TrainError::io(&sidecar, e))?;
    let info: EncoderInfo = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: sidecar.clone(),
        message: format!("not a medxfer SSL encoder description: {e}"),
    })?;
    if info.format != ENCODER_FORMAT {
        return Err(TrainError::Checkpoint {
            path: sidecar,
            message: format!("format is `{}`, expected `{ENCODER_FORMAT}`", info.format),
        });
    }
    Ok(info)
}

/// The encoder at `path` (with its description) on `device`.
pub fn read_encoder(path: &Path, device: &Device) -> Result<(Backbone, EncoderInfo), TrainError> {
    let info = read_info(path)?;
    let backbone = Backbone::new(info.backbone, info.in_channels, device)
        .try_load_file(path)
        .map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot load the {} encoder: {e}", info.backbone),
        })?;
    Ok((backbone, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_foreign_sidecar_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encoder.bpk");
        let err = read_info(&path).unwrap_err().to_string();
        assert!(err.contains("encoder.json"), "{err}");
        std::fs::write(dir.path().join("encoder.json"), r#"{"format": "other"}"#).unwrap();
        let err = read_info(&path).unwrap_err().to_string();
        assert!(err.contains("encoder.json"), "{err}");
    }
}
