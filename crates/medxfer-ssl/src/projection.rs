//! The heads put on the encoder during pretraining and thrown away afterwards: a 2-layer MLP
//! with batch norm between the layers (paper 003 adds the batch norm "for extra stability";
//! SimCLR v2, MoCo v2 and BYOL's projector and predictor all have this shape).

use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use medxfer_models::{Backbone, BackboneKind, spec};

/// Linear -> batch norm -> ReLU -> linear.
#[derive(Module, Debug)]
pub struct MlpHead {
    pub hidden: Linear,
    pub norm: BatchNorm,
    pub output: Linear,
}

impl MlpHead {
    pub fn new(input: usize, hidden: usize, output: usize, device: &Device) -> Self {
        MlpHead {
            hidden: LinearConfig::new(input, hidden).init(device),
            norm: BatchNormConfig::new(hidden).init(device),
            output: LinearConfig::new(hidden, output).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(relu(self.norm.forward(self.hidden.forward(x))))
    }
}

/// An encoder with a projection head: SimCLR's network, MoCo's query and key networks, BYOL's
/// target network (and the trunk of its online network).
#[derive(Module, Debug)]
pub struct ProjectedEncoder {
    pub encoder: Backbone,
    pub projector: MlpHead,
}

impl ProjectedEncoder {
    pub fn new(
        kind: BackboneKind,
        in_channels: usize,
        hidden: usize,
        output: usize,
        device: &Device,
    ) -> Self {
        ProjectedEncoder {
            encoder: Backbone::new(kind, in_channels, device),
            projector: MlpHead::new(spec(kind).feature_dim, hidden, output, device),
        }
    }

    /// Images -> projections (B x output).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.projector.forward(self.encoder.forward_features(x))
    }
}

/// Rows scaled to unit length (a zero row stays zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}
