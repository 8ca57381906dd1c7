//! Images per second of a backbone's training step or inference forward pass, on random
//! weights and N(0,1) images, at a given number of threads: medxfer's side of
//! `medxfer bench train-step` (PyTorch's side is `crates/medxfer/bench/pytorch_train_step.py`,
//! which times the same thing).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;

use crate::{Backbone, BackboneKind, ModelError};

/// What is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum StepMode {
    /// Forward + backward of the pooled features' mean with autodiff, batch norm on batch
    /// statistics.
    Train,
    /// Forward only, no autodiff, batch norm on running statistics.
    Inference,
}

impl StepMode {
    /// The name on the command line and in the benchmark's output.
    pub fn name(self) -> &'static str {
        match self {
            StepMode::Train => "train",
            StepMode::Inference => "inference",
        }
    }
}

/// The shape of the timed steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepShape {
    pub size: usize,
    pub batch: usize,
    /// Timed steps after one untimed warm-up step.
    pub rounds: usize,
    pub threads: usize,
}

/// Images per second of `kind` in `mode`, on a thread pool of `shape.threads` threads.
pub fn images_per_second(
    kind: BackboneKind,
    mode: StepMode,
    shape: StepShape,
) -> Result<f64, ModelError> {
    if shape.rounds == 0 || shape.batch == 0 || shape.threads == 0 || shape.size < 32 {
        return Err(ModelError::InvalidArgument(format!(
            "step timing needs rounds, batch and threads of at least 1 and a size of at least 32, got {shape:?}"
        )));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(shape.threads)
        .build()
        .map_err(|e| ModelError::InvalidArgument(format!("thread pool: {e}")))?;
    Ok(pool.install(|| timed(kind, mode, shape)))
}

fn timed(kind: BackboneKind, mode: StepMode, shape: StepShape) -> f64 {
    let plain = Device::flex();
    let device = match mode {
        StepMode::Train => plain.clone().autodiff(),
        StepMode::Inference => plain,
    };
    let backbone = Backbone::new(kind, 3, &device);
    let x = Tensor::<4>::random(
        [shape.batch, 3, shape.size, shape.size],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let step = || {
        let start = Instant::now();
        let loss = backbone.forward_features(x.clone()).mean();
        // Reading the loss forces the forward pass before the backward pass is timed.
        let _ = loss.clone().into_scalar::<f32>();
        if mode == StepMode::Train {
            drop(loss.backward());
        }
        start.elapsed().as_secs_f64()
    };
    step();
    let seconds: f64 = (0..shape.rounds).map(|_| step()).sum();
    (shape.batch * shape.rounds) as f64 / seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_time_a_small_step_and_bad_shapes_are_refused() {
        let shape = StepShape {
            size: 32,
            batch: 2,
            rounds: 1,
            threads: 1,
        };
        for mode in [StepMode::Train, StepMode::Inference] {
            let rate = images_per_second(BackboneKind::Resnet18, mode, shape).unwrap();
            assert!(rate.is_finite() && rate > 0.0, "{mode:?}: {rate}");
        }
        let zero = StepShape { rounds: 0, ..shape };
        let err = images_per_second(BackboneKind::Resnet18, StepMode::Train, zero).unwrap_err();
        assert!(err.to_string().contains("rounds"), "{err}");
    }
}
