//! Inception-v3's building blocks as torchvision's `inception.py` builds them: `BasicConv2d`
//! (bias-free convolution, batch norm with epsilon 0.001, ReLU) and the five kinds of mixed
//! block, `InceptionA` to `InceptionE`, with torchvision's field names so the burn paths are
//! the state-dict keys (`branch3x3dbl_2.conv.weight`, `branch_pool.bn.running_var`).
//!
//! torchvision leaves the 3x3 convolutions and max poolings that reduce the map unpadded
//! ("valid"); [`Geometry`] decides whether they pad by 1 here (medxfer's default, so every map
//! sits at ceil(size / stride) and any input size works) or not (torchvision's numbers).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Initializer, PaddingConfig2d};
use burn::prelude::*;

use crate::conv_bn::batch_norm_with_epsilon;
use crate::fast_cpu::{Activation, forward_conv_bn, forward_max_pool2d};

/// torchvision's `BasicConv2d` batch norm: `nn.BatchNorm2d(out, eps=0.001)` (TensorFlow's).
pub const BATCH_NORM_EPSILON: f64 = 1e-3;

/// Whether the 3x3 convolutions and poolings torchvision leaves unpadded pad by 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Geometry {
    /// medxfer's (the registry builds this one): padded by 1, so a stride-2 layer maps n
    /// pixels to ceil(n / 2), the five encoder maps sit at ceil(size / stride) as the U-Net
    /// skips need, and any input size works (32 px gives a 1 x 1 final map). Same weights as
    /// torchvision, but the sampling grid is shifted, so features are not torchvision's.
    Padded,
    /// torchvision's own: unpadded, 299 -> 149 -> 147 -> 73 -> 71 -> 35 -> 17 -> 8; inputs
    /// under [`Geometry::min_input_size`] leave an empty map. For comparing with torchvision.
    Torchvision,
}

impl Geometry {
    /// Padding of the layers torchvision leaves unpadded.
    fn reduction_padding(self) -> usize {
        match self {
            Geometry::Padded => 1,
            Geometry::Torchvision => 0,
        }
    }

    /// The smallest square input whose last map is at least 1 x 1: 75 px for torchvision's
    /// geometry (75 -> 37 -> 35 -> 17 -> 15 -> 7 -> 3 -> 1), 1 px padded.
    pub fn min_input_size(self) -> usize {
        match self {
            Geometry::Padded => 1,
            Geometry::Torchvision => 75,
        }
    }
}

/// He normal on fan-in, as `conv_bn::conv_fan_in`. torchvision's truncated normal of std 0.1
/// grows the activations wherever a layer reads more than ~200 inputs: a random torchvision
/// Inception-v3 in inference mode (batch norms on their initial statistics) pools features of
/// RMS 3.7e9 at 128 px; with He fan-in, 0.53 (measured in PyTorch, 2 random images).
fn he_fan_in() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: false,
    }
}

/// torchvision's `BasicConv2d`: convolution without bias, batch norm (eps 0.001), ReLU.
#[derive(Module, Debug)]
pub struct BasicConv2d {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl BasicConv2d {
    /// `kernel` and `padding` are (height, width).
    pub fn new(
        channels: [usize; 2],
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 2],
        device: &Device,
    ) -> Self {
        let [pad_height, pad_width] = padding;
        Self {
            conv: Conv2dConfig::new(channels, kernel)
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(
                    pad_height, pad_width, pad_height, pad_width,
                ))
                .with_bias(false)
                .with_initializer(he_fan_in())
                .init(device),
            bn: batch_norm_with_epsilon(channels[1], BATCH_NORM_EPSILON, device),
        }
    }

    /// 1x1.
    fn pointwise(channels: [usize; 2], device: &Device) -> Self {
        Self::new(channels, [1, 1], 1, [0, 0], device)
    }

    /// k x k, stride 1, padded to keep the size.
    fn same(channels: [usize; 2], kernel: usize, device: &Device) -> Self {
        Self::new(channels, [kernel, kernel], 1, [kernel / 2; 2], device)
    }

    /// 1 x k (along the width), padded to keep the size.
    fn row(channels: [usize; 2], kernel: usize, device: &Device) -> Self {
        Self::new(channels, [1, kernel], 1, [0, kernel / 2], device)
    }

    /// k x 1 (along the height), padded to keep the size.
    fn column(channels: [usize; 2], kernel: usize, device: &Device) -> Self {
        Self::new(channels, [kernel, 1], 1, [kernel / 2, 0], device)
    }

    /// A 3x3 convolution torchvision leaves unpadded, padded as `geometry` says.
    pub(crate) fn unpadded_3x3(
        channels: [usize; 2],
        stride: usize,
        geometry: Geometry,
        device: &Device,
    ) -> Self {
        let padding = geometry.reduction_padding();
        Self::new(channels, [3, 3], stride, [padding; 2], device)
    }

    /// ReLU(BN(conv(x))), through the shared conv + BN unit (BN folded at inference).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        forward_conv_bn(&self.conv, &self.bn, x, Activation::Relu)
    }
}

