//! The unlabelled pool: every source decoded once into an image cache, evaluation test images
//! removed, each source split 80:20 into training and validation images, and each epoch's
//! draws mixed across sources by weight (a small source is re-sampled to reach its share).

use medxfer_data::{Dataset, ImageCache, PreparedImage, PreprocessSpec};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::SslError;
use crate::config::PretrainConfig;
use crate::exclusion::TestImages;
use medxfer_train::batches::mix_seed;

/// One source's images and their roles.
pub struct SourceImages {
    pub name: String,
    pub dataset: Dataset,
    pub cache: ImageCache,
    pub weight: f64,
    /// Local indices used for the loss.
    pub train: Vec<usize>,
    /// Local indices held out for the validation loss.
    pub val: Vec<usize>,
    /// Images left out because an evaluation tests on them.
    pub excluded: usize,
}

pub struct Pool {
    pub sources: Vec<SourceImages>,
}

/// A pool image as one number: source in the high 32 bits, index in the low.
pub fn image_key(source: usize, index: usize) -> u64 {
    ((source as u64) << 32) | index as u64
}

pub fn split_key(key: u64) -> (usize, usize) {
    ((key >> 32) as usize, (key & 0xFFFF_FFFF) as usize)
}

impl Pool {
    /// Load, decode (at `views.resize`), exclude and split every source of `config`.
    pub fn load(config: &PretrainConfig, exclude: Option<&TestImages>) -> Result<Pool, SslError> {
        let spec = PreprocessSpec {
            size: config.views.resize,
            channels: 1,
        };
        let mut sources = Vec::with_capacity(config.sources.len());
        for (s, source) in config.sources.iter().enumerate() {
            let dataset = Dataset::load(&source.source)?;
            let cache = ImageCache::build(&dataset, &spec, config.cache_dir.as_deref())?;
            let kept: Vec<usize> = (0..dataset.len())
                .filter(|&i| exclude.is_none_or(|t| !t.contains(cache.pixel_hash(i))))
                .collect();
            let excluded = dataset.len() - kept.len();
            if kept.len() < 2 {
                return Err(SslError::invalid(
                    &format!("sources[{s}]"),
                    format!(
                        "{}: {} image(s) left after excluding evaluation test images; at least 2 are needed",
                        source.source.location().display(),
                        kept.len()
                    ),
                ));
            }
            let (train, val) = split_train_val(
                &kept,
                config.train.val_fraction,
                mix_seed(&[config.seed, 0x5EC7, s as u64]),
            );
            sources.push(SourceImages {
                name: source.name.clone(),
                dataset,
                cache,
                weight: source.weight,
                train,
                val,
                excluded,
            });
        }
        Ok(Pool { sources })
    }

    pub fn image(&self, key: u64) -> &PreparedImage {
        let (source, index) = split_key(key);
        self.sources[source].cache.get(index)
    }

    /// Distinct training images over all sources.
    pub fn train_size(&self) -> usize {
        self.sources.iter().map(|s| s.train.len()).sum()
    }

    pub fn excluded(&self) -> usize {
        self.sources.iter().map(|s| s.excluded).sum()
    }

    pub fn val_keys(&self) -> Vec<u64> {
        self.keys(|s| &s.val)
    }

    pub fn train_keys(&self) -> Vec<u64> {
        self.keys(|s| &s.train)
    }

    fn keys(&self, pick: impl Fn(&SourceImages) -> &Vec<usize>) -> Vec<u64> {
        self.sources
            .iter()
            .enumerate()
            .flat_map(|(s, source)| pick(source).iter().map(move |&i| image_key(s, i)))
            .collect()
    }

