//! The pretrained encoder as other commands receive it: `NAME.bpk`, a burnpack of exactly the
//! `medxfer_models::Backbone` module (what `init = "ssl:NAME.bpk"` loads), and `NAME.json`
//! beside it naming the backbone kind, its input channels and the input the encoder was
//! trained on (size, normalisation), plus how it was made.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use medxfer_models::{Backbone, BackboneKind};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::ssl::method::save_module;

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

pub fn write_encoder(
    encoder: &Backbone,
    info: &EncoderInfo,
    path: &Path,
) -> Result<(), TrainError> {
    save_module(encoder, path)?;
    let text = serde_json::to_string_pretty(info).map_err(|e| TrainError::Other(e.to_string()))?;
    write_atomic(&sidecar_path(path), text.as_bytes())
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
    use crate::model_setup::Architecture;
    use medxfer_models::{HeadConfig, Init};

    fn info() -> EncoderInfo {
        EncoderInfo {
            format: ENCODER_FORMAT.into(),
            version: 1,
            backbone: BackboneKind::Resnet18,
            in_channels: 1,
            input_size: 16,
            mean: vec![0.5],
            std: vec![0.5],
            method: "simclr".into(),
            epochs: 1,
            seed: 1,
            final_spread: 0.7,
            collapsed: false,
            excluded_test_images: 0,
            excluded_from: None,
            code_version: "test".into(),
        }
    }

    fn features(backbone: &Backbone, device: &Device) -> Vec<f32> {
        let x: Vec<f32> = (0..2 * 16 * 16)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [2, 1, 16, 16]), device);
        backbone
            .valid()
            .forward_features(x)
            .into_data()
            .iter::<f32>()
            .collect()
    }

    #[test]
    fn checkpoint_initialises_the_classifier_medxfer_train_builds() {
        let device = Device::flex();
        device.seed(11);
        let encoder = Backbone::new(BackboneKind::Resnet18, 1, &device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encoder.bpk");
        write_encoder(&encoder, &info(), &path).unwrap();
        assert_eq!(read_info(&path).unwrap(), info());

        // What `medxfer train` does for `init = "ssl:PATH"`.
        let architecture = Architecture {
            backbone: BackboneKind::Resnet18,
            in_channels: 1,
            head: HeadConfig::Linear,
            num_classes: 3,
        };
        let classifier = architecture
            .build_initialised(&Init::Ssl(path.clone()), dir.path(), &device)
            .unwrap();
        let expected = features(&encoder, &device);
        let got = features(&classifier.backbone, &device);
        assert_eq!(expected.len(), 2 * 512);
        for (a, b) in expected.iter().zip(&got) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // A fresh network differs, so the comparison above is not vacuous.
        let fresh = features(&architecture.build(&device).backbone, &device);
        assert!(
            expected
                .iter()
                .zip(&fresh)
                .any(|(a, b)| (a - b).abs() > 1e-3)
        );

        let (loaded, _) = read_encoder(&path, &device).unwrap();
        assert_eq!(features(&loaded, &device), expected);
    }

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
