//! DenseNet-121 in torchvision's layout (`features.conv0`, `norm0`, `denseblock1..4` of
//! `denselayerN.norm1/conv1/norm2/conv2`, `transition1..3`, `norm5`; growth 32, bottleneck
//! 4 x growth, blocks 6/12/24/16, 1024 features). Burn paths drop `features.` and number the
//! layers of a block from 0 (`denseblock1.0.norm1`); `key_layout.rs` maps them to torchvision's
//! and Keras's names.

mod definition;
mod key_layout;
mod layers;

pub use definition::Densenet121;
pub use layers::{DenseLayer, Transition};

use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;

use crate::conv_bn::{conv_fan_in as conv, global_average_pool, set_trainable};
use crate::fast_cpu::{Activation, forward_batch_norm_act, forward_conv_bn, forward_max_pool2d};
use crate::registry::BackboneNetwork;
use layers::{batch_norm, forward_dense_block};

/// New channels per dense layer.
pub const GROWTH: usize = 32;
/// The bottleneck convolution's width in units of `GROWTH`.
pub const BN_SIZE: usize = 4;
/// Channels of the stem convolution.
pub const STEM_CHANNELS: usize = 64;
/// Dense layers per block of DenseNet-121.
pub const BLOCKS: [usize; 4] = [6, 12, 24, 16];

/// Stages for partial unfreezing and Grad-CAM, stem first. Each dense-block stage starts with
/// what comes before the block: max pooling for `denseblock1`, `transitionN` for the others;
/// `denseblock4` ends with `norm5` and its ReLU, so its map is the one the classifier pools.
pub const STAGE_NAMES: [&str; 5] = [
    "stem",
    "denseblock1",
    "denseblock2",
    "denseblock3",
    "denseblock4",
];

#[derive(Module, Debug)]
pub struct DenseNet {
    pub conv0: Conv2d,
    pub norm0: BatchNorm,
    pub pool0: MaxPool2d,
    pub denseblock1: Vec<DenseLayer>,
    pub transition1: Transition,
    pub denseblock2: Vec<DenseLayer>,
    pub transition2: Transition,
    pub denseblock3: Vec<DenseLayer>,
    pub transition3: Transition,
    pub denseblock4: Vec<DenseLayer>,
    pub norm5: BatchNorm,
}

impl DenseNet {
    /// `blocks`: dense layers per block ([6, 12, 24, 16] for DenseNet-121).
    pub fn new(blocks: [usize; 4], in_channels: usize, device: &Device) -> Self {
        // Each transition halves the channels its block ends with (compression 0.5).
        let (denseblock1, width1) = dense_block(STEM_CHANNELS, blocks[0], device);
        let transition1 = Transition::new(width1, width1 / 2, device);
        let (denseblock2, width2) = dense_block(width1 / 2, blocks[1], device);
        let transition2 = Transition::new(width2, width2 / 2, device);
        let (denseblock3, width3) = dense_block(width2 / 2, blocks[2], device);
        let transition3 = Transition::new(width3, width3 / 2, device);
        let (denseblock4, width4) = dense_block(width3 / 2, blocks[3], device);
        Self {
            conv0: conv([in_channels, STEM_CHANNELS], 7, 2, 3, device),
            norm0: batch_norm(STEM_CHANNELS, device),
            pool0: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            denseblock1,
            transition1,
            denseblock2,
            transition2,
            denseblock3,
            transition3,
            denseblock4,
            norm5: batch_norm(width4, device),
        }
    }

    /// Run one stage (index into `STAGE_NAMES`) on the previous stage's output. Callers pass
    /// indices from the registry; any other index returns `x` unchanged.
    pub fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        match stage {
            0 => forward_conv_bn(&self.conv0, &self.norm0, x, Activation::Relu),
            1 => forward_dense_block(&self.denseblock1, forward_max_pool2d(&self.pool0, x)),
            2 => forward_dense_block(&self.denseblock2, self.transition1.forward(x)),
            3 => forward_dense_block(&self.denseblock3, self.transition2.forward(x)),
            4 => {
                let x = forward_dense_block(&self.denseblock4, self.transition3.forward(x));
                forward_batch_norm_act(&self.norm5, x, Activation::Relu)
            }
            _ => x,
        }
    }

    /// B x C x H x W -> B x 1024.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = (0..STAGE_NAMES.len()).fold(x, |x, stage| self.forward_stage(stage, x));
        global_average_pool(x)
    }

    /// Every batch norm, in forward order.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms = vec![&mut self.norm0];
        let blocks = [
            (&mut self.denseblock1, Some(&mut self.transition1)),
            (&mut self.denseblock2, Some(&mut self.transition2)),
            (&mut self.denseblock3, Some(&mut self.transition3)),
            (&mut self.denseblock4, None),
        ];
        for (block, transition) in blocks {
            for layer in block.iter_mut() {
                norms.extend([&mut layer.norm1, &mut layer.norm2]);
            }
            norms.extend(transition.map(|transition| &mut transition.norm));
        }
        norms.push(&mut self.norm5);
        norms
    }

    /// Set gradients / training behaviour of one stage (index into `STAGE_NAMES`).
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        match stage {
            0 => {
                self.conv0 = set_trainable(self.conv0, trainable);
                self.norm0 = set_trainable(self.norm0, trainable);
            }
            1 => self.denseblock1 = set_trainable(self.denseblock1, trainable),
            2 => {
                self.transition1 = set_trainable(self.transition1, trainable);
                self.denseblock2 = set_trainable(self.denseblock2, trainable);
            }
            3 => {
                self.transition2 = set_trainable(self.transition2, trainable);
                self.denseblock3 = set_trainable(self.denseblock3, trainable);
            }
            4 => {
                self.transition3 = set_trainable(self.transition3, trainable);
                self.denseblock4 = set_trainable(self.denseblock4, trainable);
                self.norm5 = set_trainable(self.norm5, trainable);
            }
            _ => {}
        }
        self
    }
}

/// `count` dense layers after `in_channels` input channels, and the channels they end with.
fn dense_block(in_channels: usize, count: usize, device: &Device) -> (Vec<DenseLayer>, usize) {
    let layers = (0..count)
        .map(|index| DenseLayer::new(in_channels + index * GROWTH, GROWTH, BN_SIZE, device))
        .collect();
    (layers, in_channels + count * GROWTH)
}

impl BackboneNetwork for DenseNet {
    fn first_conv(&self) -> &Conv2d {
        &self.conv0
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        DenseNet::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        DenseNet::forward_stage(self, stage, x)
    }

    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
        DenseNet::set_stage_trainable(self, stage, trainable)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        DenseNet::batch_norms_mut(self)
    }
}

#[cfg(test)]
mod tests;
