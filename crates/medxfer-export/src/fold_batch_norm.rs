//! Batch norm folded into the convolution before it: at inference, batch norm is the per-channel
//! affine map y = (x - mean) * gamma / sqrt(var + eps) + beta, so it can be absorbed into that
//! convolution's weights (scaled per output channel) and bias.

use burn::nn::BatchNorm;
use burn::nn::conv::{Conv1d, Conv2d};

/// A convolution's weights ([out, in / groups, kh, kw], row-major) and bias ([out]) with the
/// following batch norm folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedConv {
    pub weight_dims: [usize; 4],
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

pub(crate) fn values<const D: usize>(tensor: burn::Tensor<D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

/// `conv` then `bn` (on its running statistics) as one convolution. The arithmetic is done in
/// f64 so that folding adds no more than the final f32 rounding.
pub fn fold_batch_norm(conv: &Conv2d, bn: &BatchNorm) -> FoldedConv {
    let bias = conv.bias.as_ref().map(|b| values(b.val()));
    let (weight, bias) = fold_into(values(conv.weight.val()), bias, bn);
    FoldedConv {
        weight_dims: conv.weight.val().dims(),
        weight,
        bias,
    }
}

/// A 1-D convolution ([out, in, k]) then `bn`, as the 2-D convolution [out, in, k, 1] that
/// runs along the height of an [N, in, length, 1] input (ONNX export of the conv1d head).
pub fn fold_batch_norm_1d(conv: &Conv1d, bn: &BatchNorm) -> FoldedConv {
    let [out, input, kernel] = conv.weight.val().dims();
    let bias = conv.bias.as_ref().map(|b| values(b.val()));
    let (weight, bias) = fold_into(values(conv.weight.val()), bias, bn);
    FoldedConv {
        weight_dims: [out, input, kernel, 1],
        weight,
        bias,
    }
}

/// Row-major convolution weights (output channel first) and optional bias with `bn` folded in.
fn fold_into(
    weight: Vec<f32>,
    conv_bias: Option<Vec<f32>>,
    bn: &BatchNorm,
) -> (Vec<f32>, Vec<f32>) {
    let gamma = values(bn.gamma.val());
    let beta = values(bn.beta.val());
    let mean = values(bn.running_mean.value());
    let variance = values(bn.running_var.value());
    let out_channels = gamma.len();
    let conv_bias = conv_bias.unwrap_or_else(|| vec![0.0; out_channels]);
    let per_channel = weight.len() / out_channels.max(1);
    let scale: Vec<f64> = (0..out_channels)
        .map(|o| f64::from(gamma[o]) / (f64::from(variance[o]) + bn.epsilon).sqrt())
        .collect();
    let folded_weight = weight
        .iter()
        .enumerate()
        .map(|(i, &w)| (f64::from(w) * scale[i / per_channel]) as f32)
        .collect();
    let bias = (0..out_channels)
        .map(|o| {
            ((f64::from(conv_bias[o]) - f64::from(mean[o])) * scale[o] + f64::from(beta[o])) as f32
        })
        .collect();
    (folded_weight, bias)
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{BatchNormConfig, PaddingConfig2d};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    use super::*;

    fn random(shape: [usize; 1], low: f64, high: f64, device: &Device) -> Tensor<1> {
        Tensor::random(shape, Distribution::Uniform(low, high), device)
    }

    /// Conv + BN (with non-trivial running statistics, a depthwise and a dense case) and the
    /// folded convolution agree within 1e-4 on random input.
    #[test]
    fn the_folded_convolution_computes_conv_then_batch_norm() {
        let device = Device::flex();
        for (channels, groups) in [([3, 8], 1), ([6, 6], 6)] {
            let conv = Conv2dConfig::new(channels, [3, 3])
                .with_groups(groups)
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(&device);
            let out = channels[1];
            let mut bn = BatchNormConfig::new(out).with_epsilon(1e-3).init(&device);
            bn.gamma = Param::from_tensor(random([out], 0.5, 2.0, &device));
            bn.beta = Param::from_tensor(random([out], -1.0, 1.0, &device));
            bn.running_mean = burn::module::RunningState::new(random([out], -0.5, 0.5, &device));
            bn.running_var = burn::module::RunningState::new(random([out], 0.1, 3.0, &device));
            let bn = bn.valid();

            let x = Tensor::random(
                [2, channels[0], 9, 9],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let expected = bn.forward(conv.forward(x.clone()));

            let folded = fold_batch_norm(&conv, &bn);
            let mut fused = Conv2dConfig::new(channels, [3, 3])
                .with_groups(groups)
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(&device);
            fused.weight = Param::from_tensor(
                Tensor::<1>::from_floats(folded.weight.as_slice(), &device)
                    .reshape(folded.weight_dims),
            );
            fused.bias = Some(Param::from_tensor(Tensor::from_floats(
                folded.bias.as_slice(),
                &device,
            )));
            let gap = (fused.forward(x) - expected)
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(gap < 1e-4, "groups {groups}: folded conv differs by {gap}");
        }
    }
}
