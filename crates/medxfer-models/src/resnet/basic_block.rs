//! ResNet-18/34 residual block: two 3x3 convolutions.

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::{Downsample, ResidualUnit};
use crate::conv_bn::{batch_norm, conv};
use crate::fast_cpu::{Activation, forward_conv_bn};

#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl ResidualUnit for BasicBlock {
    const EXPANSION: usize = 1;

    fn new(in_channels: usize, planes: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || in_channels != planes)
            .then(|| Downsample::new(in_channels, planes, stride, device));
        Self {
            conv1: conv([in_channels, planes], 3, stride, 1, device),
            bn1: batch_norm(planes, device),
            conv2: conv([planes, planes], 3, 1, 1, device),
            bn2: batch_norm(planes, device),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(downsample) => downsample.forward(x.clone()),
            None => x.clone(),
        };
        let out = forward_conv_bn(&self.conv1, &self.bn1, x, Activation::Relu);
        let out = forward_conv_bn(&self.conv2, &self.bn2, out, Activation::Identity);
        relu(out + identity)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms: Vec<&mut BatchNorm> =
            self.downsample.iter_mut().map(|d| &mut d.bn).collect();
        norms.extend([&mut self.bn1, &mut self.bn2]);
        norms
    }
}
