//! Exponential moving average of one network's weights into another of the same shape:
//! MoCo's key encoder (m = 0.999) and BYOL's target network (m = 0.99) follow their online
//! networks as `target = m * target + (1 - m) * online`. Batch-norm running statistics are
//! averaged the same way. With `m = 0` the target becomes a copy.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Every float tensor of a module, detached and flattened, in visiting order.
struct Collect {
    values: Vec<Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().detach();
        let n = value.shape().num_elements();
        self.values.push(value.reshape([n]));
    }
}

/// Blends each tensor with the online tensor of the same visiting position.
struct Blend {
    online: std::vec::IntoIter<Tensor<1>>,
    momentum: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(online) = self.online.next() else {
            return param;
        };
        let momentum = self.momentum;
        param.map(|target| {
            let dims = target.dims();
            let online = online.reshape(dims).to_device(&target.device());
            target
                .detach()
                .mul_scalar(momentum)
                .add(online.mul_scalar(1.0 - momentum))
                .detach()
        })
    }
}

/// `target <- momentum * target + (1 - momentum) * online`, parameter by parameter. Both
/// modules must have been built by the same constructor (same structure and shapes).
pub fn ema_update<M: Module>(target: M, online: &M, momentum: f64) -> M {
    let mut collect = Collect { values: Vec::new() };
    online.visit(&mut collect);
    let mut blend = Blend {
        online: collect.values.into_iter(),
        momentum,
    };
    target.map(&mut blend)
}

/// Above this share of its random initial weights left at the end of the run, an EMA target
/// has barely followed its online network and `medxfer pretrain` warns.
pub const STALE_TARGET_SHARE: f64 = 0.25;
/// The share the suggested momentum leaves after the run's steps.
const FOLLOWING_TARGET_SHARE: f64 = 0.05;

/// The weight an EMA target still gives its initial (random) values after `steps` updates:
/// `momentum^steps`. Paper 003's schedule (about 2,000 steps) leaves 0.999^2000 = 0.14; a short
/// CPU run of 240 steps leaves 0.999^240 = 0.79, a key encoder that is mostly random.
pub fn initial_weight_share(momentum: f64, steps: usize) -> f64 {
    momentum.powf(steps as f64)
}

/// The warning for an EMA target (`role`, e.g. "key encoder") that would keep more than
/// [`STALE_TARGET_SHARE`] of its initial weights over the run's `steps`, with the largest
/// momentum (to 3 decimals) that leaves at most 5%; None when the momentum fits the run.
pub fn stale_target_warning(
    method: &str,
    role: &str,
    momentum: f64,
    steps: usize,
) -> Option<String> {
    let share = initial_weight_share(momentum, steps);
    if share <= STALE_TARGET_SHARE {
        return None;
    }
    let fitting =
        (FOLLOWING_TARGET_SHARE.powf(1.0 / steps.max(1) as f64) * 1000.0).floor() / 1000.0;
    Some(format!(
        "{method}: the {role} keeps {:.0}% of its random initial weights after this run's {steps} steps (method.momentum = {momentum}, {momentum}^{steps} = {share:.2}); with this few steps set method.momentum to {fitting} or lower, or train more steps",
        share * 100.0
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    fn values(linear: &Linear) -> Vec<f32> {
        let mut out: Vec<f32> = linear.weight.val().into_data().iter::<f32>().collect();
        if let Some(bias) = &linear.bias {
            out.extend(bias.val().into_data().iter::<f32>());
        }
        out
    }

    #[test]
    fn moving_average_is_elementwise_and_copy_at_zero() {
        let device = Device::flex();
        let online = LinearConfig::new(3, 2).init(&device);
        let target = LinearConfig::new(3, 2).init(&device);
        let (o, t) = (values(&online), values(&target));
        let blended = ema_update(target.clone(), &online, 0.9);
        for ((b, o), t) in values(&blended).iter().zip(&o).zip(&t) {
            assert!(
                (b - (0.9 * t + 0.1 * o)).abs() < 1e-6,
                "{b} vs 0.9*{t} + 0.1*{o}"
            );
        }
        // Two steps of m = 0.5 towards a fixed online network: t/4 + 3o/4.
        let twice = ema_update(ema_update(target, &online, 0.5), &online, 0.5);
        for ((b, o), t) in values(&twice).iter().zip(&o).zip(&t) {
            assert!((b - (0.25 * t + 0.75 * o)).abs() < 1e-6);
        }
        assert_eq!(values(&ema_update(blended, &online, 0.0)), o);
    }

    #[test]
    fn a_momentum_too_high_for_the_run_is_flagged_with_one_that_fits() {
        // 0.999^240 = exp(240 ln 0.999) = 0.7865.
        assert!((initial_weight_share(0.999, 240) - 0.786_6).abs() < 1e-4);
        let warning = stale_target_warning("moco", "key encoder", 0.999, 240).unwrap();
        // 0.05^(1/240) = 0.98760, floored to 0.987; 0.987^240 = 0.043 <= 0.05.
        assert!(
            warning.contains("keeps 79%") && warning.contains("set method.momentum to 0.987 "),
            "{warning}"
        );
        assert!(initial_weight_share(0.987, 240) <= 0.05);
        // Paper 003's schedule: 100 epochs of ~20 steps leave 0.999^2000 = 0.135.
        assert_eq!(
            stale_target_warning("moco", "key encoder", 0.999, 2000),
            None
        );
        assert_eq!(
            stale_target_warning("byol", "target network", 0.99, 240),
            None
        );
        assert!(stale_target_warning("byol", "target network", 0.99, 48).is_some());
    }
}
