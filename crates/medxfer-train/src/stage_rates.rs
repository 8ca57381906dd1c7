//! Discriminative learning rates (`train.layer_decay`): one optimizer whose parameter groups,
//! the backbone's stages, learn at fractions of the phase's rate, as timm's layer-wise decay
//! and fastai's discriminative rates do.

use burn::module::ParamGroup;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use medxfer_models::Backbone;

/// Rate multipliers for groups of parameters; every parameter in no group (the head, a
/// U-Net's decoder) learns at the base rate.
#[derive(Clone, Default)]
pub struct StageRates {
    groups: Vec<(ParamGroup, f64)>,
}

impl StageRates {
    /// The rates `train.layer_decay` asks for (one rate when it is unset): of the first
    /// `stages` backbone stages, stage `s` (0 = stem) learns at `decay^(stages - s)` times the
    /// base rate, so the stage next to the head gets `decay` and the stem the smallest share.
    /// Later stages (those a U-Net does not run) are left alone: they never learn.
    pub fn new(backbone: &Backbone, stages: usize, decay: Option<f64>) -> Self {
        let Some(decay) = decay else {
            return StageRates::default();
        };
        let per_stage = backbone.stage_param_ids();
        let stages = stages.min(per_stage.len());
        let groups = per_stage
            .into_iter()
            .take(stages)
            .enumerate()
            .map(|(stage, ids)| {
                let depth_from_head = (stages - stage) as i32;
                (ParamGroup::from_ids(ids), decay.powi(depth_from_head))
            })
            .collect();
        StageRates { groups }
    }

    /// The multiplier of parameter `id` (what `at` gives it, over the base rate).
    #[cfg(test)]
    fn multiplier(&self, id: burn::module::ParamId) -> f64 {
        self.groups
            .iter()
            .rev()
            .find(|(group, _)| group.matches(&id, None))
            .map_or(1.0, |(_, multiplier)| *multiplier)
    }

    /// The per-parameter rates of one optimizer step at base rate `lr`.
    pub fn at(&self, lr: f64) -> ModuleLearningRate {
        let mut schedule = ModuleLrScheduler::new(lr);
        for (group, multiplier) in &self.groups {
            schedule = schedule.with_group(group.clone(), lr * multiplier);
        }
        // Every group's scheduler is a constant rate: one step reads them.
        schedule.step()
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::{GradientsParams, SgdConfig};
    use burn::prelude::*;
    use burn::tensor::{Distribution, Gradients};
    use medxfer_models::{BackboneKind, Classifier, Head, HeadConfig};

    use super::*;

    /// The ResNet-18 stem convolution (stage 0), the last block's second convolution
    /// (stage 4) and the linear head's weight: values, and gradients when `grads` are given.
    fn watched(model: &Classifier, grads: Option<&Gradients>) -> Vec<Vec<f32>> {
        let (Backbone::Resnet18(net), Head::Linear(head)) = (&model.backbone, &model.head) else {
            unreachable!("a ResNet-18 with a linear head in this test")
        };
        let read4 = |w: Tensor<4>| match grads {
            Some(grads) => w.grad(grads).expect("a gradient").flatten::<1>(0, 3),
            None => w.flatten::<1>(0, 3),
        };
        let head_weight = head.weight.val();
        let head_values = match grads {
            Some(grads) => head_weight
                .grad(grads)
                .expect("a gradient")
                .flatten::<1>(0, 1),
            None => head_weight.flatten::<1>(0, 1),
        };
        [
            read4(net.conv1.weight.val()),
            read4(net.layer4[1].conv2.weight.val()),
            head_values,
        ]
        .into_iter()
        .map(|x| x.into_data().iter::<f32>().collect())
        .collect()
    }

    /// One plain-SGD step moves every parameter by `rate * gradient`: the step each watched
    /// tensor took, over its gradient, must be the base rate times `decay^(stages - stage)`,
    /// and the head's the base rate itself.
    #[test]
    fn each_stage_steps_at_its_decayed_rate() {
        let device = Device::flex().autodiff();
        let model = Classifier::new(BackboneKind::Resnet18, 3, &HeadConfig::Linear, 2, &device);
        let stages = model.backbone.num_stages();
        // Built before the forward pass, as a phase builds them: grouping the stages must not
        // freeze the model it reads (lazily initialised parameters are shared with clones).
        let rates = StageRates::new(&model.backbone, stages, Some(0.5));
        let x = Tensor::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let grads = model.forward(x).powf_scalar(2.0).mean().backward();
        let gradients = watched(&model, Some(&grads));
        let before = watched(&model, None);
        let params = GradientsParams::from_grads(grads, &model);
        let base = 0.1;
        let stepped = SgdConfig::new().init().step(rates.at(base), model, params);
        let after = watched(&stepped, None);

        let expected = [base * 0.5f64.powi(stages as i32), base * 0.5, base];
        for (k, expected) in expected.into_iter().enumerate() {
            let moved: f64 = before[k]
                .iter()
                .zip(&after[k])
                .map(|(b, a)| (b - a).abs() as f64)
                .sum();
            let gradient: f64 = gradients[k].iter().map(|g| g.abs() as f64).sum();
            let rate = moved / gradient;
            // f32 parameters: the relative error of the recovered rate stays far below 1%.
            assert!(
                (rate / expected - 1.0).abs() < 1e-2,
                "watched tensor {k}: rate {rate}, expected {expected}"
            );
        }
    }

    #[test]
    fn unset_decay_is_one_rate_for_everything() {
        let device = Device::flex().autodiff();
        let backbone = Backbone::new(BackboneKind::Resnet18, 3, &device);
        let rates = StageRates::new(&backbone, backbone.num_stages(), None);
        let Backbone::Resnet18(net) = &backbone else {
            unreachable!()
        };
        assert_eq!(rates.multiplier(net.conv1.weight.id), 1.0);
    }
}
