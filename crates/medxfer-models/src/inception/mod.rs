//! Inception-v3 (Szegedy et al. 2016) as torchvision's `inception_v3` without its auxiliary
//! classifier, dropout and `fc`: a stem of five `BasicConv2d` and two max poolings, three
//! InceptionA blocks (Mixed_5b-d, 288 channels), the InceptionB reduction (Mixed_6a, 768), four
//! InceptionC blocks (Mixed_6b-e, factorised 7x7 convolutions), the InceptionD reduction
//! (Mixed_7a, 1280), two InceptionE blocks (Mixed_7b-c, 2048) and global average pooling: 2048
//! features. Burn paths are torchvision's keys with the top-level names in snake case
//! (`mixed_6b.branch7x7dbl_2.conv.weight` is `Mixed_6b.branch7x7dbl_2.conv.weight`);
//! `key_layout.rs` maps them. `transform_input` is not part of the network: the spec's mean and
//! std do that normalisation.
//!
//! One deliberate difference, as Xception's padded stem: torchvision's 3x3 reductions (the stem's
//! Conv2d_1a/2a/4a, both max poolings, and the stride-2 convolutions and poolings of Mixed_6a
//! and Mixed_7a) are unpadded, which needs inputs of at least 75 px and puts the maps at
//! 149/73/35/17/8 for 299 px; here they pad by 1 ([`Geometry::Padded`]), so any size works
//! (the 32 and 64 px of medxfer's tests and toy runs too) and the five encoder maps sit at
//! ceil(size / stride) for the U-Net. [`InceptionV3::with_geometry`] builds torchvision's own
//! geometry for comparisons.

mod definition;
mod key_layout;
mod layers;

pub use definition::InceptionV3Definition;
pub use layers::{
    BATCH_NORM_EPSILON, BasicConv2d, Geometry, InceptionA, InceptionB, InceptionC, InceptionD,
    InceptionE,
};

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;

use crate::conv_bn::{global_average_pool, set_trainable};
use crate::fast_cpu::forward_max_pool2d;
use crate::registry::BackboneNetwork;
use layers::reduction_max_pool;

/// Width of the pooled features.
pub const FEATURES: usize = 2048;

/// Stages for partial unfreezing and Grad-CAM, stem first, each ending at one of the five
/// encoder strides: `stem` (Conv2d_1a..2b, stride 2), `conv_3b_4a` (max pooling, Conv2d_3b and
/// Conv2d_4a, stride 4), `mixed_5` (max pooling, Mixed_5b-d, stride 8), `mixed_6` (Mixed_6a-e,
/// stride 16) and `mixed_7` (Mixed_7a-c, stride 32: the map the classifier pools).
pub const STAGE_NAMES: [&str; 5] = ["stem", "conv_3b_4a", "mixed_5", "mixed_6", "mixed_7"];

#[derive(Module, Debug)]
pub struct InceptionV3 {
    pub conv2d_1a_3x3: BasicConv2d,
    pub conv2d_2a_3x3: BasicConv2d,
    pub conv2d_2b_3x3: BasicConv2d,
    pub maxpool1: MaxPool2d,
    pub conv2d_3b_1x1: BasicConv2d,
    pub conv2d_4a_3x3: BasicConv2d,
    pub maxpool2: MaxPool2d,
    pub mixed_5b: InceptionA,
    pub mixed_5c: InceptionA,
    pub mixed_5d: InceptionA,
    pub mixed_6a: InceptionB,
    pub mixed_6b: InceptionC,
    pub mixed_6c: InceptionC,
    pub mixed_6d: InceptionC,
    pub mixed_6e: InceptionC,
    pub mixed_7a: InceptionD,
    pub mixed_7b: InceptionE,
    pub mixed_7c: InceptionE,
}

impl InceptionV3 {
    /// medxfer's Inception-v3 ([`Geometry::Padded`]), as the registry builds it.
    pub fn new(in_channels: usize, device: &Device) -> Self {
        Self::with_geometry(in_channels, Geometry::Padded, device)
    }

    /// The same layers and parameters with the reductions padded as `geometry` says;
    /// `Geometry::Torchvision` reproduces torchvision's maps (inputs of at least 75 px).
    pub fn with_geometry(in_channels: usize, geometry: Geometry, device: &Device) -> Self {
        let unpadded_3x3 =
            |channels, stride| BasicConv2d::unpadded_3x3(channels, stride, geometry, device);
        Self {
            conv2d_1a_3x3: unpadded_3x3([in_channels, 32], 2),
            conv2d_2a_3x3: unpadded_3x3([32, 32], 1),
            conv2d_2b_3x3: BasicConv2d::new([32, 64], [3, 3], 1, [1, 1], device),
            maxpool1: reduction_max_pool(geometry),
            conv2d_3b_1x1: BasicConv2d::new([64, 80], [1, 1], 1, [0, 0], device),
            conv2d_4a_3x3: unpadded_3x3([80, 192], 1),
            maxpool2: reduction_max_pool(geometry),
            mixed_5b: InceptionA::new(192, 32, device),
            mixed_5c: InceptionA::new(256, 64, device),
            mixed_5d: InceptionA::new(288, 64, device),
            mixed_6a: InceptionB::new(288, geometry, device),
            mixed_6b: InceptionC::new(768, 128, device),
            mixed_6c: InceptionC::new(768, 160, device),
            mixed_6d: InceptionC::new(768, 160, device),
            mixed_6e: InceptionC::new(768, 192, device),
            mixed_7a: InceptionD::new(768, geometry, device),
            mixed_7b: InceptionE::new(1280, device),
            mixed_7c: InceptionE::new(2048, device),
        }
    }

