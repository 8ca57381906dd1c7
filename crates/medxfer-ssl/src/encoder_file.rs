//! Writing the pretrained encoder as other commands receive it: `NAME.bpk`, a burnpack of
//! exactly the `medxfer_models::Backbone` module (what `init = "ssl:NAME.bpk"` loads), and
//! `NAME.json` beside it. The format and its reader are `medxfer_train::encoder_file`'s, since
//! training reads encoders without depending on this crate.

use std::path::Path;

use medxfer_models::Backbone;
pub use medxfer_train::encoder_file::{
    ENCODER_FORMAT, EncoderInfo, read_encoder, read_info, sidecar_path,
};

use crate::SslError;
use crate::error::write_atomic;
use crate::method::save_module;

pub fn write_encoder(encoder: &Backbone, info: &EncoderInfo, path: &Path) -> Result<(), SslError> {
    save_module(encoder, path)?;
    let text = serde_json::to_string_pretty(info).map_err(|e| SslError::Other(e.to_string()))?;
    write_atomic(&sidecar_path(path), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;
    use medxfer_models::{BackboneKind, HeadConfig, Init};
    use medxfer_train::model_setup::Architecture;

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
}
