//! What the pretraining loop needs from a method: one optimisation step on two batches of
//! views, a validation loss, the projections watched for collapse, the encoder, and saving /
//! restoring its whole state for resume.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use medxfer_events::Reporter;
use medxfer_models::Backbone;

use crate::SslError;
use crate::byol::Byol;
use crate::config::{MethodConfig, PretrainConfig};
use crate::moco::Moco;
use crate::simclr::Simclr;

pub trait SslMethod: BoxedClone {
    /// One step on the training device: loss of the two views, backward, optimizer step and
    /// any momentum / queue update. Returns the batch loss. `step_seed` drives any randomness
    /// inside the step (MoCo's batch shuffle).
    fn train_step(
        &mut self,
        v1: Tensor<4>,
        v2: Tensor<4>,
        lr: f64,
        optimizer: &mut ModuleOptimizer,
        step_seed: u64,
    ) -> StepOutcome;

    /// The loss without learning, batch norm on running statistics; views on the plain
    /// (non-autodiff) device.
    fn eval_loss(&self, v1: Tensor<4>, v2: Tensor<4>) -> f64;

    /// The encoder being pretrained (what is transferred).
    fn encoder(&self) -> &Backbone;

    /// Start every copy of the encoder (online, and a momentum target or key) from `encoder`'s
    /// weights: continued pretraining of an ImageNet or earlier encoder. Projection heads keep
    /// their fresh initialisation.
    fn start_encoder_from(&mut self, encoder: &Backbone);

    /// Write every tensor of the method's state (networks, queue) into `dir`.
    fn save(&self, dir: &Path) -> Result<(), SslError>;

    /// Restore the state `save` wrote.
    fn load(&mut self, dir: &Path) -> Result<(), SslError>;
}

/// A copy of a method's whole state (the run engine hands models by value); every method is
/// `Clone`, and this makes the copy through `dyn SslMethod`.
pub trait BoxedClone {
    fn boxed_clone(&self) -> Box<dyn SslMethod>;
}

impl<M: SslMethod + Clone + 'static> BoxedClone for M {
    fn boxed_clone(&self) -> Box<dyn SslMethod> {
        Box::new(self.clone())
    }
}

/// What one training step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    pub loss: f64,
    /// Spread of the batch's normalised projections (what the loss compares, with batch-norm
    /// on batch statistics as in training; see `collapse.rs`).
    pub spread: f64,
}

impl StepOutcome {
    pub fn new(loss: Tensor<1>, projections: Tensor<2>) -> Self {
        let dim = projections.dims()[1];
        let rows: Vec<f32> = projections.detach().into_data().iter::<f32>().collect();
        StepOutcome {
            loss: scalar(loss),
            spread: crate::collapse::normalized_spread(&rows, dim),
        }
    }
}

/// The end of every method's training step: measure the step (its loss, and the projections
/// watched for collapse), backpropagate `loss` and update `net`, the network being trained.
pub fn learn_from<M: Module>(
    net: &mut M,
    loss: Tensor<1>,
    projections: Tensor<2>,
    lr: f64,
    optimizer: &mut ModuleOptimizer,
) -> StepOutcome {
    let outcome = StepOutcome::new(loss.clone().detach(), projections);
    let grads = GradientsParams::from_grads(loss.backward(), net);
    *net = optimizer.step(lr, net.clone(), grads);
    outcome
}

/// The method a config asks for, freshly initialised on `device` (the autodiff device).
/// `pool_size` is the number of distinct training images (MoCo clamps its queue to it).
pub fn build_method(
    config: &PretrainConfig,
    pool_size: usize,
    device: &Device,
    events: &dyn Reporter,
) -> Box<dyn SslMethod> {
    let kind = config.model.backbone;
    let channels = config.model.in_channels;
    match config.method {
        MethodConfig::Simclr {
            temperature,
            projection_hidden,
            projection_dim,
        } => Box::new(Simclr::new(
            kind,
            channels,
            projection_hidden,
            projection_dim,
            temperature,
            device,
        )),
        MethodConfig::Moco {
            temperature,
            momentum,
            queue_size,
            projection_hidden,
            projection_dim,
            shuffle_bn_groups,
        } => {
            let queue =
                crate::moco::effective_queue_size(queue_size, pool_size, config.train.batch_size);
            if queue < queue_size {
                events.note(format!(
                    "moco: queue clamped from {queue_size} to {queue} keys: the training pool has {pool_size} images, and a queue over a quarter of it would often hold an older key of the query's own image as a negative"
                ));
            }
            Box::new(Moco::new(
                kind,
                channels,
                projection_hidden,
                projection_dim,
                temperature,
                momentum,
                queue,
                shuffle_bn_groups,
                config.seed,
                device,
            ))
        }
        MethodConfig::Byol {
            momentum,
            projection_hidden,
            projection_dim,
            predictor_hidden,
        } => Box::new(Byol::new(
            kind,
            channels,
            projection_hidden,
            projection_dim,
            predictor_hidden,
            momentum,
            device,
        )),
    }
}

/// Save a module as a burnpack file.
pub fn save_module<M: Module>(module: &M, path: &Path) -> Result<(), SslError> {
    module
        .clone()
        .save_file(path)
        .map_err(|e| SslError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot save weights: {e}"),
        })
}

/// Load a burnpack file written by `save_module` into a module of the same structure.
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, SslError> {
    module
        .try_load_file(path)
        .map_err(|e| SslError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot load weights: {e}"),
        })
}

/// The scalar value of a one-element loss tensor.
pub fn scalar(loss: Tensor<1>) -> f64 {
    loss.into_scalar::<f32>() as f64
}
