//! torchvision-layout ResNet (conv1, bn1, layer1..layer4; the `fc` classifier lives in a `Head`).

mod basic_block;
mod bottleneck;
mod definition;
mod downsample;
mod key_layout;

pub use basic_block::BasicBlock;
pub use bottleneck::Bottleneck;
pub use definition::{Resnet18, Resnet50};
pub use downsample::Downsample;

use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;

use crate::conv_bn::{batch_norm, conv, global_average_pool, set_trainable};
use crate::fast_cpu::{Activation, forward_conv_bn, forward_max_pool2d};

/// A residual block type (basic or bottleneck).
pub trait ResidualUnit: Module {
    /// Output channels per `planes`.
    const EXPANSION: usize;
    fn new(in_channels: usize, planes: usize, stride: usize, device: &Device) -> Self;
    fn forward(&self, x: Tensor<4>) -> Tensor<4>;
    /// Every batch norm of the block, in forward order.
    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm>;
}

/// Stem plus four stages of residual blocks.
#[derive(Module, Debug)]
pub struct ResNet<B: Module> {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<B>,
    pub layer2: Vec<B>,
    pub layer3: Vec<B>,
    pub layer4: Vec<B>,
}

/// Stage names, stem first, used for partial unfreezing.
pub const STAGE_NAMES: [&str; 5] = ["stem", "layer1", "layer2", "layer3", "layer4"];

impl<B: ResidualUnit> ResNet<B> {
    /// `blocks`: residual blocks per stage ([2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for -50).
    pub fn new(blocks: [usize; 4], in_channels: usize, device: &Device) -> Self {
        let mut channels = 64;
        let mut make_layer = |planes: usize, count: usize, stride: usize| {
            let mut layer = Vec::with_capacity(count);
            for index in 0..count {
                let block_stride = if index == 0 { stride } else { 1 };
                layer.push(B::new(channels, planes, block_stride, device));
                channels = planes * B::EXPANSION;
            }
            layer
        };
        let layer1 = make_layer(64, blocks[0], 1);
        let layer2 = make_layer(128, blocks[1], 2);
        let layer3 = make_layer(256, blocks[2], 2);
        let layer4 = make_layer(512, blocks[3], 2);
        Self {
            conv1: conv([in_channels, 64], 7, 2, 3, device),
            bn1: batch_norm(64, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }

    /// B x C x H x W -> B x (512 * expansion).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = forward_conv_bn(&self.conv1, &self.bn1, x, Activation::Relu);
        x = forward_max_pool2d(&self.maxpool, x);
        for layer in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for block in layer {
                x = block.forward(x);
            }
        }
        global_average_pool(x)
    }

    /// Run one stage (index into `STAGE_NAMES`) on the previous stage's output; the stem stops
    /// before max pooling so its stride-2 map can feed a decoder, and layer1 starts with it.
    /// Callers pass indices from the registry; any other index returns `x` unchanged.
    pub(crate) fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        let layer = match stage {
            0 => {
                return forward_conv_bn(&self.conv1, &self.bn1, x, Activation::Relu);
            }
            1 => return run_blocks(&self.layer1, forward_max_pool2d(&self.maxpool, x)),
            2 => &self.layer2,
            3 => &self.layer3,
            4 => &self.layer4,
            _ => return x,
        };
        run_blocks(layer, x)
    }

    /// Every batch norm, in forward order.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms = vec![&mut self.bn1];
        for layer in [
            &mut self.layer1,
            &mut self.layer2,
            &mut self.layer3,
            &mut self.layer4,
        ] {
            for block in layer.iter_mut() {
                norms.extend(block.batch_norms_mut());
            }
        }
        norms
    }

    /// Set gradients / training behaviour of one stage (index into `STAGE_NAMES`).
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        match stage {
            0 => {
                self.conv1 = set_trainable(self.conv1, trainable);
                self.bn1 = set_trainable(self.bn1, trainable);
            }
            1 => self.layer1 = set_trainable(self.layer1, trainable),
            2 => self.layer2 = set_trainable(self.layer2, trainable),
            3 => self.layer3 = set_trainable(self.layer3, trainable),
            4 => self.layer4 = set_trainable(self.layer4, trainable),
            _ => {}
        }
        self
    }
}

fn run_blocks<B: ResidualUnit>(blocks: &[B], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}
