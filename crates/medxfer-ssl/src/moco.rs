//! MoCo v2 (He et al. 2020, Chen et al. 2020; paper 003 section 4.1.2): queries from the
//! trained encoder, keys from its momentum copy, InfoNCE against the positive key and a queue
//! of earlier keys.
//!
//! Shuffled batch norm: with one device, the query batch and the key batch hold the same
//! images, so full-batch statistics would let the networks recognise a positive pair by its
//! batch signature. The key batch is therefore permuted and normalised in separate groups
//! (`shuffle_bn_groups`), then put back in order: a query and its key never share batch-norm
//! statistics, which is what MoCo's cross-GPU shuffle achieves.

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use medxfer_models::{Backbone, BackboneKind};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::SslError;
use crate::ema::ema_update;
use crate::error::write_atomic;
use crate::method::{SslMethod, StepOutcome, learn_from, load_module, save_module, scalar};
use crate::projection::{ProjectedEncoder, l2_normalize};

/// The queue length used for a pool of `pool_size` images: at most the requested size and at
/// most a quarter of the pool (an image's previous key sits in a queue of K keys about K / n of
/// the time and then acts as a false negative), but never below one batch.
pub fn effective_queue_size(requested: usize, pool_size: usize, batch_size: usize) -> usize {
    requested.min(pool_size / 4).max(batch_size).min(requested)
}

/// InfoNCE: cross-entropy of picking the positive key among it and the queued negatives, by
/// dot products of unit vectors / temperature; mean over the queries. `queue` rows are unit
/// keys (K x d); `k` is treated as a constant.
pub fn info_nce_loss(q: Tensor<2>, k: Tensor<2>, queue: Tensor<2>, temperature: f64) -> Tensor<1> {
    let q = l2_normalize(q);
    let k = l2_normalize(k).detach();
    let positive = (q.clone() * k).sum_dim(1);
    let negative = q.matmul(queue.transpose());
    let logits = Tensor::cat(vec![positive, negative], 1).div_scalar(temperature);
    log_softmax(logits, 1).narrow(1, 0, 1).mean().neg()
}

/// A ring buffer of unit-length keys, oldest overwritten first.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyQueue {
    pub dim: usize,
    /// `len * dim` values, row-major.
    pub keys: Vec<f32>,
    /// Row the next key is written to.
    pub next: usize,
}

impl KeyQueue {
    /// `len` random unit keys (MoCo starts from random keys, replaced within len / N steps).
    pub fn random(len: usize, dim: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut keys = Vec::with_capacity(len * dim);
        for _ in 0..len {
            let row: Vec<f32> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            keys.extend(row.iter().map(|v| v / norm));
        }
        KeyQueue { dim, keys, next: 0 }
    }

    pub fn len(&self) -> usize {
        self.keys.len() / self.dim.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Append rows (row-major, `dim` wide), wrapping around and overwriting the oldest.
    pub fn enqueue(&mut self, rows: &[f32]) {
        let len = self.len();
        for row in rows.chunks_exact(self.dim) {
            let start = self.next * self.dim;
            self.keys[start..start + self.dim].copy_from_slice(row);
            self.next = (self.next + 1) % len;
        }
    }

    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.keys.clone(), [self.len(), self.dim]),
            device,
        )
    }

    /// `dim`, `next`, then the keys, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 4 * self.keys.len());
        out.extend_from_slice(&(self.dim as u64).to_le_bytes());
        out.extend_from_slice(&(self.next as u64).to_le_bytes());
        for v in &self.keys {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(
        bytes: &[u8],
        expected_len: usize,
        expected_dim: usize,
    ) -> Result<Self, String> {
        if bytes.len() < 16 {
            return Err("truncated queue file".into());
        }
        let dim = u64::from_le_bytes(bytes[0..8].try_into().map_err(|_| "bad header")?) as usize;
        let next = u64::from_le_bytes(bytes[8..16].try_into().map_err(|_| "bad header")?) as usize;
        let keys: Vec<f32> = bytes[16..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if dim != expected_dim
            || keys.len() != expected_len * expected_dim
            || next >= expected_len.max(1)
        {
            return Err(format!(
                "queue of {} keys x {dim} (next {next}) does not match the configured {expected_len} x {expected_dim}",
                keys.len() / dim.max(1)
            ));
        }
        Ok(KeyQueue { dim, keys, next })
    }
}

#[derive(Clone)]
pub struct Moco {
    query: ProjectedEncoder,
    key: ProjectedEncoder,
    queue: KeyQueue,
    temperature: f64,
    momentum: f64,
    shuffle_bn_groups: usize,
}

impl Moco {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: BackboneKind,
        channels: usize,
        hidden: usize,
        dim: usize,
        temperature: f64,
        momentum: f64,
        queue_len: usize,
        shuffle_bn_groups: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let query = ProjectedEncoder::new(kind, channels, hidden, dim, device);
        // The key encoder starts as an exact copy of the query encoder and never gets gradients;
        // batch norm in it still runs on batch statistics (no_grad keeps training behaviour).
        let key = ema_update(
            ProjectedEncoder::new(kind, channels, hidden, dim, device),
            &query,
            0.0,
        )
        .no_grad();
        Moco {
            query,
            key,
            queue: KeyQueue::random(queue_len, dim, seed ^ 0x4D6F_436F),
            temperature,
            momentum,
            shuffle_bn_groups,
        }
    }

    /// Keys of `x` with batch norm computed in shuffled groups, returned in the input order.
    fn shuffled_keys(&self, x: Tensor<4>, seed: u64) -> Tensor<2> {
        let n = x.dims()[0];
        let groups = self.shuffle_bn_groups.min(n / 2).max(1);
        if groups == 1 {
            return self.key.forward(x);
        }
        let device = x.device();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut inverse = vec![0usize; n];
        for (position, &i) in order.iter().enumerate() {
            inverse[i] = position;
        }
        let index = |v: &[usize]| {
            Tensor::<1, Int>::from_data(
                TensorData::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), [n]),
                &device,
            )
        };
        let shuffled = x.select(0, index(&order));
        let parts: Vec<Tensor<2>> = shuffled
            .chunk(groups, 0)
            .into_iter()
            .map(|part| self.key.forward(part))
            .collect();
        Tensor::cat(parts, 0).select(0, index(&inverse))
    }
}

