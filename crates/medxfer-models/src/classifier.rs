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

    /// Replace the head with a freshly initialised one of the same kind.
    pub fn reset_head(self, num_classes: usize, device: &Device) -> Self {
        let head = self.head.reset(num_classes, device);
        Self {
            backbone: self.backbone,
            head,
        }
    }
}
