//! U-Net for segmentation with any registry backbone as its encoder, laid out as
//! segmentation_models_pytorch's `Unet` (`encoder.*`, `decoder.blocks.N.conv1.0.weight`,
//! `segmentation_head.0.weight`). The decoder only sees the backbone through
//! `Backbone::forward_stages` / `stage_channels`, so a backbone added to the registry works here
//! once its spec lists its encoder maps.
//!
//! Image sides that are not multiples of 32 are zero-padded at the bottom and right before the
//! encoder and the logits are cropped back, so every size works; zero is the mean pixel after
//! the usual normalisation.

mod decoder;
#[cfg(test)]
mod tests;

pub use decoder::{ConvBnRelu, DecoderBlock, UNetDecoder};

use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};

use crate::batch_norm_stats::{BatchNormalised, recompute_statistics};
use crate::conv_bn::set_trainable;
use crate::fast_cpu::forward_conv2d;
use crate::{Backbone, BackboneKind, ENCODER_STRIDES, ModelError};

/// segmentation_models_pytorch's default decoder widths, deepest block first.
pub const DEFAULT_DECODER_CHANNELS: [usize; 5] = [256, 128, 64, 32, 16];

/// Image sides are padded to a multiple of the deepest encoder map's stride.
const OUTPUT_STRIDE: usize = ENCODER_STRIDES[4];

/// What a U-Net is built from; enough to rebuild it before loading saved weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UNetConfig {
    pub backbone: BackboneKind,
    /// Channels of the input images.
    pub in_channels: usize,
    /// Logit maps: 1 for a binary mask (sigmoid), K for K classes (softmax).
    pub out_channels: usize,
    /// Output channels of each decoder block, deepest first; one per encoder map (five).
    pub decoder_channels: Vec<usize>,
}

impl UNetConfig {
    /// A configuration with the default decoder widths.
    pub fn new(backbone: BackboneKind, in_channels: usize, out_channels: usize) -> Self {
        Self {
            backbone,
            in_channels,
            out_channels,
            decoder_channels: DEFAULT_DECODER_CHANNELS.to_vec(),
        }
    }

    pub fn with_decoder_channels(mut self, decoder_channels: Vec<usize>) -> Self {
        self.decoder_channels = decoder_channels;
        self
    }

    /// Every width positive and one decoder block per encoder map.
    pub fn validate(&self) -> Result<(), ModelError> {
        let invalid = |message: String| Err(ModelError::InvalidUNetConfig(message));
        if self.in_channels == 0 || self.out_channels == 0 {
            return invalid(format!(
                "in_channels ({}) and out_channels ({}) must be at least 1",
                self.in_channels, self.out_channels
            ));
        }
        if self.decoder_channels.len() != ENCODER_STRIDES.len() {
            return invalid(format!(
                "decoder_channels {:?} must list {} widths, one per encoder map",
                self.decoder_channels,
                ENCODER_STRIDES.len()
            ));
        }
        if self.decoder_channels.contains(&0) {
            return invalid(format!(
                "decoder_channels {:?} must all be at least 1",
                self.decoder_channels
            ));
        }
        Ok(())
    }
}

/// Which parts of a U-Net learn; the decoder and segmentation head always do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UNetTrainable {
    /// Encoder frozen (no gradients, batch norm on running statistics).
    DecoderOnly,
    /// The last `n` of the encoder stages the U-Net runs (`UNet::num_encoder_stages`, in
    /// `Backbone::stage_names` order) learn, earlier ones are frozen.
    LastEncoderStages(usize),
    /// Everything the U-Net runs learns.
    All,
}

/// Encoder, decoder and a 3x3 convolution to per-pixel logits at the input's resolution.
#[derive(Module, Debug)]
pub struct UNet {
    /// A registry backbone: `load_init` weights, freezing and batch-norm re-estimation apply
    /// to it as to a classifier's.
    pub encoder: Backbone,
    pub decoder: UNetDecoder,
    /// A one-element list so the saved names are smp's `segmentation_head.0.*`.
    pub segmentation_head: Vec<Conv2d>,
}

impl UNet {
    /// A randomly initialised U-Net (load encoder weights with `load_init` and use
    /// `from_encoder` to keep them).
    pub fn new(config: &UNetConfig, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let encoder = Backbone::new(config.backbone, config.in_channels, device);
        Self::from_encoder(encoder, config, device)
    }

