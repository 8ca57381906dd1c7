//! Input-gradient methods: vanilla saliency and integrated gradients.

use burn::prelude::*;
use medxfer_models::Classifier;

/// d logit_class / d input for each image of `x` (N x C x S x S), flattened like `x`. The
/// logits of the batch are summed: images do not interact in an inference-mode network, so
/// each image's gradient is its own.
pub fn input_gradients(model: &Classifier, x: Tensor<4>, class: usize) -> Vec<f32> {
    let x = x.autodiff().require_grad();
    let [n, ..] = x.dims();
    let logits = model.forward(x.clone());
    let grads = logits.slice([0..n, class..class + 1]).sum().backward();
    x.grad(&grads)
        .expect("the input is the autodiff leaf")
        .into_data()
        .iter::<f32>()
        .collect()
}

/// Simonyan et al.: the largest absolute gradient over channels, S x S.
pub fn saliency(model: &Classifier, x: Tensor<4>, class: usize) -> Vec<f32> {
    let [_, channels, h, w] = x.dims();
    let g = input_gradients(model, x, class);
    max_abs_over_channels(&g, channels, h * w)
}

fn max_abs_over_channels(values: &[f32], channels: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0..channels).fold(0f32, |m, c| m.max(values[c * n + i].abs())))
        .collect()
}

/// Integrated gradients from the zero input, midpoint rule with `steps` points, summed over
/// channels and shown by magnitude (captum's default visualisation): S x S.
pub fn integrated_gradients(
    model: &Classifier,
    x: Tensor<4>,
    class: usize,
    steps: usize,
) -> Vec<f32> {
    let [_, channels, h, w] = x.dims();
    let n = h * w;
    let input: Vec<f32> = x.clone().into_data().iter::<f32>().collect();
    let mut mean_gradient = vec![0f32; channels * n];
    let alphas: Vec<f32> = (0..steps)
        .map(|k| (k as f32 + 0.5) / steps as f32)
        .collect();
    // Batches of 8 scaled copies bound memory at 224 px while amortising the forward pass.
    for chunk in alphas.chunks(8) {
        let batch = Tensor::cat(chunk.iter().map(|&a| x.clone() * a).collect(), 0);
        let g = input_gradients(model, batch, class);
        for image in g.chunks_exact(channels * n) {
            for (m, v) in mean_gradient.iter_mut().zip(image) {
                *m += v / steps as f32;
            }
        }
    }
    (0..n)
        .map(|i| {
            (0..channels)
                .map(|c| input[c * n + i] * mean_gradient[c * n + i])
                .sum::<f32>()
                .abs()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;
    use medxfer_models::{BackboneKind, HeadConfig};

    use super::*;

    /// Completeness (Sundararajan et al.): the signed attributions sum to the logit's change
    /// from the baseline. Checked on the signed sum the map's magnitude is taken from.
    #[test]
    fn integrated_gradients_are_complete() {
        let device = Device::flex();
        let model =
            Classifier::new(BackboneKind::Resnet18, 1, &HeadConfig::Linear, 2, &device).valid();
        let x = Tensor::random([1, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let steps = 64;
        let input: Vec<f32> = x.clone().into_data().iter::<f32>().collect();
        let mut total = 0f32;
        let alphas: Vec<f32> = (0..steps)
            .map(|k| (k as f32 + 0.5) / steps as f32)
            .collect();
        for a in alphas {
            let g = input_gradients(&model, x.clone() * a, 0);
            total += g.iter().zip(&input).map(|(g, x)| g * x).sum::<f32>() / steps as f32;
        }
        let logit = |x: Tensor<4>| model.forward(x).into_data().iter::<f32>().next().unwrap();
        let change = logit(x.clone()) - logit(x.clone() * 0.0);
        // Batch-norm and ReLU make the path piecewise linear: 64 midpoints leave ~1% error.
        assert!(
            (total - change).abs() <= 0.05 * change.abs().max(0.1),
            "sum {total} vs change {change}"
        );
    }
}
