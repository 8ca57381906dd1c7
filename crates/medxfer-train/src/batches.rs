//! Turning cached, preprocessed images into normalised (optionally augmented) input tensors.
//! Everything random is seeded by (run seed, fold, phase, epoch, sample index), so a batch is
//! the same whatever thread builds it and whether or not the run was resumed.

use burn::prelude::*;
use medxfer_data::augment::Augmenter;
use medxfer_data::batch::{BatchSpec, augmented_batch};
use medxfer_data::cache::ImageCache;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What the network expects of its input.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub size: usize,
    pub channels: usize,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// Mixes the parts of a seed so nearby tuples give unrelated streams (SplitMix64 finaliser).
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// Seeds of the augmentation of one epoch: each sample's random stream derives from these and
/// its index (see `medxfer_data::batch::sample_rng`).
#[derive(Debug, Clone, Copy)]
pub struct AugmentStream<'a> {
    pub augmenter: &'a Augmenter,
    pub seed: u64,
    pub epoch: u64,
}

/// Build an N x C x H x W tensor of the images at `indices`, augmented when `augment` is given.
pub fn image_batch(
    cache: &ImageCache,
    indices: &[usize],
    spec: &InputSpec,
    augment: Option<AugmentStream<'_>>,
    device: &Device,
) -> Tensor<4> {
    let batch_spec = BatchSpec {
        channels: spec.channels,
        mean: &spec.mean,
        std: &spec.std,
    };
    let values = match augment {
        Some(a) => augmented_batch(
            cache,
            indices,
            Some(a.augmenter),
            a.epoch,
            a.seed,
            &batch_spec,
        ),
        None => augmented_batch(cache, indices, None, 0, 0, &batch_spec),
    };
    Tensor::from_data(
        TensorData::new(values, [indices.len(), spec.channels, spec.size, spec.size]),
        device,
    )
}

pub fn label_tensor(labels: &[usize], indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.iter().map(|&i| labels[i] as i64).collect();
    Tensor::from_data(TensorData::new(values, [indices.len()]), device)
}

/// Rows `indices` of a row-major feature matrix with `dim` columns.
pub fn feature_batch(
    features: &[f32],
    dim: usize,
    indices: &[usize],
    device: &Device,
) -> Tensor<2> {
    let mut flat = Vec::with_capacity(dim * indices.len());
    for &i in indices {
        flat.extend_from_slice(&features[i * dim..(i + 1) * dim]);
    }
    Tensor::from_data(TensorData::new(flat, [indices.len(), dim]), device)
}

/// A seeded permutation of `indices` cut into batches.
pub fn shuffled_batches(indices: &[usize], batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    use rand::seq::SliceRandom;
    let mut order = indices.to_vec();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order.chunks(batch_size).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_seeds_differ_and_repeat() {
        assert_eq!(mix_seed(&[1, 2, 3]), mix_seed(&[1, 2, 3]));
        assert_ne!(mix_seed(&[1, 2, 3]), mix_seed(&[1, 3, 2]));
        assert_ne!(mix_seed(&[0]), mix_seed(&[1]));
    }

    #[test]
    fn shuffled_batches_cover_every_index_once() {
        let idx: Vec<usize> = (10..47).collect();
        let batches = shuffled_batches(&idx, 8, 7);
        assert_eq!(batches.len(), 5);
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, idx);
        assert_eq!(batches, shuffled_batches(&idx, 8, 7));
        assert_ne!(batches, shuffled_batches(&idx, 8, 8));
    }
}
