//! Frozen backbone features of every image of a run's dataset (global-average-pooled, no
//! augmentation, the input normalised as training does), for models trained outside burn
//! (`medxfer baseline`). The backbone starts from each fold's `model.init`; folds with the same
//! init share one pass over the images.

use burn::prelude::*;
use medxfer_data::cache::ImageCache;
use medxfer_events::{Reporter, TaskKind};
use medxfer_models::weights::default_cache_dir;
use medxfer_models::{Backbone, load_init};

use crate::TrainConfig;
use crate::TrainError;
use crate::batches::{image_batch, mix_seed};
use crate::normalisation::input_normalisation;
use crate::run::{input_spec, resolve_device};

/// Row-major `images x dim` features of one backbone initialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenFeatures {
    pub dim: usize,
    pub values: Vec<f32>,
    /// The folds whose backbone init produced these features.
    pub folds: Vec<usize>,
}

/// Seeds a `scratch` backbone's random weights per fold (the stream name keeps it apart from
/// the training streams).
const SCRATCH_INIT_STREAM: u64 = 0xBA5E;

/// Features of every image in `cache` (built at the config's image size) for the backbone of
/// each of `folds`, one entry per distinct `model.init`.
pub fn frozen_backbone_features(
    config: &TrainConfig,
    cache: &ImageCache,
    folds: &[usize],
    events: &dyn Reporter,
) -> Result<Vec<FrozenFeatures>, TrainError> {
    let normalisation = input_normalisation(config, folds, events)?;
    let input = input_spec(config, normalisation);
    let device = resolve_device(config.device()?)?;
    let every_image: Vec<usize> = (0..cache.len()).collect();
    let mut out: Vec<(medxfer_models::Init, FrozenFeatures)> = Vec::new();
    for &fold in folds {
        let init = config.model.init.for_fold(fold);
        if let Some((_, done)) = out.iter_mut().find(|(i, _)| *i == init) {
            done.folds.push(fold);
            continue;
        }
        device.seed(mix_seed(&[config.seed, fold as u64, SCRATCH_INIT_STREAM]));
        let backbone = Backbone::new(config.model.backbone, config.model.in_channels, &device);
        let backbone =
            load_init(backbone, config.model.backbone, &init, &default_cache_dir())?.valid();
        let batch = config.train.batch_size.max(1);
        let chunks = every_image.chunks(batch);
        let bar = events.task(
            format!("backbone features (fold {fold})"),
            chunks.len(),
            TaskKind::Work,
        );
        let mut values = Vec::with_capacity(cache.len() * backbone.feature_dim());
        for chunk in every_image.chunks(batch) {
            let x = image_batch(cache, chunk, &input, None, &device);
            values.extend(backbone.forward_features(x).into_data().iter::<f32>());
            bar.step(None);
        }
        drop(bar);
        let features = FrozenFeatures {
            dim: backbone.feature_dim(),
            values,
            folds: vec![fold],
        };
        out.push((init, features));
    }
    Ok(out.into_iter().map(|(_, features)| features).collect())
}
