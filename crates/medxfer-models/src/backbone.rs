//! What every `Backbone` (the enum `registry.rs` generates) offers beyond its dispatch.

use burn::module::{ModuleVisitor, Param, ParamId};
use burn::prelude::*;

pub use crate::registry::Backbone;
use crate::{EncoderStage, spec};

impl Backbone {
    /// Channels of the images the first convolution takes.
    pub fn in_channels(&self) -> usize {
        let weight = &self.first_conv().weight;
        weight.lazy_shape().as_slice()[1]
    }

    /// Width of `forward_features`' output.
    pub fn feature_dim(&self) -> usize {
        spec(self.kind()).feature_dim
    }

    /// The feature maps `forward_stages` returns: stride, channels, stage they follow.
    pub fn encoder_stages(&self) -> [EncoderStage; 5] {
        spec(self.kind()).encoder_stages
    }

    /// Channels of each map `forward_stages` returns (strides 2, 4, 8, 16, 32).
    pub fn stage_channels(&self) -> [usize; 5] {
        self.encoder_stages().map(|stage| stage.channels)
    }

    /// Stages (from the stem) a decoder needs: later ones, such as EfficientNet's 1x1 head
    /// convolution, do not feed any map `forward_stages` returns.
    pub fn num_encoder_stages(&self) -> usize {
        spec(self.kind()).encoder_stage_names().len()
    }

    /// Feature maps at strides 2, 4, 8, 16 and 32 for skip connections (channels in
    /// `stage_channels`): B x C x H x W -> B x C_i x ceil(H / s_i) x ceil(W / s_i).
    pub fn forward_stages(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let wanted = self.encoder_stages();
        let mut maps = Vec::with_capacity(wanted.len());
        let mut x = x;
        for stage in 0..self.num_encoder_stages() {
            x = self.forward_stage(stage, x);
            if wanted.iter().any(|map| map.after_stage == stage) {
                maps.push(x.clone());
            }
        }
        maps
    }

    /// Number of stages (stem first, last stage nearest the head).
    pub fn num_stages(&self) -> usize {
        self.stage_names().len()
    }

    /// Human-readable stage names, stem first.
    pub fn stage_names(&self) -> &'static [&'static str] {
        spec(self.kind()).stage_names
    }

    /// Partial unfreezing: the last `n_trainable_from_end` stages train, every earlier stage is
    /// frozen (no gradients, batch norm on running statistics). `0` freezes everything; a value
    /// at or above `num_stages()` unfreezes everything.
    pub fn freeze_stages_before(self, n_trainable_from_end: usize) -> Self {
        let stages = self.num_stages();
        let first_trainable = stages.saturating_sub(n_trainable_from_end);
        (0..stages).fold(self, |backbone, stage| {
            backbone.set_stage_trainable(stage, stage >= first_trainable)
        })
    }

    /// Each stage's parameters (stem first), with the stages `set_stage_trainable` defines:
    /// the groups of per-stage learning rates. On an autodiff device (off it no parameter
    /// takes gradients, so every list is empty).
    pub fn stage_param_ids(&self) -> Vec<Vec<ParamId>> {
        // A lazily initialised parameter shares its pending initialisation with clones, so
        // freezing a clone first would initialise this backbone's frozen too: read every
        // parameter here first (initialising it as this backbone configured it).
        self.visit(&mut TrainableParamIds::default());
        (0..self.num_stages())
            .map(|stage| {
                // The stage's own freezing decides what belongs to it, so no second list of
                // each backbone's stage members can drift from the first.
                let only_this_stage = self.clone().freeze().set_stage_trainable(stage, true);
                let mut trainable = TrainableParamIds::default();
                only_this_stage.visit(&mut trainable);
                trainable.ids
            })
            .collect()
    }

    /// Freeze every stage (linear probing).
    pub fn freeze(self) -> Self {
        <Self as Module>::freeze(self)
    }

    /// Make every stage trainable again (full fine-tuning).
    pub fn unfreeze(self) -> Self {
        <Self as Module>::unfreeze(self)
    }
}

/// Collects the parameters that take gradients.
#[derive(Default)]
struct TrainableParamIds {
    ids: Vec<ParamId>,
}

