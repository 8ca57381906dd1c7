//! Xception's building blocks as `keras.applications.Xception` builds them: the separable
//! convolution (depthwise 3x3 then pointwise 1x1, no bias) with its batch norm, the entry/exit
//! flow block that halves the map (1x1 stride-2 projection on the skip path, "same" max
//! pooling on the main path) and the middle-flow block (three separable convolutions added to
//! the block's input).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::conv_bn::{batch_norm_tf, conv_same};
use crate::fast_cpu::{Activation, forward_conv_bn, forward_conv2d};

/// He normal on fan-in: a depthwise filter reads 9 values, a pointwise one all input channels.
fn he_fan_in() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: false,
    }
}

/// Keras `SeparableConv2D(out, 3, padding="same", use_bias=False)` followed by its
/// `BatchNormalization` (epsilon 1e-3, as Keras's Xception): depthwise 3x3 with one filter per
/// channel (depth multiplier 1), then a 1x1 convolution mixing channels.
#[derive(Module, Debug)]
pub struct SeparableConvBn {
    /// `channels x 1 x 3 x 3`, groups = channels.
    pub depthwise: Conv2d,
    /// `out x channels x 1 x 1`.
    pub pointwise: Conv2d,
    pub bn: BatchNorm,
}

impl SeparableConvBn {
    pub fn new(channels: [usize; 2], device: &Device) -> Self {
        let [input, output] = channels;
        Self {
            depthwise: Conv2dConfig::new([input, input], [3, 3])
                .with_groups(input)
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .with_initializer(he_fan_in())
                .init(device),
            pointwise: Conv2dConfig::new([input, output], [1, 1])
                .with_bias(false)
                .with_initializer(he_fan_in())
                .init(device),
            bn: batch_norm_tf(output, device),
        }
    }

    /// Both convolutions on `fast_cpu`'s depthwise and pointwise paths, then the batch norm.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = forward_conv2d(&self.depthwise, x);
        forward_conv_bn(&self.pointwise, &self.bn, x, Activation::Identity)
    }
}

/// Blocks 2-4 (entry flow) and 13 (exit flow): `[ReLU] sepconv1 ReLU sepconv2 maxpool` plus a
/// 1x1 stride-2 projection of the block's input (computed before that first ReLU, as Keras).
#[derive(Module, Debug)]
pub struct ReductionBlock {
    pub skip: Conv2d,
    pub skip_bn: BatchNorm,
    pub sepconv1: SeparableConvBn,
    pub sepconv2: SeparableConvBn,
    pub pool: MaxPool2d,
}

impl ReductionBlock {
    /// `channels`: input, after `sepconv1`, after `sepconv2` (= the block's output).
    pub fn new(channels: [usize; 3], device: &Device) -> Self {
        let [input, middle, output] = channels;
        Self {
            // 1x1 stride 2 with TensorFlow "same" padding pads nothing: it samples pixels
            // 0, 2, 4, ... on both even and odd sizes.
            skip: conv_same([input, output], 1, 2, 1, device),
            skip_bn: batch_norm_tf(output, device),
            sepconv1: SeparableConvBn::new([input, middle], device),
            sepconv2: SeparableConvBn::new([middle, output], device),
            // TensorFlow "same": ceil(size / 2) outputs, the padding (at the end for even
            // sizes, both sides for odd ones) never wins the maximum.
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Same)
                .init(),
        }
    }

    /// `activate_input`: false for block 2, whose input is the stem's already-ReLU'd map.
    pub fn forward(&self, x: Tensor<4>, activate_input: bool) -> Tensor<4> {
        let residual = forward_conv_bn(&self.skip, &self.skip_bn, x.clone(), Activation::Identity);
        let x = if activate_input { relu(x) } else { x };
        let x = relu(self.sepconv1.forward(x));
        let x = self.pool.forward(self.sepconv2.forward(x));
        x + residual
    }
}

/// Blocks 5-12 (middle flow): three `ReLU sepconv` at 728 channels added to the block's input.
#[derive(Module, Debug)]
pub struct MiddleBlock {
    pub sepconv1: SeparableConvBn,
    pub sepconv2: SeparableConvBn,
    pub sepconv3: SeparableConvBn,
}

impl MiddleBlock {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            sepconv1: SeparableConvBn::new([channels, channels], device),
            sepconv2: SeparableConvBn::new([channels, channels], device),
            sepconv3: SeparableConvBn::new([channels, channels], device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.sepconv1.forward(relu(x.clone()));
        let y = self.sepconv2.forward(relu(y));
        let y = self.sepconv3.forward(relu(y));
        y + x
    }
}
