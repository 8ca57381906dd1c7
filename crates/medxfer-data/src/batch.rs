//! Building augmented, normalised batches in parallel with per-sample seeded RNGs, so a
//! batch is identical whatever the thread scheduling.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::augment::Augmenter;
use crate::cache::ImageCache;
use crate::normalize::to_chw;

/// The RNG for one sample in one epoch: depends only on (seed, epoch, sample index).
pub fn sample_rng(seed: u64, epoch: u64, sample_index: usize) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(&(sample_index as u64).to_le_bytes());
    key[24..].copy_from_slice(b"mxaugmnt");
    ChaCha8Rng::from_seed(key)
}

/// Normalisation applied to every image of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSpec<'a> {
    pub channels: usize,
    pub mean: &'a [f32],
    pub std: &'a [f32],
}

/// Returns `indices.len()` x C x H x W values (row-major), each image augmented (when an
/// augmenter is given) with `sample_rng(seed, epoch, index)` and normalised by `to_chw`.
/// Panics if an index is out of range of the cache.
pub fn augmented_batch(
    cache: &ImageCache,
    indices: &[usize],
    augmenter: Option<&Augmenter>,
    epoch: u64,
    seed: u64,
    spec: &BatchSpec<'_>,
) -> Vec<f32> {
    let Some(&first) = indices.first() else {
        return Vec::new();
    };
    let per_image = spec.channels * cache.get(first).pixels.len();
    let mut out = vec![0.0f32; per_image * indices.len()];
    out.par_chunks_mut(per_image)
        .zip(indices.par_iter())
        .for_each_init(
            || Vec::with_capacity(per_image),
            |scratch, (slot, &index)| {
                scratch.clear();
                let image = cache.get(index);
                match augmenter {
                    Some(augmenter) => {
                        let mut rng = sample_rng(seed, epoch, index);
                        let augmented = augmenter.apply(image, &mut rng);
                        to_chw(&augmented, spec.channels, spec.mean, spec.std, scratch);
                    }
                    None => to_chw(image, spec.channels, spec.mean, spec.std, scratch),
                }
                slot.copy_from_slice(scratch);
            },
        );
    out
}
