//! The `[segmentation]` table of a run configuration (`task = "segmentation"`).

use medxfer_data::MissingMask;
use medxfer_models::DEFAULT_DECODER_CHANNELS;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// What a run trains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChoice {
    /// Image classes (predictions.csv with per-class scores).
    #[default]
    Classification,
    /// Binary lesion masks with a U-Net on the backbone (segmentations.csv with mask PNGs).
    Segmentation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentationConfig {
    #[serde(default)]
    pub loss: SegmentationLoss,
    /// Output channels of the U-Net's decoder blocks, deepest first (five).
    #[serde(default = "default_decoder_channels")]
    pub decoder_channels: Vec<usize>,
    /// Probability above which a pixel is lesion.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// An image without a mask file: an error, or (`empty`) all background, with a warning.
    #[serde(default)]
    pub missing_masks: MissingMask,
}

impl Default for SegmentationConfig {
    fn default() -> Self {
        SegmentationConfig {
            loss: SegmentationLoss::default(),
            decoder_channels: default_decoder_channels(),
            threshold: default_threshold(),
            missing_masks: MissingMask::default(),
        }
    }
}

fn default_decoder_channels() -> Vec<usize> {
    DEFAULT_DECODER_CHANNELS.to_vec()
}

fn default_threshold() -> f64 {
    0.5
}

/// `dice * soft Dice loss + bce * (binary cross-entropy, or focal loss when `focal` is set)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentationLoss {
    #[serde(default = "one")]
    pub dice: f64,
    #[serde(default = "one")]
    pub bce: f64,
    /// Focal loss (Lin et al. 2017) in place of plain cross-entropy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal: Option<Focal>,
}

impl Default for SegmentationLoss {
    fn default() -> Self {
        SegmentationLoss {
            dice: 1.0,
            bce: 1.0,
            focal: None,
        }
    }
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Focal {
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// Weight of the lesion class (1 - alpha for background).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
}

fn default_gamma() -> f64 {
    2.0
}

fn default_alpha() -> f64 {
    0.25
}

impl SegmentationConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let loss = &self.loss;
        let weight_ok = |w: f64| w.is_finite() && w >= 0.0;
        if !weight_ok(loss.dice) || !weight_ok(loss.bce) || loss.dice + loss.bce == 0.0 {
            return Err(TrainError::invalid(
                "segmentation.loss",
                "dice and bce are non-negative weights, not both 0",
            ));
        }
        if let Some(focal) = loss.focal
            && !(focal.gamma >= 0.0 && (0.0..=1.0).contains(&focal.alpha))
        {
            return Err(TrainError::invalid(
                "segmentation.loss.focal",
                "gamma must be >= 0 and alpha within [0, 1]",
            ));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(TrainError::invalid(
                "segmentation.threshold",
                "must lie strictly between 0 and 1",
            ));
        }
        if self.decoder_channels.len() != DEFAULT_DECODER_CHANNELS.len()
            || self.decoder_channels.contains(&0)
        {
            return Err(TrainError::invalid(
                "segmentation.decoder_channels",
                format!(
                    "five positive widths, deepest first (default {DEFAULT_DECODER_CHANNELS:?})"
                ),
            ));
        }
        Ok(())
    }
}