/// 3x3 stride-2 max pooling (`maxpool1`, `maxpool2` and the pooling branch of Mixed_6a and
/// Mixed_7a), padded as `geometry` says; the padding never wins the maximum.
pub(crate) fn reduction_max_pool(geometry: Geometry) -> MaxPool2d {
    let padding = geometry.reduction_padding();
    MaxPool2dConfig::new([3, 3])
        .with_strides([2, 2])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .init()
}

/// The pooling branch's `F.avg_pool2d(x, 3, stride=1, padding=1)`: zeros in the padding count
/// in the average (PyTorch's default `count_include_pad=True`, burn's too).
fn branch_average_pool() -> AvgPool2d {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(true)
        .init()
}

/// Mixed_5b/5c/5d (35 x 35 at 299 px): 1x1 (64), 1x1 then 5x5 (64), 1x1 then two 3x3 (96),
/// average pooling then 1x1 (`pool_features`), concatenated.
#[derive(Module, Debug)]
pub struct InceptionA {
    pub branch1x1: BasicConv2d,
    pub branch5x5_1: BasicConv2d,
    pub branch5x5_2: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
    pub pool: AvgPool2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionA {
    pub fn new(in_channels: usize, pool_features: usize, device: &Device) -> Self {
        Self {
            branch1x1: BasicConv2d::pointwise([in_channels, 64], device),
            branch5x5_1: BasicConv2d::pointwise([in_channels, 48], device),
            branch5x5_2: BasicConv2d::same([48, 64], 5, device),
            branch3x3dbl_1: BasicConv2d::pointwise([in_channels, 64], device),
            branch3x3dbl_2: BasicConv2d::same([64, 96], 3, device),
            branch3x3dbl_3: BasicConv2d::same([96, 96], 3, device),
            pool: branch_average_pool(),
            branch_pool: BasicConv2d::pointwise([in_channels, pool_features], device),
        }
    }

    /// Output channels: 64 + 64 + 96 + `pool_features`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward(x.clone());
        let branch5x5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let branch3x3dbl = self.branch3x3dbl_1.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_2.forward(branch3x3dbl);
        let branch3x3dbl = self.branch3x3dbl_3.forward(branch3x3dbl);
        let branch_pool = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)
    }

    pub fn convs_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch1x1,
            &mut self.branch5x5_1,
            &mut self.branch5x5_2,
            &mut self.branch3x3dbl_1,
            &mut self.branch3x3dbl_2,
            &mut self.branch3x3dbl_3,
            &mut self.branch_pool,
        ]
    }
}

/// Mixed_6a (35 -> 17 at 299 px): 3x3 stride 2 (384), 1x1 then 3x3 then 3x3 stride 2 (96),
/// max pooling (the input's channels), concatenated.
#[derive(Module, Debug)]
pub struct InceptionB {
    pub branch3x3: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
    pub pool: MaxPool2d,
}

impl InceptionB {
    pub fn new(in_channels: usize, geometry: Geometry, device: &Device) -> Self {
        Self {
            branch3x3: BasicConv2d::unpadded_3x3([in_channels, 384], 2, geometry, device),
            branch3x3dbl_1: BasicConv2d::pointwise([in_channels, 64], device),
            branch3x3dbl_2: BasicConv2d::same([64, 96], 3, device),
            branch3x3dbl_3: BasicConv2d::unpadded_3x3([96, 96], 2, geometry, device),
            pool: reduction_max_pool(geometry),
        }
    }

