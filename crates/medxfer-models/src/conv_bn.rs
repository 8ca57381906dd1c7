//! Builders for the convolution + batch-norm pairs every backbone is made of.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;

/// He (Kaiming) normal initialisation on fan-out, as torchvision initialises ResNet convs.
fn he_normal_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// A bias-free convolution with explicit symmetric padding (torchvision style).
pub(crate) fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(he_normal_fan_out())
        .init(device)
}

/// A bias-free convolution with explicit symmetric padding and He normal initialisation on
/// fan-in, as torchvision initialises DenseNet: its 1x1 bottlenecks read up to 1000 channels
/// into 128, and fan-out scaling would then multiply the activations' variance by ~in / 64 per
/// layer (random DenseNets in inference mode gave features of 1e4).
pub(crate) fn conv_fan_in(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        })
        .init(device)
}

/// A bias-free convolution with TensorFlow "SAME" padding (extra pad at the bottom/right), as
/// the EfficientNet-Lite weights were trained with; `groups == channels` makes it depthwise.
pub(crate) fn conv_same(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .with_initializer(he_normal_fan_out())
        .init(device)
}

/// PyTorch-default batch norm (eps 1e-5, momentum 0.1).
pub(crate) fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// PyTorch-default momentum (0.1) with the epsilon the imported weights were trained with.
pub(crate) fn batch_norm_with_epsilon(channels: usize, epsilon: f64, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(epsilon)
        .init(device)
}

/// TensorFlow-trained batch norm (eps 1e-3, decay 0.99 i.e. momentum 0.01).
pub(crate) fn batch_norm_tf(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-3)
        .with_momentum(0.01)
        .init(device)
}

/// Average over the spatial axes: B x C x H x W -> B x C.
pub(crate) fn global_average_pool(x: Tensor<4>) -> Tensor<2> {
    let [batch, channels, height, width] = x.dims();
    x.reshape([batch, channels, height * width])
        .mean_dim(2)
        .reshape([batch, channels])
}

/// Turn gradients and training behaviour (dropout, batch-norm statistics) on or off.
pub(crate) fn set_trainable<M: Module>(module: M, trainable: bool) -> M {
    if trainable {
        module.unfreeze()
    } else {
        module.freeze()
    }
}
