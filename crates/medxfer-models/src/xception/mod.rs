//! Xception (Chollet 2017) as `keras.applications.Xception` without its top: a stem of two 3x3
//! convolutions (32, 64), entry-flow blocks 2-4 (128, 256, 728 channels, each halving the map),
//! the middle flow (blocks 5-12, 728 channels), the exit flow (block 13 to 1024 channels at
//! stride 32, then separable convolutions to 1536 and 2048 with ReLU) and global average
//! pooling: 2048 features. Burn paths follow Keras's layer names (`block2.sepconv1` is
//! `block2_sepconv1`, `middle.0` is block 5); `key_layout.rs` maps them.
//!
//! One deliberate difference: Keras's two stem convolutions are unpadded (224 -> 111 -> 109);
//! here they pad by 1 (224 -> 112 -> 112), so every map sits at ceil(size / stride) for the
//! U-Net skips, as segmentation_models_pytorch's Xception encoder does. The weights are the
//! same, but the padding shifts the grid every later stride-2 layer samples, so features are
//! not Keras's: measured on a synthetic input, a relative L2 gap of 0.28 at 254 px and 0.32 at
//! 224 px (correlation 0.96 / 0.94) against Keras's own graph.

mod definition;
mod key_layout;
mod layers;

pub use definition::XceptionDefinition;
pub use layers::{MiddleBlock, ReductionBlock, SeparableConvBn};

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::conv_bn::{batch_norm_tf, conv_fan_in, global_average_pool, set_trainable};
use crate::fast_cpu::{Activation, forward_conv_bn};
use crate::registry::BackboneNetwork;

/// Channels of the middle flow.
pub const MIDDLE_CHANNELS: usize = 728;
/// Blocks of the middle flow (Keras's blocks 5-12).
pub const MIDDLE_BLOCKS: usize = 8;
/// Width of the pooled features.
pub const FEATURES: usize = 2048;

/// Stages for partial unfreezing and Grad-CAM, stem first: `stem` (block 1, stride 2),
/// `block2..4` (entry flow, strides 4, 8, 16), `middle` (blocks 5-12, stride 16) and `exit`
/// (block 13 and the two final separable convolutions with their ReLU, stride 32: the map the
/// classifier pools).
pub const STAGE_NAMES: [&str; 6] = ["stem", "block2", "block3", "block4", "middle", "exit"];

#[derive(Module, Debug)]
pub struct Xception {
    /// Keras `block1_conv1` (3x3 stride 2, 32 channels) and its batch norm.
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    /// Keras `block1_conv2` (3x3, 64 channels) and its batch norm.
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub block2: ReductionBlock,
    pub block3: ReductionBlock,
    pub block4: ReductionBlock,
    /// Keras blocks 5..12.
    pub middle: Vec<MiddleBlock>,
    pub block13: ReductionBlock,
    pub block14_sepconv1: SeparableConvBn,
    pub block14_sepconv2: SeparableConvBn,
}

impl Xception {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv_fan_in([in_channels, 32], 3, 2, 1, device),
            bn1: batch_norm_tf(32, device),
            conv2: conv_fan_in([32, 64], 3, 1, 1, device),
            bn2: batch_norm_tf(64, device),
            block2: ReductionBlock::new([64, 128, 128], device),
            block3: ReductionBlock::new([128, 256, 256], device),
            block4: ReductionBlock::new([256, MIDDLE_CHANNELS, MIDDLE_CHANNELS], device),
            middle: (0..MIDDLE_BLOCKS)
                .map(|_| MiddleBlock::new(MIDDLE_CHANNELS, device))
                .collect(),
            block13: ReductionBlock::new([MIDDLE_CHANNELS, MIDDLE_CHANNELS, 1024], device),
            block14_sepconv1: SeparableConvBn::new([1024, 1536], device),
            block14_sepconv2: SeparableConvBn::new([1536, FEATURES], device),
        }
    }

    /// Run one stage (index into `STAGE_NAMES`) on the previous stage's output; any other
    /// index returns `x` unchanged.
    pub fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        match stage {
            0 => {
                let x = forward_conv_bn(&self.conv1, &self.bn1, x, Activation::Relu);
                forward_conv_bn(&self.conv2, &self.bn2, x, Activation::Relu)
            }
            1 => self.block2.forward(x, false),
            2 => self.block3.forward(x, true),
            3 => self.block4.forward(x, true),
            4 => self.middle.iter().fold(x, |x, block| block.forward(x)),
            5 => {
                let x = self.block13.forward(x, true);
                let x = relu(self.block14_sepconv1.forward(x));
                relu(self.block14_sepconv2.forward(x))
            }
            _ => x,
        }
    }

    /// B x C x H x W -> B x 2048.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = (0..STAGE_NAMES.len()).fold(x, |x, stage| self.forward_stage(stage, x));
        global_average_pool(x)
    }

    /// Every batch norm, in forward order (a reduction block's projection norm first, as its
    /// skip path is computed before the main path).
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms = vec![&mut self.bn1, &mut self.bn2];
        for block in [&mut self.block2, &mut self.block3, &mut self.block4] {
            norms.extend(reduction_norms(block));
        }
        for block in self.middle.iter_mut() {
            norms.extend([
                &mut block.sepconv1.bn,
                &mut block.sepconv2.bn,
                &mut block.sepconv3.bn,
            ]);
        }
        norms.extend(reduction_norms(&mut self.block13));
        norms.extend([&mut self.block14_sepconv1.bn, &mut self.block14_sepconv2.bn]);
        norms
    }

    /// Set gradients / training behaviour of one stage (index into `STAGE_NAMES`).
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        match stage {
            0 => {
                self.conv1 = set_trainable(self.conv1, trainable);
                self.bn1 = set_trainable(self.bn1, trainable);
                self.conv2 = set_trainable(self.conv2, trainable);
                self.bn2 = set_trainable(self.bn2, trainable);
            }
            1 => self.block2 = set_trainable(self.block2, trainable),
            2 => self.block3 = set_trainable(self.block3, trainable),
            3 => self.block4 = set_trainable(self.block4, trainable),
            4 => self.middle = set_trainable(self.middle, trainable),
            5 => {
                self.block13 = set_trainable(self.block13, trainable);
                self.block14_sepconv1 = set_trainable(self.block14_sepconv1, trainable);
                self.block14_sepconv2 = set_trainable(self.block14_sepconv2, trainable);
            }
            _ => {}
        }
        self
    }
}

/// A reduction block's batch norms in forward order.
fn reduction_norms(block: &mut ReductionBlock) -> [&mut BatchNorm; 3] {
    [
        &mut block.skip_bn,
        &mut block.sepconv1.bn,
        &mut block.sepconv2.bn,
    ]
}

impl BackboneNetwork for Xception {
    fn first_conv(&self) -> &Conv2d {
        &self.conv1
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        Xception::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        Xception::forward_stage(self, stage, x)
    }

    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
        Xception::set_stage_trainable(self, stage, trainable)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        Xception::batch_norms_mut(self)
    }
}

#[cfg(test)]
mod tests;