    /// Output channels: 384 + 96 + input channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch3x3 = self.branch3x3.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_1.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_2.forward(branch3x3dbl);
        let branch3x3dbl = self.branch3x3dbl_3.forward(branch3x3dbl);
        let branch_pool = forward_max_pool2d(&self.pool, x);
        Tensor::cat(vec![branch3x3, branch3x3dbl, branch_pool], 1)
    }

    pub fn convs_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch3x3,
            &mut self.branch3x3dbl_1,
            &mut self.branch3x3dbl_2,
            &mut self.branch3x3dbl_3,
        ]
    }
}

/// Mixed_6b..6e (17 x 17 at 299 px): 1x1 (192); 1x1, 1x7, 7x1 (192); 1x1 and four
/// alternating 7x1 / 1x7 (192); average pooling then 1x1 (192): 768 channels. `channels_7x7`
/// is the width inside the factorised 7x7 branches (128, 160, 160, 192).
#[derive(Module, Debug)]
pub struct InceptionC {
    pub branch1x1: BasicConv2d,
    pub branch7x7_1: BasicConv2d,
    pub branch7x7_2: BasicConv2d,
    pub branch7x7_3: BasicConv2d,
    pub branch7x7dbl_1: BasicConv2d,
    pub branch7x7dbl_2: BasicConv2d,
    pub branch7x7dbl_3: BasicConv2d,
    pub branch7x7dbl_4: BasicConv2d,
    pub branch7x7dbl_5: BasicConv2d,
    pub pool: AvgPool2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionC {
    pub fn new(in_channels: usize, channels_7x7: usize, device: &Device) -> Self {
        let c7 = channels_7x7;
        Self {
            branch1x1: BasicConv2d::pointwise([in_channels, 192], device),
            branch7x7_1: BasicConv2d::pointwise([in_channels, c7], device),
            branch7x7_2: BasicConv2d::row([c7, c7], 7, device),
            branch7x7_3: BasicConv2d::column([c7, 192], 7, device),
            branch7x7dbl_1: BasicConv2d::pointwise([in_channels, c7], device),
            branch7x7dbl_2: BasicConv2d::column([c7, c7], 7, device),
            branch7x7dbl_3: BasicConv2d::row([c7, c7], 7, device),
            branch7x7dbl_4: BasicConv2d::column([c7, c7], 7, device),
            branch7x7dbl_5: BasicConv2d::row([c7, 192], 7, device),
            pool: branch_average_pool(),
            branch_pool: BasicConv2d::pointwise([in_channels, 192], device),
        }
    }

    /// Output channels: 4 x 192 = 768.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward(x.clone());
        let branch7x7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .into_iter()
            .fold(x.clone(), |y, conv| conv.forward(y));
        let branch7x7dbl = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .into_iter()
        .fold(x.clone(), |y, conv| conv.forward(y));
        let branch_pool = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![branch1x1, branch7x7, branch7x7dbl, branch_pool], 1)
    }

    pub fn convs_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch1x1,
            &mut self.branch7x7_1,
            &mut self.branch7x7_2,
            &mut self.branch7x7_3,
            &mut self.branch7x7dbl_1,
            &mut self.branch7x7dbl_2,
            &mut self.branch7x7dbl_3,
            &mut self.branch7x7dbl_4,
            &mut self.branch7x7dbl_5,
            &mut self.branch_pool,
        ]
    }
}

/// Mixed_7a (17 -> 8 at 299 px): 1x1 then 3x3 stride 2 (320); 1x1, 1x7, 7x1, 3x3 stride 2
/// (192); max pooling (768): 1280 channels.
#[derive(Module, Debug)]
pub struct InceptionD {
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2: BasicConv2d,
    pub branch7x7x3_1: BasicConv2d,
    pub branch7x7x3_2: BasicConv2d,
    pub branch7x7x3_3: BasicConv2d,
    pub branch7x7x3_4: BasicConv2d,
    pub pool: MaxPool2d,
}