impl ModuleVisitor for TrainableParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if param.val().is_require_grad() {
            self.ids.push(param.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::{GradientsParams, SgdConfig};
    use burn::tensor::Distribution;

    use super::*;
    use crate::BackboneKind;
    use crate::weights::module_state;

    fn images(batch: usize, channels: usize, size: usize, device: &Device) -> Tensor<4> {
        Tensor::random(
            [batch, channels, size, size],
            Distribution::Normal(0.0, 1.0),
            device,
        )
    }

    #[test]
    fn every_backbone_gives_pooled_features_of_its_spec_width() {
        let device = Device::flex();
        for kind in BackboneKind::ALL {
            for channels in [1, 3] {
                let backbone = Backbone::new(kind, channels, &device);
                assert_eq!(backbone.kind(), kind);
                assert_eq!(backbone.in_channels(), channels);
                assert_eq!(backbone.num_stages(), spec(kind).stage_names.len());
                let features = backbone.forward_features(images(2, channels, 32, &device));
                assert_eq!(features.dims(), [2, spec(kind).feature_dim], "{kind}");
                let finite = features.is_finite().all().into_scalar::<bool>();
                assert!(finite, "{kind}: non-finite features");
            }
        }
    }

    /// The maps have the registry's channels and strides (on a size that is not a multiple of
    /// 32, the ceiling of size / stride, as the stride-2 convolutions pad).
    #[test]
    fn forward_stages_gives_maps_of_the_registry_channels_and_strides() {
        let device = Device::flex();
        for kind in BackboneKind::ALL {
            let backbone = Backbone::new(kind, 3, &device);
            let x = Tensor::random([1, 3, 64, 72], Distribution::Normal(0.0, 1.0), &device);
            let maps = backbone.forward_stages(x);
            assert_eq!(maps.len(), 5, "{kind}");
            for (map, stage) in maps.iter().zip(backbone.encoder_stages()) {
                let expected = [
                    1,
                    stage.channels,
                    64usize.div_ceil(stage.stride),
                    72usize.div_ceil(stage.stride),
                ];
                assert_eq!(map.dims(), expected, "{kind} stride {}", stage.stride);
            }
        }
    }

    /// Running every stage in order and pooling reproduces `forward_features`, so the stage
    /// split loses and adds nothing.
    #[test]
    fn stages_in_order_reproduce_forward_features() {
        let device = Device::flex();
        for kind in BackboneKind::ALL {
            let backbone = Backbone::new(kind, 3, &device);
            let x = images(2, 3, 32, &device);
            let staged = (0..backbone.num_stages())
                .fold(x.clone(), |x, stage| backbone.forward_stage(stage, x));
            let pooled = crate::conv_bn::global_average_pool(staged);
            let gap = (pooled - backbone.forward_features(x))
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(gap < 1e-5, "{kind}: staged forward differs by {gap}");
        }
    }

    /// One SGD step on a backbone with only its last stage trainable: frozen parameters and
    /// frozen batch-norm statistics must not move, the trainable stage must.
    #[test]
    fn frozen_stages_get_no_gradient_and_do_not_change() {
        let device = Device::flex().autodiff();
        for kind in [BackboneKind::Resnet18, BackboneKind::EfficientnetLite0] {
            let backbone = Backbone::new(kind, 3, &device).freeze_stages_before(1);
            let before = module_state(&backbone);

            let features = backbone.forward_features(images(2, 3, 32, &device));
            let loss = features.powf_scalar(2.0).mean();
            let grads = loss.backward();

            let (frozen_weight, trainable_weight) = match &backbone {
                Backbone::Resnet18(net) => {
                    (net.conv1.weight.val(), net.layer4[1].conv2.weight.val())
                }
                Backbone::EfficientnetLite0(net) => {
                    (net.conv_stem.weight.val(), net.conv_head.weight.val())
                }
                _ => unreachable!("not in this test"),
            };
            assert!(
                frozen_weight.grad(&grads).is_none(),
                "{kind}: frozen stem has a gradient"
            );
            assert!(
                trainable_weight.grad(&grads).is_some(),
                "{kind}: last stage has no gradient"
            );

            let grads = GradientsParams::from_grads(grads, &backbone);
            let mut optimizer = SgdConfig::new().init();
            let backbone = optimizer.step(0.5, backbone, grads);
            let after = module_state(&backbone);

            let (stem, last) = match kind {
                BackboneKind::Resnet18 => ("conv1.weight", "layer4.1.conv2.weight"),
                _ => ("conv_stem.weight", "conv_head.weight"),
            };
            let frozen_bn = match kind {
                BackboneKind::Resnet18 => "layer1.0.bn1.running_mean",
                _ => "blocks.0.bn1.running_mean",
            };
            assert_eq!(before[stem], after[stem], "{kind}: frozen stem changed");
            assert_eq!(
                before[frozen_bn], after[frozen_bn],
                "{kind}: frozen BN stats changed"
            );
            let moved = before[last]
                .data
                .iter()
                .zip(&after[last].data)
                .any(|(a, b)| (a - b).abs() > 1e-7);
            assert!(moved, "{kind}: trainable stage did not move");
        }
    }

    /// The stage groups partition the trainable parameters: every parameter of the backbone
    /// is in exactly one stage, and the stem's group holds the first convolution.
    #[test]
    fn stage_param_ids_partition_every_backbone() {
        let device = Device::flex().autodiff();
        for kind in BackboneKind::ALL {
            let backbone = Backbone::new(kind, 3, &device);
            let groups = backbone.stage_param_ids();
            assert_eq!(groups.len(), backbone.num_stages(), "{kind}");
            assert!(groups.iter().all(|g| !g.is_empty()), "{kind}: empty stage");
            let mut all = TrainableParamIds::default();
            backbone.visit(&mut all);
            let mut grouped: Vec<ParamId> = groups.concat();
            assert_eq!(grouped.len(), all.ids.len(), "{kind}: overlap or gap");
            grouped.sort_by_key(|id| id.val());
            grouped.dedup();
            assert_eq!(
                grouped.len(),
                all.ids.len(),
                "{kind}: a parameter in two stages"
            );
            assert!(
                groups[0].contains(&backbone.first_conv().weight.id),
                "{kind}"
            );
        }
    }

    #[test]
    fn unfreeze_makes_every_stage_trainable_again() {
        let device = Device::flex().autodiff();
        let backbone = Backbone::new(BackboneKind::Resnet18, 3, &device)
            .freeze()
            .unfreeze();
        let loss = backbone.forward_features(images(2, 3, 32, &device)).mean();
        let grads = loss.backward();
        let Backbone::Resnet18(net) = &backbone else {
            unreachable!()
        };
        assert!(net.conv1.weight.val().grad(&grads).is_some());
    }
}
