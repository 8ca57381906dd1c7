//! The 1x1 projection on a residual block's shortcut (torchvision `downsample.0` / `.1`).

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::conv_bn::{batch_norm, conv};
use crate::fast_cpu::{Activation, forward_conv_bn};

#[derive(Module, Debug)]
pub struct Downsample {
    /// torchvision `downsample.0`.
    pub conv: Conv2d,
    /// torchvision `downsample.1`.
    pub bn: BatchNorm,
}

impl Downsample {
    pub fn new(in_channels: usize, out_channels: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv: conv([in_channels, out_channels], 1, stride, 0, device),
            bn: batch_norm(out_channels, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        forward_conv_bn(&self.conv, &self.bn, x, Activation::Identity)
    }
}
