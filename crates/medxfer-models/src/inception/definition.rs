//! The registry entry of Inception-v3 (see `registry.rs`).

use burn::prelude::*;

use super::{FEATURES, InceptionV3, STAGE_NAMES, key_layout};
use crate::registry::BackboneDefinition;
use crate::spec::encoder_stages;
use crate::{BackboneKind, BackboneSpec};

/// torchvision's `inception_v3` without its auxiliary classifier and `fc`. No PyPI package
/// ships Inception-v3 weights inside its wheel, so there are no registry weights;
/// `model.init = "file:PATH"` takes a torchvision `inception_v3` state dict.
pub struct InceptionV3Definition;

/// The input normalisation Inception-v3's weights were trained with, on [0, 1] RGB pixels:
/// (x - 0.5) / 0.5, i.e. [-1, 1] (Google's TensorFlow training, Keras's `preprocess_input`
/// mode "tf"). torchvision's `IMAGENET1K_V1` weights expect the same: loading them switches on
/// `transform_input`, which turns an ImageNet mean/std-normalised input back into exactly
/// this. medxfer has no `transform_input`, so the spec states it directly.
pub const INCEPTION_MEAN: [f32; 3] = [0.5, 0.5, 0.5];
pub const INCEPTION_STD: [f32; 3] = [0.5, 0.5, 0.5];

/// Key prefixes of a torchvision `inception_v3` state dict that are not the backbone's: the
/// ImageNet classifier and the auxiliary classifier on Mixed_6e (present in torchvision's
/// pretrained weights, which are built with `aux_logits=True`).
const TORCH_HEAD_PREFIXES: [&str; 2] = ["fc.", "AuxLogits."];

impl BackboneDefinition for InceptionV3Definition {
    type Network = InceptionV3;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        InceptionV3::new(in_channels, device)
    }

    fn spec() -> BackboneSpec {
        BackboneSpec {
            kind: BackboneKind::InceptionV3,
            input_size: 299,
            mean: INCEPTION_MEAN,
            std: INCEPTION_STD,
            feature_dim: FEATURES,
            stage_names: &STAGE_NAMES,
            first_conv_path: "conv2d_1a_3x3.conv.weight",
            first_conv_key: "Conv2d_1a_3x3.conv.weight",
            torch_head_prefix: TORCH_HEAD_PREFIXES[0],
            weights: None,
            // Each stage ends at one stride: Conv2d_2b (64 channels, stride 2), Conv2d_4a
            // (192, stride 4), Mixed_5d (288, stride 8), Mixed_6e (768, stride 16) and
            // Mixed_7c (2048, stride 32), the pooled map.
            encoder_stages: encoder_stages([0, 1, 2, 3, 4], [64, 192, 288, 768, FEATURES]),
        }
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path)
    }

    fn is_torch_head_key(key: &str) -> bool {
        TORCH_HEAD_PREFIXES
            .iter()
            .any(|prefix| key.starts_with(prefix))
    }
}