    /// A new decoder and head on an existing encoder of the configured kind and input channels.
    pub fn from_encoder(
        encoder: Backbone,
        config: &UNetConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        if encoder.kind() != config.backbone {
            return Err(ModelError::KindMismatch {
                expected: config.backbone.to_string(),
                found: encoder.kind().to_string(),
            });
        }
        if encoder.in_channels() != config.in_channels {
            return Err(ModelError::InvalidUNetConfig(format!(
                "the encoder takes {}-channel images but in_channels is {}",
                encoder.in_channels(),
                config.in_channels
            )));
        }
        let decoder = UNetDecoder::new(encoder.stage_channels(), &config.decoder_channels, device);
        let head = Conv2dConfig::new([decoder.out_channels(), config.out_channels], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(device);
        Ok(Self {
            encoder,
            decoder,
            segmentation_head: vec![head],
        })
    }

    /// Number of logit maps.
    pub fn out_channels(&self) -> usize {
        self.segmentation_head
            .last()
            .map_or(0, |head| head.weight.dims()[0])
    }

    /// Images B x C x H x W -> logits B x out_channels x H x W (any H, W; see the module doc).
    /// On the wrong channel count or an empty batch or image burn's layers panic: check
    /// unvetted input with `check_input` or call `try_forward`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, _, height, width] = x.dims();
        let padded = pad_to_multiple(x, OUTPUT_STRIDE);
        let features = self.decoder.forward(self.encoder.forward_stages(padded));
        let logits = self
            .segmentation_head
            .iter()
            .fold(features, |x, head| forward_conv2d(head, x));
        let channels = self.out_channels();
        logits.slice([0..batch, 0..channels, 0..height, 0..width])
    }

    /// `forward` after `check_input`.
    pub fn try_forward(&self, x: Tensor<4>) -> Result<Tensor<4>, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether images of shape `dims` (B x C x H x W) can go through `forward`.
    pub fn check_input(&self, dims: [usize; 4]) -> Result<(), ModelError> {
        let reject = |reason: String| {
            Err(ModelError::InputShape {
                found: dims.to_vec(),
                reason,
            })
        };
        let expected = self.encoder.in_channels();
        if dims[1] != expected {
            return reject(format!("the U-Net takes {expected}-channel images"));
        }
        if dims[0] == 0 || dims[2] == 0 || dims[3] == 0 {
            return reject("empty batch or image".to_string());
        }
        Ok(())
    }

    /// Encoder stages (from the stem) the U-Net runs: what `LastEncoderStages` counts.
    pub fn num_encoder_stages(&self) -> usize {
        self.encoder.num_encoder_stages()
    }

    /// Freeze or unfreeze parts for a training phase. Encoder stages the U-Net does not run
    /// (EfficientNet's head convolution) stay frozen.
    pub fn set_trainable(self, trainable: UNetTrainable) -> Self {
        let used = self.num_encoder_stages();
        let trainable_from_end = match trainable {
            UNetTrainable::DecoderOnly => 0,
            UNetTrainable::LastEncoderStages(n) => n.min(used),
            UNetTrainable::All => used,
        };
        let first_trainable = used - trainable_from_end;
        let encoder = (0..self.encoder.num_stages()).fold(self.encoder, |encoder, stage| {
            encoder.set_stage_trainable(stage, stage >= first_trainable && stage < used)
        });
        Self {
            encoder,
            decoder: set_trainable(self.decoder, true),
            segmentation_head: set_trainable(self.segmentation_head, true),
        }
    }

    /// Every batch norm: the encoder's (`Backbone::batch_norms_mut`), then the decoder's.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut norms = self.encoder.batch_norms_mut();
        norms.extend(self.decoder.batch_norms_mut());
        norms
    }

    /// The decoder's batch norms, in forward order.
    pub fn decoder_batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        self.decoder.batch_norms_mut()
    }

    /// `recompute_batch_norm_statistics` for the whole U-Net (encoder and decoder), from
    /// training-mode U-Net forward passes over `batches` (on the autodiff device). Returns the
    /// number of images seen.
    pub fn recompute_batch_norm_statistics(
        &mut self,
        batches: impl IntoIterator<Item = Tensor<4>>,
    ) -> usize {
        recompute_statistics(self, batches)
    }
}

impl BatchNormalised for UNet {
    fn norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        self.batch_norms_mut()
    }

    fn forward_for_statistics(&self, x: Tensor<4>) {
        drop(self.forward(x));
    }
}

/// Zero-pad the bottom and right so height and width are multiples of `multiple`.
fn pad_to_multiple(x: Tensor<4>, multiple: usize) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let pad_bottom = height.next_multiple_of(multiple) - height;
    let pad_right = width.next_multiple_of(multiple) - width;
    if pad_bottom == 0 && pad_right == 0 {
        return x;
    }
    x.pad((0, pad_right, 0, pad_bottom), PadMode::Constant(0.0))
}
