//! SimCLR (Chen et al. 2020; paper 003 section 4.1.1): both views through one encoder and
//! projection head, NT-Xent over the 2N projections of the batch.

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use medxfer_models::{Backbone, BackboneKind};

use crate::SslError;
use crate::method::{SslMethod, StepOutcome, learn_from, load_module, save_module, scalar};
use crate::projection::{ProjectedEncoder, l2_normalize};

/// NT-Xent: for each of the 2N projections, cross-entropy of picking its partner view among
/// the other 2N - 1 by cosine similarity / temperature; mean over the 2N.
pub fn nt_xent_loss(z1: Tensor<2>, z2: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [n, _] = z1.dims();
    let device = z1.device();
    let z = l2_normalize(Tensor::cat(vec![z1, z2], 0));
    let similarity = z.clone().matmul(z.transpose()).div_scalar(temperature);
    let m = 2 * n;
    let self_pairs: Vec<bool> = (0..m * m).map(|i| i / m == i % m).collect();
    let partners: Vec<f32> = (0..m * m)
        .map(|i| {
            let (row, col) = (i / m, i % m);
            if col == (row + n) % m { 1.0 } else { 0.0 }
        })
        .collect();
    let self_mask = Tensor::<2, Bool>::from_data(TensorData::new(self_pairs, [m, m]), &device);
    let partner_mask = Tensor::<2>::from_data(TensorData::new(partners, [m, m]), &device);
    let log_probs = log_softmax(similarity.mask_fill(self_mask, -1.0e9), 1);
    (log_probs * partner_mask).sum().neg().div_scalar(m as f64)
}

#[derive(Clone)]
pub struct Simclr {
    net: ProjectedEncoder,
    temperature: f64,
}

impl Simclr {
    pub fn new(
        kind: BackboneKind,
        channels: usize,
        hidden: usize,
        dim: usize,
        temperature: f64,
        device: &Device,
    ) -> Self {
        Simclr {
            net: ProjectedEncoder::new(kind, channels, hidden, dim, device),
            temperature,
        }
    }
}

impl SslMethod for Simclr {
    fn train_step(
        &mut self,
        v1: Tensor<4>,
        v2: Tensor<4>,
        lr: f64,
        optimizer: &mut ModuleOptimizer,
        _step_seed: u64,
    ) -> StepOutcome {
        // One forward over both views: batch norm sees all 2N images, as in SimCLR.
        let n = v1.dims()[0];
        let z = self.net.forward(Tensor::cat(vec![v1, v2], 0));
        let z1 = z.clone().narrow(0, 0, n);
        let z2 = z.clone().narrow(0, n, n);
        let loss = nt_xent_loss(z1, z2, self.temperature);
        learn_from(&mut self.net, loss, z, lr, optimizer)
    }

    fn eval_loss(&self, v1: Tensor<4>, v2: Tensor<4>) -> f64 {
        let net = self.net.valid();
        scalar(nt_xent_loss(
            net.forward(v1),
            net.forward(v2),
            self.temperature,
        ))
    }

    fn encoder(&self) -> &Backbone {
        &self.net.encoder
    }

    fn start_encoder_from(&mut self, encoder: &Backbone) {
        self.net.encoder = encoder.clone();
    }

    fn save(&self, dir: &Path) -> Result<(), SslError> {
        save_module(&self.net, &dir.join("online.bpk"))
    }

    fn load(&mut self, dir: &Path) -> Result<(), SslError> {
        self.net = load_module(self.net.clone(), &dir.join("online.bpk"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tensors::matrix;

    #[test]
    fn nt_xent_matches_a_hand_computed_value() {
        // Unit vectors a=(1,0), b=(0.6,0.8) (view 1), c=(0.8,0.6), d=(0,1) (view 2); tau=0.5.
        // Cosines: ab=.6 ac=.8 ad=0 bc=.96 bd=.8 cd=.6. Loss of a = -(ac/t) + ln(e^{ab/t} +
        // e^{ac/t} + e^{ad/t}), and likewise for b (partner d), c (a), d (b); mean of the four:
        // (0.62712 + 1.11430 + 1.11430 + 0.62712) / 4 = 0.870714.
        let device = Device::flex();
        let z1 = matrix(&[[1.0, 0.0], [0.6, 0.8]], &device);
        // Scaling a row must not matter: the loss normalises.
        let z2 = matrix(&[[1.6, 1.2], [0.0, 3.0]], &device);
        let loss = scalar(nt_xent_loss(z1, z2, 0.5));
        assert!((loss - 0.870_714).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn nt_xent_is_low_for_matched_and_high_for_swapped_views() {
        let device = Device::flex();
        let a = matrix(&[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], &device);
        let swapped = matrix(&[[0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]], &device);
        let good = scalar(nt_xent_loss(a.clone(), a.clone(), 0.1));
        let bad = scalar(nt_xent_loss(a, swapped, 0.1));
        assert!(good < 0.01 && bad > 5.0, "{good} {bad}");
    }
}
