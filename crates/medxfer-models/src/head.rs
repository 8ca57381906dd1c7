//! Classification heads put on top of a backbone's pooled features.

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

pub use crate::head_conv1d::Conv1dHead;

fn default_hidden() -> usize {
    256
}

fn default_dropout() -> f64 {
    0.3
}

fn default_conv1d_channels() -> usize {
    16
}

fn default_conv1d_blocks() -> usize {
    2
}

/// `{ kind = "linear" }`, `{ kind = "mlp", hidden = 256, dropout = 0.3 }` or
/// `{ kind = "conv1d", channels = 16, blocks = 2, dropout = 0.3 }` (see [`Conv1dHead`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HeadConfig {
    Linear,
    Mlp {
        #[serde(default = "default_hidden")]
        hidden: usize,
        #[serde(default = "default_dropout")]
        dropout: f64,
    },
    /// 1-D convolutions with residual skip connections over the pooled features (paper 000).
    Conv1d {
        #[serde(default = "default_conv1d_channels")]
        channels: usize,
        #[serde(default = "default_conv1d_blocks")]
        blocks: usize,
        #[serde(default = "default_dropout")]
        dropout: f64,
    },
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig::Linear
    }
}

/// Linear -> ReLU -> dropout -> linear.
#[derive(Module, Debug)]
pub struct MlpHead {
    pub hidden: Linear,
    pub dropout: Dropout,
    pub output: Linear,
}

#[derive(Module, Debug)]
pub enum Head {
    Linear(Linear),
    Mlp(MlpHead),
    Conv1d(Conv1dHead),
}

impl Head {
    pub fn new(
        config: &HeadConfig,
        in_features: usize,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        match config {
            HeadConfig::Linear => {
                Head::Linear(LinearConfig::new(in_features, num_classes).init(device))
            }
            HeadConfig::Mlp { hidden, dropout } => Head::Mlp(MlpHead {
                hidden: LinearConfig::new(in_features, *hidden).init(device),
                dropout: DropoutConfig::new(*dropout).init(),
                output: LinearConfig::new(*hidden, num_classes).init(device),
            }),
            HeadConfig::Conv1d {
                channels,
                blocks,
                dropout,
            } => Head::Conv1d(Conv1dHead::new(
                in_features,
                *channels,
                *blocks,
                *dropout,
                num_classes,
                device,
            )),
        }
    }

    /// Features (B x in_features) -> logits (B x num_classes).
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        match self {
            Head::Linear(linear) => linear.forward(features),
            Head::Mlp(mlp) => {
                let hidden = relu(mlp.hidden.forward(features));
                mlp.output.forward(mlp.dropout.forward(hidden))
            }
            Head::Conv1d(head) => head.forward(features),
        }
    }

    /// The configuration this head was built from.
    pub fn config(&self) -> HeadConfig {
        match self {
            Head::Linear(_) => HeadConfig::Linear,
            Head::Mlp(mlp) => HeadConfig::Mlp {
                hidden: mlp.hidden.weight.lazy_shape().as_slice()[1],
                dropout: mlp.dropout.prob,
            },
            Head::Conv1d(head) => HeadConfig::Conv1d {
                channels: head.channels(),
                blocks: head.blocks.len(),
                dropout: head.dropout.prob,
            },
        }
    }

    pub fn in_features(&self) -> usize {
        match self {
            Head::Linear(linear) => linear.weight.lazy_shape().as_slice()[0],
            Head::Mlp(mlp) => mlp.hidden.weight.lazy_shape().as_slice()[0],
            Head::Conv1d(head) => head.in_features(),
        }
    }

    pub fn num_classes(&self) -> usize {
        match self {
            Head::Linear(linear) => linear.weight.lazy_shape().as_slice()[1],
            Head::Mlp(mlp) => mlp.output.weight.lazy_shape().as_slice()[1],
            Head::Conv1d(head) => head.num_classes(),
        }
    }

    /// A freshly initialised head of the same kind and width for `num_classes` classes.
    pub fn reset(&self, num_classes: usize, device: &Device) -> Self {
        Head::new(&self.config(), self.in_features(), num_classes, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_from_toml_like_json_with_defaults() {
        let linear: HeadConfig = serde_json::from_str(r#"{"kind":"linear"}"#).unwrap();
        assert_eq!(linear, HeadConfig::Linear);
        let mlp: HeadConfig = serde_json::from_str(r#"{"kind":"mlp","hidden":64}"#).unwrap();
        assert_eq!(
            mlp,
            HeadConfig::Mlp {
                hidden: 64,
                dropout: 0.3
            }
        );
        let err = serde_json::from_str::<HeadConfig>(r#"{"kind":"mlp","hiden":64}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("hiden"), "{err}");
    }

    #[test]
    fn heads_map_features_to_logits_and_reset_to_new_classes() {
        let device = Device::flex();
        for config in [
            HeadConfig::Linear,
            HeadConfig::Mlp {
                hidden: 8,
                dropout: 0.5,
            },
            HeadConfig::Conv1d {
                channels: 4,
                blocks: 2,
                dropout: 0.1,
            },
        ] {
            let head = Head::new(&config, 16, 3, &device);
            let logits = head.forward(Tensor::ones([4, 16], &device));
            assert_eq!(logits.dims(), [4, 3]);
            assert_eq!(head.config(), config);

            let reset = head.reset(5, &device);
            assert_eq!(reset.config(), config);
            assert_eq!((reset.in_features(), reset.num_classes()), (16, 5));
            assert_eq!(reset.forward(Tensor::ones([2, 16], &device)).dims(), [2, 5]);
        }
    }

    #[test]
    fn reset_draws_new_weights() {
        let device = Device::flex();
        let head = Head::new(&HeadConfig::Linear, 16, 3, &device);
        let reset = head.reset(3, &device);
        let (Head::Linear(before), Head::Linear(after)) = (&head, &reset) else {
            panic!("linear config must give linear heads");
        };
        let diff = (before.weight.val() - after.weight.val())
            .abs()
            .sum()
            .into_scalar::<f32>();
        assert!(diff > 1e-3, "reset kept the old weights (|diff| = {diff})");
    }
}