impl InceptionD {
    pub fn new(in_channels: usize, geometry: Geometry, device: &Device) -> Self {
        Self {
            branch3x3_1: BasicConv2d::pointwise([in_channels, 192], device),
            branch3x3_2: BasicConv2d::unpadded_3x3([192, 320], 2, geometry, device),
            branch7x7x3_1: BasicConv2d::pointwise([in_channels, 192], device),
            branch7x7x3_2: BasicConv2d::row([192, 192], 7, device),
            branch7x7x3_3: BasicConv2d::column([192, 192], 7, device),
            branch7x7x3_4: BasicConv2d::unpadded_3x3([192, 192], 2, geometry, device),
            pool: reduction_max_pool(geometry),
        }
    }

    /// Output channels: 320 + 192 + input channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch3x3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let branch7x7x3 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .into_iter()
        .fold(x.clone(), |y, conv| conv.forward(y));
        let branch_pool = forward_max_pool2d(&self.pool, x);
        Tensor::cat(vec![branch3x3, branch7x7x3, branch_pool], 1)
    }

    pub fn convs_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch3x3_1,
            &mut self.branch3x3_2,
            &mut self.branch7x7x3_1,
            &mut self.branch7x7x3_2,
            &mut self.branch7x7x3_3,
            &mut self.branch7x7x3_4,
        ]
    }
}

/// Mixed_7b/7c (8 x 8 at 299 px): 1x1 (320); 1x1 (384) then 1x3 and 3x1 side by side (768);
/// 1x1 (448), 3x3 (384), then 1x3 and 3x1 side by side (768); average pooling then 1x1 (192):
/// 2048 channels.
#[derive(Module, Debug)]
pub struct InceptionE {
    pub branch1x1: BasicConv2d,
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2a: BasicConv2d,
    pub branch3x3_2b: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3a: BasicConv2d,
    pub branch3x3dbl_3b: BasicConv2d,
    pub pool: AvgPool2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionE {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        Self {
            branch1x1: BasicConv2d::pointwise([in_channels, 320], device),
            branch3x3_1: BasicConv2d::pointwise([in_channels, 384], device),
            branch3x3_2a: BasicConv2d::row([384, 384], 3, device),
            branch3x3_2b: BasicConv2d::column([384, 384], 3, device),
            branch3x3dbl_1: BasicConv2d::pointwise([in_channels, 448], device),
            branch3x3dbl_2: BasicConv2d::same([448, 384], 3, device),
            branch3x3dbl_3a: BasicConv2d::row([384, 384], 3, device),
            branch3x3dbl_3b: BasicConv2d::column([384, 384], 3, device),
            pool: branch_average_pool(),
            branch_pool: BasicConv2d::pointwise([in_channels, 192], device),
        }
    }

    /// Output channels: 320 + 2 x 384 + 2 x 384 + 192 = 2048.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward(x.clone());
        let branch3x3 = self.branch3x3_1.forward(x.clone());
        let branch3x3a = self.branch3x3_2a.forward(branch3x3.clone());
        let branch3x3b = self.branch3x3_2b.forward(branch3x3);
        let branch3x3dbl = self.branch3x3dbl_1.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_2.forward(branch3x3dbl);
        let branch3x3dbl_a = self.branch3x3dbl_3a.forward(branch3x3dbl.clone());
        let branch3x3dbl_b = self.branch3x3dbl_3b.forward(branch3x3dbl);
        let branch_pool = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(
            vec![
                branch1x1,
                branch3x3a,
                branch3x3b,
                branch3x3dbl_a,
                branch3x3dbl_b,
                branch_pool,
            ],
            1,
        )
    }

    pub fn convs_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch1x1,
            &mut self.branch3x3_1,
            &mut self.branch3x3_2a,
            &mut self.branch3x3_2b,
            &mut self.branch3x3dbl_1,
            &mut self.branch3x3dbl_2,
            &mut self.branch3x3dbl_3a,
            &mut self.branch3x3dbl_3b,
            &mut self.branch_pool,
        ]
    }
}
