//! The U-Net decoder of segmentation_models_pytorch's `Unet`: per block, upsample x2 (nearest),
//! concatenate the encoder map of that resolution, then two 3x3 conv-BN-ReLU. Field names give
//! smp's state-dict names (`blocks.N.conv1.0.weight`, `blocks.N.conv1.1.running_mean`, ...).

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::conv_bn::{batch_norm, conv};
use crate::fast_cpu::{Activation, forward_conv_bn};

/// smp `Conv2dReLU`: a bias-free 3x3 convolution (`.0`) and its batch norm (`.1`); ReLU after.
pub type ConvBnRelu = (Conv2d, BatchNorm);

fn conv_bn_relu(channels: [usize; 2], device: &Device) -> ConvBnRelu {
    (
        conv(channels, 3, 1, 1, device),
        batch_norm(channels[1], device),
    )
}

fn forward_conv_bn_relu(layer: &ConvBnRelu, x: Tensor<4>) -> Tensor<4> {
    forward_conv_bn(&layer.0, &layer.1, x, Activation::Relu)
}

/// Nearest-neighbour upsampling by 2 (burn's Flex backend has its backward pass).
pub(super) fn upsample_x2(x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([height * 2, width * 2]),
    )
}

/// One decoder resolution: upsample, concatenate the skip (if any), two conv-BN-ReLU.
#[derive(Module, Debug)]
pub struct DecoderBlock {
    pub conv1: ConvBnRelu,
    pub conv2: ConvBnRelu,
}

impl DecoderBlock {
    fn new(in_channels: usize, skip_channels: usize, out_channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv_bn_relu([in_channels + skip_channels, out_channels], device),
            conv2: conv_bn_relu([out_channels, out_channels], device),
        }
    }

    fn forward(&self, x: Tensor<4>, skip: Option<Tensor<4>>) -> Tensor<4> {
        let x = upsample_x2(x);
        let x = match skip {
            Some(skip) => Tensor::cat(vec![x, skip], 1),
            None => x,
        };
        forward_conv_bn_relu(&self.conv2, forward_conv_bn_relu(&self.conv1, x))
    }
}

/// Decoder blocks from the deepest encoder map up to the input resolution.
#[derive(Module, Debug)]
pub struct UNetDecoder {
    pub blocks: Vec<DecoderBlock>,
}

impl UNetDecoder {
    /// `encoder_channels`: channels of the encoder maps, stride 2 first. `decoder_channels`:
    /// output channels of each block, deepest first; callers check there is one per map.
    pub(crate) fn new(
        encoder_channels: [usize; 5],
        decoder_channels: &[usize],
        device: &Device,
    ) -> Self {
        // Block i takes the previous block's output (the deepest map for block 0) and the
        // encoder map one level shallower; the last block, at full resolution, has no skip.
        let mut skips: Vec<usize> = encoder_channels[..4].iter().rev().copied().collect();
        skips.push(0);
        let mut in_channels = encoder_channels[4];
        let mut blocks = Vec::with_capacity(decoder_channels.len());
        for (&out_channels, skip_channels) in decoder_channels.iter().zip(skips) {
            blocks.push(DecoderBlock::new(
                in_channels,
                skip_channels,
                out_channels,
                device,
            ));
            in_channels = out_channels;
        }
        Self { blocks }
    }

    /// Encoder maps (stride 2 first, as `Backbone::forward_stages` returns them, each half the
    /// size of the one before) -> features at twice the resolution of the stride-2 map, with
    /// the last block's channels.
    pub(crate) fn forward(&self, encoder_maps: Vec<Tensor<4>>) -> Tensor<4> {
        let mut maps = encoder_maps.into_iter().rev();
        let Some(mut x) = maps.next() else {
            unreachable!("the encoder always returns its five maps")
        };
        for block in &self.blocks {
            x = block.forward(x, maps.next());
        }
        x
    }

    /// Channels of the decoder's output.
    pub fn out_channels(&self) -> usize {
        self.blocks
            .last()
            .map_or(0, |block| block.conv2.0.weight.dims()[0])
    }

    /// Every batch norm, in forward order.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        self.blocks
            .iter_mut()
            .flat_map(|block| [&mut block.conv1.1, &mut block.conv2.1])
            .collect()
    }
}
