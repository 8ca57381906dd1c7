//! Timing explanations: every fold model's map of synthetic images at a chosen input size,
//! so the figure measures the method, not image decoding or the run's training size.

use std::time::Instant;

use burn::prelude::*;

use crate::explainer::{Explainer, model_map};
use crate::{ExplainError, ExplainMethod, Stage};

/// What a timing measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainTiming {
    pub images: usize,
    pub size: usize,
    pub models: usize,
    /// Wall time of all maps, after one untimed warm-up map.
    pub seconds: f64,
}

impl ExplainTiming {
    /// Seconds per image for the fold ensemble (one map per fold model).
    pub fn seconds_per_image(&self) -> f64 {
        self.seconds / self.images.max(1) as f64
    }

    /// Seconds per single model's map.
    pub fn seconds_per_map(&self) -> f64 {
        self.seconds / (self.images * self.models).max(1) as f64
    }
}

/// `images` deterministic noise images of `size` x `size` (the content does not change the
/// work a CAM does), each explained by every fold model for class 0 at `stage`.
pub fn time_maps(
    explainer: &Explainer,
    method: ExplainMethod,
    stage: Stage,
    images: usize,
    size: usize,
) -> Result<ExplainTiming, ExplainError> {
    let models = explainer.models();
    let stage = stage.resolve(&models[0].backbone)?;
    if size < 32 {
        return Err(ExplainError::Invalid {
            what: "size",
            message: format!("{size} px is below the 32 px every backbone accepts"),
        });
    }
    let inputs: Vec<Tensor<4>> = (0..images as u32)
        .map(|i| noise_image(i, size, explainer))
        .collect();
    if let Some(first) = inputs.first() {
        model_map(&models[0], first.clone(), method, stage, 0)?;
    }
    let started = Instant::now();
    for x in &inputs {
        for model in models {
            model_map(model, x.clone(), method, stage, 0)?;
        }
    }
    Ok(ExplainTiming {
        images,
        size,
        models: models.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A 1 x C x size x size standard-normal-like image from a fixed linear congruential stream.
fn noise_image(index: u32, size: usize, explainer: &Explainer) -> Tensor<4> {
    let model = &explainer.models()[0];
    let channels = model.backbone.in_channels();
    let mut state = index.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    let pixels: Vec<f32> = (0..channels * size * size)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 3.4 - 1.7
        })
        .collect();
    Tensor::from_data(
        TensorData::new(pixels, [1, channels, size, size]),
        explainer.device(),
    )
}