impl SslMethod for Moco {
    fn train_step(
        &mut self,
        v1: Tensor<4>,
        v2: Tensor<4>,
        lr: f64,
        optimizer: &mut ModuleOptimizer,
        step_seed: u64,
    ) -> StepOutcome {
        let device = v1.device();
        // As MoCo: momentum update, then keys, then the query loss; enqueue after the step.
        self.key = ema_update(self.key.clone(), &self.query, self.momentum);
        let k = l2_normalize(self.shuffled_keys(v2, step_seed)).detach();
        let q = self.query.forward(v1);
        let loss = info_nce_loss(
            q.clone(),
            k.clone(),
            self.queue.tensor(&device),
            self.temperature,
        );
        let outcome = learn_from(&mut self.query, loss, q, lr, optimizer);
        let rows: Vec<f32> = k.into_data().iter::<f32>().collect();
        self.queue.enqueue(&rows);
        outcome
    }

    fn eval_loss(&self, v1: Tensor<4>, v2: Tensor<4>) -> f64 {
        let device = v1.device();
        let q = self.query.valid().forward(v1);
        let k = self.key.valid().forward(v2);
        scalar(info_nce_loss(
            q,
            k,
            self.queue.tensor(&device),
            self.temperature,
        ))
    }

    fn encoder(&self) -> &Backbone {
        &self.query.encoder
    }

    fn start_encoder_from(&mut self, encoder: &Backbone) {
        self.query.encoder = encoder.clone();
        // The key encoder stays an exact copy of the query encoder at the start.
        self.key.encoder = encoder.clone().no_grad();
    }

    fn save(&self, dir: &Path) -> Result<(), SslError> {
        save_module(&self.query, &dir.join("online.bpk"))?;
        save_module(&self.key, &dir.join("target.bpk"))?;
        write_atomic(&dir.join("queue.bin"), &self.queue.to_bytes())
    }

    fn load(&mut self, dir: &Path) -> Result<(), SslError> {
        self.query = load_module(self.query.clone(), &dir.join("online.bpk"))?;
        self.key = load_module(self.key.clone(), &dir.join("target.bpk"))?.no_grad();
        let path = dir.join("queue.bin");
        let bytes = std::fs::read(&path).map_err(|e| SslError::io(&path, e))?;
        self.queue = KeyQueue::from_bytes(&bytes, self.queue.len(), self.queue.dim)
            .map_err(|message| SslError::Checkpoint { path, message })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tensors::matrix;

    #[test]
    fn info_nce_matches_a_hand_computed_value() {
        // q = (1,0),(0,1); k = (.6,.8),(0,1); queue = (1,1)/sqrt2, (-1,0), (0,-1); tau = 0.5.
        // Row 1 logits / tau: [1.2, 1.41421, -2, 0] -> -1.2 + ln(sum e^x) = 0.948116;
        // row 2: [2, 1.41421, 0, -2] -> -2 + ln(sum e^x) = 0.536680. Mean 0.742398.
        let device = Device::flex();
        let q = matrix(&[[1.0, 0.0], [0.0, 2.0]], &device);
        let k = matrix(&[[0.6, 0.8], [0.0, 1.0]], &device);
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let queue = matrix(&[[s, s], [-1.0, 0.0], [0.0, -1.0]], &device);
        let loss = scalar(info_nce_loss(q, k, queue, 0.5));
        assert!((loss - 0.742_398).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn queue_wraps_round_replacing_the_oldest_keys() {
        let mut queue = KeyQueue::random(3, 2, 1);
        for row in queue.keys.chunks(2) {
            assert!(((row[0] * row[0] + row[1] * row[1]) - 1.0).abs() < 1e-5);
        }
        queue.enqueue(&[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(queue.next, 2);
        assert_eq!(&queue.keys[..4], &[1.0, 0.0, 0.0, 1.0]);
        queue.enqueue(&[-1.0, 0.0, 0.0, -1.0]);
        assert_eq!(queue.next, 1);
        assert_eq!(queue.keys, vec![0.0, -1.0, 0.0, 1.0, -1.0, 0.0]);
        let back = KeyQueue::from_bytes(&queue.to_bytes(), 3, 2).unwrap();
        assert_eq!(back, queue);
        assert!(KeyQueue::from_bytes(&queue.to_bytes(), 4, 2).is_err());
    }

    #[test]
    fn queue_size_is_clamped_for_small_pools() {
        assert_eq!(effective_queue_size(16_384, 1_000_000, 64), 16_384);
        assert_eq!(effective_queue_size(16_384, 500, 64), 125);
        assert_eq!(effective_queue_size(16_384, 100, 64), 64);
        assert_eq!(effective_queue_size(32, 100, 64), 32);
    }
}
