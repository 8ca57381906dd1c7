//! BYOL (Grill et al. 2020; paper 003 section 4.1.3): an online network (encoder, projector,
//! predictor) predicts the projection a target network makes of the other view; the target is
//! an exponential moving average of the online encoder and projector. No negatives. As paper
//! 003 section 5.2 states, online and target start from different random weights.

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use medxfer_models::{Backbone, BackboneKind};

use crate::SslError;
use crate::ema::ema_update;
use crate::method::{SslMethod, StepOutcome, learn_from, load_module, save_module, scalar};
use crate::projection::{MlpHead, ProjectedEncoder, l2_normalize};

/// The trained half: encoder + projector + predictor.
#[derive(Module, Debug)]
pub struct ByolOnline {
    pub net: ProjectedEncoder,
    pub predictor: MlpHead,
}

impl ByolOnline {
    /// Images -> (projection, prediction).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let z = self.net.forward(x);
        let p = self.predictor.forward(z.clone());
        (z, p)
    }
}

/// Normalised MSE between predictions and target projections, `2 - 2 cos`, per pair; the
/// symmetric BYOL loss adds both directions: mean over the batch of
/// `(2 - 2 cos(p1, z2')) + (2 - 2 cos(p2, z1'))`. Targets are constants.
pub fn byol_loss(
    p1: Tensor<2>,
    p2: Tensor<2>,
    target_z1: Tensor<2>,
    target_z2: Tensor<2>,
) -> Tensor<1> {
    let one_way = |p: Tensor<2>, z: Tensor<2>| {
        let cos = (l2_normalize(p) * l2_normalize(z.detach())).sum_dim(1);
        cos.mul_scalar(-2.0).add_scalar(2.0)
    };
    (one_way(p1, target_z2) + one_way(p2, target_z1)).mean()
}

#[derive(Clone)]
pub struct Byol {
    online: ByolOnline,
    target: ProjectedEncoder,
    momentum: f64,
}

impl Byol {
    pub fn new(
        kind: BackboneKind,
        channels: usize,
        hidden: usize,
        dim: usize,
        predictor_hidden: usize,
        momentum: f64,
        device: &Device,
    ) -> Self {
        let online = ByolOnline {
            net: ProjectedEncoder::new(kind, channels, hidden, dim, device),
            predictor: MlpHead::new(dim, predictor_hidden, dim, device),
        };
        // Built after the online network, so from a different part of the seeded stream.
        let target = ProjectedEncoder::new(kind, channels, hidden, dim, device).no_grad();
        Byol {
            online,
            target,
            momentum,
        }
    }
}

impl SslMethod for Byol {
    fn train_step(
        &mut self,
        v1: Tensor<4>,
        v2: Tensor<4>,
        lr: f64,
        optimizer: &mut ModuleOptimizer,
        _step_seed: u64,
    ) -> StepOutcome {
        let (z1, p1) = self.online.forward(v1.clone());
        let (_, p2) = self.online.forward(v2.clone());
        let t1 = self.target.forward(v1).detach();
        let t2 = self.target.forward(v2).detach();
        let loss = byol_loss(p1, p2, t1, t2);
        let outcome = learn_from(&mut self.online, loss, z1, lr, optimizer);
        self.target = ema_update(self.target.clone(), &self.online.net, self.momentum);
        outcome
    }

    fn eval_loss(&self, v1: Tensor<4>, v2: Tensor<4>) -> f64 {
        let online = self.online.valid();
        let target = self.target.valid();
        let (_, p1) = online.forward(v1.clone());
        let (_, p2) = online.forward(v2.clone());
        scalar(byol_loss(p1, p2, target.forward(v1), target.forward(v2)))
    }

    fn encoder(&self) -> &Backbone {
        &self.online.net.encoder
    }

    fn start_encoder_from(&mut self, encoder: &Backbone) {
        self.online.net.encoder = encoder.clone();
        self.target.encoder = encoder.clone().no_grad();
    }

    fn save(&self, dir: &Path) -> Result<(), SslError> {
        save_module(&self.online, &dir.join("online.bpk"))?;
        save_module(&self.target, &dir.join("target.bpk"))
    }

    fn load(&mut self, dir: &Path) -> Result<(), SslError> {
        self.online = load_module(self.online.clone(), &dir.join("online.bpk"))?;
        self.target = load_module(self.target.clone(), &dir.join("target.bpk"))?.no_grad();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tensors::matrix;

    #[test]
    fn byol_loss_matches_a_hand_computed_value() {
        // Pair 1: p1=(1,0) vs z2'=(2,0): cos 1 -> 0; p2=(0,1) vs z1'=(1,1): cos 1/sqrt2 -> 2 - sqrt2.
        // Pair 2: p1=(0,3) vs z2'=(-1,0): cos 0 -> 2; p2=(1,1) vs z1'=(0,1): 2 - sqrt2.
        // Mean over the two pairs: (0 + 2 - sqrt2 + 2 + 2 - sqrt2) / 2 = 3 - sqrt2 = 1.585786.
        let device = Device::flex();
        let p1 = matrix(&[[1.0, 0.0], [0.0, 3.0]], &device);
        let p2 = matrix(&[[0.0, 1.0], [1.0, 1.0]], &device);
        let z1 = matrix(&[[1.0, 1.0], [0.0, 1.0]], &device);
        let z2 = matrix(&[[2.0, 0.0], [-1.0, 0.0]], &device);
        let loss = scalar(byol_loss(p1, p2, z1, z2));
        assert!((loss - (3.0 - 2f64.sqrt())).abs() < 1e-5, "{loss}");
    }
}
