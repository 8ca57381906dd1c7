//! A 1-D convolutional head with skip connections over the backbone's pooled features.
//!
//! Frees et al. 2025 (arXiv 2508.17567, paper 000 in `../shared/papers`) report in their
//! abstract that "1-dimensional convolutional classifiers with skip connections" gave the best
//! downstream classification over pooled CNN features; the abstract does not give the layout,
//! so this one is ours: the pooled feature vector (length D) is read as a one-channel signal,
//! a stem convolution lifts it to `channels` channels, each residual block is
//! conv-BN-ReLU-conv-BN plus its input (the skip connection), then ReLU, and the flattened
//! `channels x D` map goes through dropout to a linear layer. Kernel size 3 with padding 1
//! keeps the length, so neighbouring feature channels interact while every feature keeps its
//! position (the order of pooled features carries no meaning for the convolution beyond the
//! neighbourhood it learns).

use burn::nn::PaddingConfig1d;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

const KERNEL: usize = 3;

fn conv(channels_in: usize, channels_out: usize, device: &Device) -> Conv1d {
    Conv1dConfig::new(channels_in, channels_out, KERNEL)
        .with_padding(PaddingConfig1d::Explicit(KERNEL / 2, KERNEL / 2))
        .with_bias(false)
        .init(device)
}

/// conv -> BN -> ReLU -> conv -> BN, added to the block's input, then ReLU.
#[derive(Module, Debug)]
pub struct ResidualBlock1d {
    pub conv1: Conv1d,
    pub bn1: BatchNorm,
    pub conv2: Conv1d,
    pub bn2: BatchNorm,
}

impl ResidualBlock1d {
    fn new(channels: usize, device: &Device) -> Self {
        ResidualBlock1d {
            conv1: conv(channels, channels, device),
            bn1: BatchNormConfig::new(channels).init(device),
            conv2: conv(channels, channels, device),
            bn2: BatchNormConfig::new(channels).init(device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let y = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let y = self.bn2.forward(self.conv2.forward(y));
        relu(x + y)
    }
}

#[derive(Module, Debug)]
pub struct Conv1dHead {
    pub stem: Conv1d,
    pub stem_bn: BatchNorm,
    pub blocks: Vec<ResidualBlock1d>,
    pub dropout: Dropout,
    pub output: Linear,
}

impl Conv1dHead {
    pub fn new(
        in_features: usize,
        channels: usize,
        blocks: usize,
        dropout: f64,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        Conv1dHead {
            stem: conv(1, channels, device),
            stem_bn: BatchNormConfig::new(channels).init(device),
            blocks: (0..blocks)
                .map(|_| ResidualBlock1d::new(channels, device))
                .collect(),
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(channels * in_features, num_classes).init(device),
        }
    }

    /// Features (B x D) -> logits (B x classes).
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let [batch, length] = features.dims();
        let mut x = relu(
            self.stem_bn
                .forward(self.stem.forward(features.reshape([batch, 1, length]))),
        );
        for block in &self.blocks {
            x = block.forward(x);
        }
        let channels = self.channels();
        let flat = x.reshape([batch, channels * length]);
        self.output.forward(self.dropout.forward(flat))
    }

    pub fn channels(&self) -> usize {
        self.stem.weight.lazy_shape().as_slice()[0]
    }

    pub fn in_features(&self) -> usize {
        self.output.weight.lazy_shape().as_slice()[0] / self.channels()
    }

    pub fn num_classes(&self) -> usize {
        self.output.weight.lazy_shape().as_slice()[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_whose_second_convolution_is_zero_passes_its_input_through_the_skip() {
        let device = Device::flex();
        let mut block = ResidualBlock1d::new(3, &device);
        block.conv2.weight = block.conv2.weight.map(|w| w.zeros_like());
        // Evaluation mode: fresh running statistics (mean 0, variance 1), so BN is the identity
        // up to its epsilon and bn2 of a zero signal is exactly zero.
        let block = block.valid();
        let x = Tensor::<3>::from_floats(
            [[[1.0, -2.0, 3.0], [0.5, 0.0, -0.5], [-1.0, 2.0, 4.0]]],
            &device,
        );
        let out: Vec<f32> = block.forward(x.clone()).into_data().iter::<f32>().collect();
        let expected: Vec<f32> = relu(x).into_data().iter::<f32>().collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn the_head_keeps_each_feature_position_and_flattens_channels_by_position() {
        let device = Device::flex();
        let head = Conv1dHead::new(10, 4, 1, 0.0, 2, &device).valid();
        assert_eq!(
            (head.channels(), head.in_features(), head.num_classes()),
            (4, 10, 2)
        );
        let logits = head.forward(Tensor::random(
            [3, 10],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        ));
        assert_eq!(logits.dims(), [3, 2]);
    }
}