    /// Run one stage (index into `STAGE_NAMES`) on the previous stage's output; any other
    /// index returns `x` unchanged.
    pub fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        match stage {
            0 => {
                let x = self.conv2d_1a_3x3.forward(x);
                let x = self.conv2d_2a_3x3.forward(x);
                self.conv2d_2b_3x3.forward(x)
            }
            1 => {
                let x = forward_max_pool2d(&self.maxpool1, x);
                let x = self.conv2d_3b_1x1.forward(x);
                self.conv2d_4a_3x3.forward(x)
            }
            2 => {
                let x = forward_max_pool2d(&self.maxpool2, x);
                let x = self.mixed_5b.forward(x);
                let x = self.mixed_5c.forward(x);
                self.mixed_5d.forward(x)
            }
            3 => {
                let x = self.mixed_6a.forward(x);
                let x = self.mixed_6b.forward(x);
                let x = self.mixed_6c.forward(x);
                let x = self.mixed_6d.forward(x);
                self.mixed_6e.forward(x)
            }
            4 => {
                let x = self.mixed_7a.forward(x);
                let x = self.mixed_7b.forward(x);
                self.mixed_7c.forward(x)
            }
            _ => x,
        }
    }

    /// B x C x H x W -> B x 2048.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = (0..STAGE_NAMES.len()).fold(x, |x, stage| self.forward_stage(stage, x));
        global_average_pool(x)
    }

    /// Every `BasicConv2d`, in torchvision's state-dict order (each branch in forward order).
    pub fn convs_mut(&mut self) -> Vec<&mut BasicConv2d> {
        let mut convs = vec![
            &mut self.conv2d_1a_3x3,
            &mut self.conv2d_2a_3x3,
            &mut self.conv2d_2b_3x3,
            &mut self.conv2d_3b_1x1,
            &mut self.conv2d_4a_3x3,
        ];
        for block in [&mut self.mixed_5b, &mut self.mixed_5c, &mut self.mixed_5d] {
            convs.extend(block.convs_mut());
        }
        convs.extend(self.mixed_6a.convs_mut());
        for block in [
            &mut self.mixed_6b,
            &mut self.mixed_6c,
            &mut self.mixed_6d,
            &mut self.mixed_6e,
        ] {
            convs.extend(block.convs_mut());
        }
        convs.extend(self.mixed_7a.convs_mut());
        convs.extend(self.mixed_7b.convs_mut());
        convs.extend(self.mixed_7c.convs_mut());
        convs
    }

    /// Every batch norm (one per `BasicConv2d`), in the order of `convs_mut`.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        self.convs_mut()
            .into_iter()
            .map(|conv| &mut conv.bn)
            .collect()
    }

    /// Set gradients / training behaviour of one stage (index into `STAGE_NAMES`); the max
    /// poolings have no parameters.
    pub fn set_stage_trainable(mut self, stage: usize, trainable: bool) -> Self {
        match stage {
            0 => {
                self.conv2d_1a_3x3 = set_trainable(self.conv2d_1a_3x3, trainable);
                self.conv2d_2a_3x3 = set_trainable(self.conv2d_2a_3x3, trainable);
                self.conv2d_2b_3x3 = set_trainable(self.conv2d_2b_3x3, trainable);
            }
            1 => {
                self.conv2d_3b_1x1 = set_trainable(self.conv2d_3b_1x1, trainable);
                self.conv2d_4a_3x3 = set_trainable(self.conv2d_4a_3x3, trainable);
            }
            2 => {
                self.mixed_5b = set_trainable(self.mixed_5b, trainable);
                self.mixed_5c = set_trainable(self.mixed_5c, trainable);
                self.mixed_5d = set_trainable(self.mixed_5d, trainable);
            }
            3 => {
                self.mixed_6a = set_trainable(self.mixed_6a, trainable);
                self.mixed_6b = set_trainable(self.mixed_6b, trainable);
                self.mixed_6c = set_trainable(self.mixed_6c, trainable);
                self.mixed_6d = set_trainable(self.mixed_6d, trainable);
                self.mixed_6e = set_trainable(self.mixed_6e, trainable);
            }
            4 => {
                self.mixed_7a = set_trainable(self.mixed_7a, trainable);
                self.mixed_7b = set_trainable(self.mixed_7b, trainable);
                self.mixed_7c = set_trainable(self.mixed_7c, trainable);
            }
            _ => {}
        }
        self
    }
}

impl BackboneNetwork for InceptionV3 {
    fn first_conv(&self) -> &Conv2d {
        &self.conv2d_1a_3x3.conv
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        InceptionV3::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        InceptionV3::forward_stage(self, stage, x)
    }

    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
        InceptionV3::set_stage_trainable(self, stage, trainable)
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        InceptionV3::batch_norms_mut(self)
    }
}

#[cfg(test)]
mod tests;
