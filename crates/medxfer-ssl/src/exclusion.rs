//! Keeping evaluation test images out of pretraining. The pretraining config names the
//! `medxfer train` config that will evaluate the encoder and the fold; its split is recomputed
//! exactly as `medxfer train` computes it, and every pretraining image whose decoded pixels
//! equal a test image's is excluded, wherever it lives (same file, a copy, another source).

use std::collections::HashSet;
use std::path::Path;

use medxfer_data::cache::Sha256Digest;
use medxfer_data::{ImageCache, PreprocessSpec};

use crate::SslError;
use crate::config::ExcludeConfig;
use medxfer_train::TrainConfig;
use medxfer_train::run::{load_dataset, make_folds};

/// Pixel hashes of the images an evaluation tests on.
#[derive(Debug, Clone)]
pub struct TestImages {
    pub hashes: HashSet<Sha256Digest>,
    /// Human-readable origin for logs ("the 156 test images of fold 0 of FILE").
    pub description: String,
}

impl TestImages {
    pub fn contains(&self, hash: &Sha256Digest) -> bool {
        self.hashes.contains(hash)
    }
}

/// The test images of `config.fold` of the evaluation `config.train_config` describes.
/// `size` is the pretraining image size (so the image cache can be shared with the pool).
pub fn test_images(
    config: &ExcludeConfig,
    size: u32,
    cache_dir: Option<&Path>,
) -> Result<TestImages, SslError> {
    let train_config = TrainConfig::load(&config.train_config, &config.train_overrides)?;
    let dataset = load_dataset(&train_config)?;
    let labels = dataset.labels();
    let folds = make_folds(&train_config, &dataset, &labels)?;
    let fold = folds.get(config.fold).ok_or_else(|| {
        SslError::invalid(
            "exclude.fold",
            format!(
                "{} has {} fold(s) (0..{}); fold {} does not exist",
                config.train_config.display(),
                folds.len(),
                folds.len().saturating_sub(1),
                config.fold
            ),
        )
    })?;
    let cache = ImageCache::build(&dataset, &PreprocessSpec { size, channels: 1 }, cache_dir)?;
    let hashes: HashSet<Sha256Digest> = fold.test.iter().map(|&i| *cache.pixel_hash(i)).collect();
    Ok(TestImages {
        hashes,
        description: format!(
            "the {} test images of fold {} of {} (seed {}, {} fold(s))",
            fold.test.len(),
            config.fold,
            config.train_config.display(),
            train_config.seed,
            folds.len()
        ),
    })
}
