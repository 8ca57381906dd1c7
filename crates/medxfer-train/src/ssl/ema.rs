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
}