    /// One epoch's `draws` training images: each source gets `draws * weight / total weight`
    /// of them (whole passes over a shuffled copy of its images, then part of one more), and
    /// the union is shuffled.
    pub fn epoch_keys(&self, draws: usize, seed: u64) -> Vec<u64> {
        let total_weight: f64 = self.sources.iter().map(|s| s.weight).sum();
        let mut quotas: Vec<usize> = self
            .sources
            .iter()
            .map(|s| (draws as f64 * s.weight / total_weight).round() as usize)
            .collect();
        // Rounding may miss `draws` by a few; the heaviest source absorbs the difference.
        let assigned: usize = quotas.iter().sum();
        if let Some(heaviest) = (0..quotas.len())
            .max_by(|&a, &b| self.sources[a].weight.total_cmp(&self.sources[b].weight))
        {
            quotas[heaviest] = (quotas[heaviest] + draws).saturating_sub(assigned);
        }
        let mut keys = Vec::with_capacity(draws);
        for (s, (source, quota)) in self.sources.iter().zip(quotas).enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[seed, s as u64]));
            let mut taken = 0;
            while taken < quota {
                let mut pass = source.train.clone();
                pass.shuffle(&mut rng);
                for &i in pass.iter().take(quota - taken) {
                    keys.push(image_key(s, i));
                }
                taken += pass.len().min(quota - taken);
            }
        }
        keys.shuffle(&mut ChaCha8Rng::seed_from_u64(mix_seed(&[seed, 0xA11])));
        keys
    }

    /// A log line per source.
    pub fn describe(&self) -> Vec<String> {
        self.sources
            .iter()
            .map(|s| {
                format!(
                    "source `{}`: {} images, {} for training, {} for validation, {} excluded, weight {}",
                    s.name,
                    s.dataset.len(),
                    s.train.len(),
                    s.val.len(),
                    s.excluded,
                    s.weight
                )
            })
            .collect()
    }
}

/// A seeded split of `indices` into (train, val) with `round(n * fraction)` validation images
/// (at least one, and at least one left for training).
pub fn split_train_val(indices: &[usize], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order = indices.to_vec();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_val = ((indices.len() as f64 * fraction).round() as usize)
        .clamp(1, indices.len().saturating_sub(1).max(1));
    let mut val = order[..n_val].to_vec();
    let mut train = order[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Cut a draw sequence into full batches (an incomplete last batch is dropped: batch norm and
/// in-batch negatives need a full batch), keeping one short batch if that is all there is.
pub fn batches(keys: &[u64], batch_size: usize) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = keys.chunks(batch_size).map(<[u64]>::to_vec).collect();
    if out.len() > 1 && out.last().is_some_and(|b| b.len() < batch_size) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_pool(sizes: &[(usize, f64)]) -> Pool {
        let sources = sizes
            .iter()
            .enumerate()
            .map(|(s, &(n, weight))| SourceImages {
                name: format!("s{s}"),
                dataset: Dataset::default(),
                cache: ImageCache::from_images(
                    PreprocessSpec {
                        size: 2,
                        channels: 1,
                    },
                    Vec::new(),
                ),
                weight,
                train: (0..n).collect(),
                val: Vec::new(),
                excluded: 0,
            })
            .collect();
        Pool { sources }
    }

    #[test]
    fn draws_follow_the_weights_and_cover_small_sources_evenly() {
        let pool = toy_pool(&[(100, 1.0), (10, 1.0)]);
        let keys = pool.epoch_keys(110, 3);
        assert_eq!(keys.len(), 110);
        let from_small: Vec<u64> = keys
            .iter()
            .copied()
            .filter(|&k| split_key(k).0 == 1)
            .collect();
        assert_eq!(from_small.len(), 55);
        // 55 draws from 10 images: five full passes plus five: every image 5 or 6 times.
        for i in 0..10 {
            let count = from_small.iter().filter(|&&k| split_key(k).1 == i).count();
            assert!(count == 5 || count == 6, "image {i}: {count}");
        }
        assert_eq!(keys, pool.epoch_keys(110, 3));
        assert_ne!(keys, pool.epoch_keys(110, 4));
    }

    #[test]
    fn train_val_split_is_disjoint_and_sized() {
        let indices: Vec<usize> = (0..50).map(|i| i * 2).collect();
        let (train, val) = split_train_val(&indices, 0.2, 9);
        assert_eq!((train.len(), val.len()), (40, 10));
        let mut all = [train.clone(), val.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, indices);
        assert_eq!(split_train_val(&[4, 7], 0.2, 1).1.len(), 1);
    }

    #[test]
    fn incomplete_last_batch_is_dropped() {
        let keys: Vec<u64> = (0..10).collect();
        assert_eq!(batches(&keys, 4).len(), 2);
        assert_eq!(batches(&keys, 5).len(), 2);
        assert_eq!(batches(&keys[..3], 4), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn keys_round_trip() {
        assert_eq!(split_key(image_key(3, 123_456)), (3, 123_456));
    }
}
