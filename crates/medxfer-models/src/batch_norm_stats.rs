//! Re-estimating batch-norm running statistics from the current weights ("precise BN", as
//! PyTorch's `torch.optim.swa_utils.update_bn`).
//!
//! Why: the running statistics are an exponential average over past training steps. When the
//! weights move fast (training from scratch) or the momentum is small (EfficientNet's
//! TensorFlow-trained batch norms average with 0.01), that average trails the network the
//! evaluation actually runs, and evaluation-mode predictions can collapse onto one class while
//! the training loss falls.

use burn::nn::BatchNorm;
use burn::prelude::*;

use crate::Backbone;

/// A model whose batch norms can be re-estimated: its norms and a training-mode forward pass.
pub(crate) trait BatchNormalised {
    fn norms_mut(&mut self) -> Vec<&mut BatchNorm>;
    /// A forward pass run only for its side effect on the running statistics.
    fn forward_for_statistics(&self, x: Tensor<4>);
}

impl BatchNormalised for Backbone {
    fn norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        self.batch_norms_mut()
    }

    fn forward_for_statistics(&self, x: Tensor<4>) {
        drop(self.forward_features(x));
    }
}

/// Replace the running mean and variance of every batch norm of `backbone` that is in training
/// mode by the sample-weighted average of its batch statistics over `batches`. Each batch is
/// one forward pass in training mode, so the batches must live on the autodiff (training)
/// device; no gradient is taken. Frozen batch norms keep their statistics and every layer's
/// momentum is restored afterwards. Returns the number of images seen.
pub fn recompute_batch_norm_statistics(
    backbone: &mut Backbone,
    batches: impl IntoIterator<Item = Tensor<4>>,
) -> usize {
    recompute_statistics(backbone, batches)
}

/// `recompute_batch_norm_statistics` for any model with batch norms.
pub(crate) fn recompute_statistics<M: BatchNormalised>(
    model: &mut M,
    batches: impl IntoIterator<Item = Tensor<4>>,
) -> usize {
    let momenta: Vec<f64> = model.norms_mut().iter().map(|norm| norm.momentum).collect();
    let mut seen = 0usize;
    for batch in batches {
        let size = batch.dims()[0];
        if size == 0 {
            continue;
        }
        seen += size;
        // running <- (1 - n/seen) * running + (n/seen) * batch: the cumulative average so far,
        // and the first batch overwrites whatever was there.
        let momentum = size as f64 / seen as f64;
        for norm in model.norms_mut() {
            norm.momentum = momentum;
        }
        model.forward_for_statistics(batch);
    }
    for (norm, momentum) in model.norms_mut().into_iter().zip(momenta) {
        norm.momentum = momentum;
        // Fold this thread's pending update into the value that records and visitors read.
        norm.running_mean.value_sync();
        norm.running_var.value_sync();
    }
    seen
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::BackboneKind;
    use crate::weights::module_state;

    fn images(batch: usize, size: usize, device: &Device) -> Tensor<4> {
        // Far from the N(0, 1) the fresh running statistics assume.
        Tensor::random(
            [batch, 3, size, size],
            Distribution::Normal(3.0, 2.0),
            device,
        )
    }

    /// Re-estimated on one batch (8 images of 64 px: with fewer values per channel in the last
    /// stage, tiny batch variances amplify f32 rounding past any useful tolerance), evaluation mode must reproduce training mode on that batch
    /// (both use its mean and biased variance); with the stale initial statistics it does not.
    #[test]
    fn eval_mode_matches_train_mode_on_the_batch_the_statistics_came_from() {
        let device = Device::flex().autodiff();
        for kind in BackboneKind::ALL {
            let mut backbone = Backbone::new(kind, 3, &device);
            if backbone.batch_norms_mut().is_empty() {
                // VGG16: nothing to re-estimate, both modes are the same network.
                continue;
            }
            let x = images(8, 64, &device);
            let train_mode = backbone.forward_features(x.clone()).inner();
            let stale = backbone.valid().forward_features(x.clone().inner());
            let stale_gap = (stale - train_mode.clone())
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(stale_gap > 1e-2, "{kind}: test batch too close to N(0,1)");

            let seen = recompute_batch_norm_statistics(&mut backbone, [x.clone()]);
            assert_eq!(seen, 8);
            let eval_mode = backbone.valid().forward_features(x.inner());
            let gap = (eval_mode - train_mode.clone())
                .abs()
                .max()
                .into_scalar::<f32>();
            let scale = train_mode.abs().max().into_scalar::<f32>();
            assert!(
                gap < 1e-3 * scale.max(1.0),
                "{kind}: eval differs from train mode by {gap}"
            );
        }
    }

    /// Two unequal batches give the statistics of their union at the first batch norm (whose
    /// input does not depend on other batch norms), not the plain mean of the two batch means.
    #[test]
    fn batches_are_weighted_by_their_size() {
        let device = Device::flex().autodiff();
        let small = images(1, 32, &device);
        let large = images(5, 32, &device);
        let union = Tensor::cat(vec![small.clone(), large.clone()], 0);

        let mut by_batches = Backbone::new(BackboneKind::Resnet18, 3, &device);
        let mut at_once = by_batches.clone();
        assert_eq!(
            recompute_batch_norm_statistics(&mut by_batches, [small, large]),
            6
        );
        recompute_batch_norm_statistics(&mut at_once, [union]);
        let (a, b) = (module_state(&by_batches), module_state(&at_once));
        let key = "bn1.running_mean";
        for (x, y) in a[key].data.iter().zip(&b[key].data) {
            assert!((x - y).abs() < 1e-4, "{key}: {x} vs {y}");
        }
    }

    #[test]
    fn frozen_statistics_and_momenta_are_kept() {
        let device = Device::flex().autodiff();
        let mut backbone =
            Backbone::new(BackboneKind::EfficientnetLite0, 3, &device).freeze_stages_before(2);
        let momenta: Vec<f64> = backbone
            .batch_norms_mut()
            .iter()
            .map(|n| n.momentum)
            .collect();
        let before = module_state(&backbone);
        recompute_batch_norm_statistics(&mut backbone, [images(2, 32, &device)]);
        let after = module_state(&backbone);
        assert_eq!(
            before["bn0.running_mean"], after["bn0.running_mean"],
            "frozen stem statistics changed"
        );
        assert_ne!(
            before["bn1.running_mean"], after["bn1.running_mean"],
            "trainable head statistics did not change"
        );
        let restored: Vec<f64> = backbone
            .batch_norms_mut()
            .iter()
            .map(|n| n.momentum)
            .collect();
        assert_eq!(momenta, restored);
        assert!(momenta.iter().all(|&m| m == 0.01));
    }
}
