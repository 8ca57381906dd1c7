//! The registry entries of ResNet-18 and ResNet-50 (see `registry.rs`).

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::{BasicBlock, Bottleneck, ResNet, ResidualUnit, STAGE_NAMES, key_layout};
use crate::registry::{BackboneDefinition, BackboneNetwork};
use crate::spec::encoder_stages;
use crate::{BackboneKind, BackboneSpec, IMAGENET_MEAN, IMAGENET_STD};

/// torchvision's `resnet18`: basic blocks [2, 2, 2, 2].
pub struct Resnet18;

/// torchvision's `resnet50`: bottleneck blocks [3, 4, 6, 3].
pub struct Resnet50;

/// The fields both ResNets share in the registry.
fn resnet_spec(kind: BackboneKind, feature_dim: usize, channels: [usize; 5]) -> BackboneSpec {
    BackboneSpec {
        kind,
        input_size: 224,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        feature_dim,
        stage_names: &STAGE_NAMES,
        first_conv_path: "conv1.weight",
        first_conv_key: "conv1.weight",
        torch_head_prefix: "fc.",
        weights: None,
        // The stem before max pooling, then layer1..layer4 (as segmentation_models_pytorch).
        encoder_stages: encoder_stages([0, 1, 2, 3, 4], channels),
    }
}

impl BackboneDefinition for Resnet18 {
    type Network = ResNet<BasicBlock>;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        ResNet::new([2, 2, 2, 2], in_channels, device)
    }

    fn spec() -> BackboneSpec {
        resnet_spec(BackboneKind::Resnet18, 512, [64, 64, 128, 256, 512])
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path)
    }
}

impl BackboneDefinition for Resnet50 {
    type Network = ResNet<Bottleneck>;

    fn build(in_channels: usize, device: &Device) -> Self::Network {
        ResNet::new([3, 4, 6, 3], in_channels, device)
    }

    fn spec() -> BackboneSpec {
        resnet_spec(BackboneKind::Resnet50, 2048, [64, 256, 512, 1024, 2048])
    }

    fn torch_key(path: &str) -> String {
        key_layout::torch_key(path)
    }
}

impl<B: ResidualUnit> BackboneNetwork for ResNet<B>
where
    ResNet<B>: Module,
{
    fn first_conv(&self) -> &Conv2d {
        &self.conv1
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        ResNet::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        ResNet::forward_stage(self, stage, x)
    }

    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
        ResNet::set_stage_trainable(self, stage, trainable)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        ResNet::batch_norms_mut(self)
    }
}
