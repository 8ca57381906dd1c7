//! Backbone + head: the model that is trained and evaluated.

use burn::prelude::*;

use crate::{Backbone, BackboneKind, Head, HeadConfig};

#[derive(Module, Debug)]
pub struct Classifier {
    pub backbone: Backbone,
    pub head: Head,
}

impl Classifier {
    /// A randomly initialised classifier (load backbone weights with `load_init` first and use
    /// `from_parts` to keep them).
    pub fn new(
        kind: BackboneKind,
        in_channels: usize,
        head: &HeadConfig,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        let backbone = Backbone::new(kind, in_channels, device);
        Self::from_parts(backbone, head, num_classes, device)
    }

    /// Put a new head of `num_classes` outputs on an existing backbone.
    pub fn from_parts(
        backbone: Backbone,
        head: &HeadConfig,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        let head = Head::new(head, backbone.feature_dim(), num_classes, device);
        Self { backbone, head }
    }

    /// Images (B x C x H x W) -> logits (B x num_classes).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.backbone.forward_features(x))
    }

    /// Images -> (the output of stage `stage`, an index into `Backbone::stage_names`, and the
    /// logits): the feature map class-activation methods weigh, from one forward pass.
    pub fn forward_with_stage(&self, x: Tensor<4>, stage: usize) -> (Tensor<4>, Tensor<2>) {
        let activations = self.forward_to_stage(x, stage);
        let logits = self.forward_from_stage(stage, activations.clone());
        (activations, logits)
    }

    /// Images -> the output of stages `0..=stage`.
    pub fn forward_to_stage(&self, x: Tensor<4>, stage: usize) -> Tensor<4> {
        assert!(
            stage < self.backbone.num_stages(),
            "stage {stage} out of range"
        );
        (0..=stage).fold(x, |x, s| self.backbone.forward_stage(s, x))
    }

    /// The output of stage `stage` -> logits (the later stages, pooling and head). Separate
    /// from `forward_to_stage` so gradients can be taken with respect to the stage's output
    /// alone (it becomes the autodiff leaf).
    pub fn forward_from_stage(&self, stage: usize, activations: Tensor<4>) -> Tensor<2> {
        let stages = self.backbone.num_stages();
        assert!(stage < stages, "stage {stage} out of range");
        let last = (stage + 1..stages).fold(activations, |x, s| self.backbone.forward_stage(s, x));
        self.head.forward(crate::conv_bn::global_average_pool(last))
    }

    /// Replace the head with a freshly initialised one of the same kind.
    pub fn reset_head(self, num_classes: usize, device: &Device) -> Self {
        let head = self.head.reset(num_classes, device);
        Self {
            backbone: self.backbone,
            head,
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    /// Split at every stage of every backbone, the two halves give `forward`'s logits.
    #[test]
    fn forward_with_stage_gives_the_logits_of_forward() {
        let device = Device::flex();
        for kind in BackboneKind::ALL {
            let model = Classifier::new(kind, 1, &HeadConfig::default(), 3, &device).valid();
            let x = Tensor::random([1, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
            let logits = model.forward(x.clone());
            for stage in 0..model.backbone.num_stages() {
                let (maps, split) = model.forward_with_stage(x.clone(), stage);
                assert_eq!(maps.dims()[0], 1);
                let gap = (split - logits.clone()).abs().max().into_scalar::<f32>();
                assert!(gap < 1e-4, "{kind} stage {stage}: {gap}");
            }
        }
    }
}
