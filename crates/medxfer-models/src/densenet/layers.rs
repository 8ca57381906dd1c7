//! DenseNet's two building blocks in torchvision's layout: the dense layer (BN-ReLU-1x1 conv,
//! BN-ReLU-3x3 conv giving `growth` new channels) and the transition (BN-ReLU-1x1 conv halving
//! the channels, 2 x 2 average pooling).

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::prelude::*;

use crate::conv_bn::{batch_norm_with_epsilon, conv_fan_in as conv};
use crate::fast_cpu::{Activation, forward_batch_norm_act, forward_conv2d};

/// Batch-norm epsilon of Keras's DenseNet (`keras.applications.densenet`), whose ImageNet
/// weights medxfer imports; torchvision uses 1e-5, a difference far below f32 rounding of the
/// running variances it is added to.
pub(crate) const DENSENET_BN_EPSILON: f64 = 1.001e-5;

pub(crate) fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    batch_norm_with_epsilon(channels, DENSENET_BN_EPSILON, device)
}

/// torchvision `_DenseLayer` (Keras `conv_block`): its output is concatenated to its input by
/// the block, not added.
#[derive(Module, Debug)]
pub struct DenseLayer {
    pub norm1: BatchNorm,
    /// 1x1 bottleneck to `bn_size * growth` channels.
    pub conv1: Conv2d,
    pub norm2: BatchNorm,
    /// 3x3 convolution to `growth` channels.
    pub conv2: Conv2d,
}

impl DenseLayer {
    pub fn new(in_channels: usize, growth: usize, bn_size: usize, device: &Device) -> Self {
        let bottleneck = bn_size * growth;
        Self {
            norm1: batch_norm(in_channels, device),
            conv1: conv([in_channels, bottleneck], 1, 1, 0, device),
            norm2: batch_norm(bottleneck, device),
            conv2: conv([bottleneck, growth], 3, 1, 1, device),
        }
    }

    /// B x C x H x W -> B x growth x H x W (the new features only).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = forward_batch_norm_act(&self.norm1, x, Activation::Relu);
        let x = forward_conv2d(&self.conv1, x);
        let x = forward_batch_norm_act(&self.norm2, x, Activation::Relu);
        forward_conv2d(&self.conv2, x)
    }
}

/// Run a dense block: each layer sees the concatenation of the block input and every earlier
/// layer's output; the block returns the concatenation of all of them.
pub(crate) fn forward_dense_block(layers: &[DenseLayer], x: Tensor<4>) -> Tensor<4> {
    layers.iter().fold(x, |features, layer| {
        let new = layer.forward(features.clone());
        Tensor::cat(vec![features, new], 1)
    })
}

/// torchvision `_Transition` (Keras `transition_block`).
#[derive(Module, Debug)]
pub struct Transition {
    pub norm: BatchNorm,
    pub conv: Conv2d,
    pub pool: AvgPool2d,
}

impl Transition {
    pub fn new(in_channels: usize, out_channels: usize, device: &Device) -> Self {
        Self {
            norm: batch_norm(in_channels, device),
            conv: conv([in_channels, out_channels], 1, 1, 0, device),
            // Ceil mode without counting the overhang: on even sizes (every ImageNet-size
            // input) exactly torchvision's and Keras's 2 x 2 pooling; on odd sizes the last
            // row/column is averaged alone instead of dropped, so the maps keep the
            // ceil(size / stride) shapes a U-Net decoder expects.
            pool: AvgPool2dConfig::new([2, 2])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .with_count_include_pad(false)
                .init(),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = forward_batch_norm_act(&self.norm, x, Activation::Relu);
        self.pool.forward(forward_conv2d(&self.conv, x))
    }
}
