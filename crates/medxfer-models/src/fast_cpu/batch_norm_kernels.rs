//! Training-mode batch norm, forward and backward, on contiguous `[batch, channels, spatial]`
//! `f32` buffers. Per-channel sums run in parallel over channels and accumulate in f64; the
//! element-wise passes run in parallel over (image, channel) planes.
//!
//! burn's generic version transposes the activation to channel-major several times per call;
//! these loops read it in place.

use rayon::prelude::*;

use super::lanes;

/// `[batch, channels, spatial]` sizes of one activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelLayout {
    pub batch: usize,
    pub channels: usize,
    pub spatial: usize,
}

impl ChannelLayout {
    fn count(&self) -> f64 {
        (self.batch * self.spatial) as f64
    }

    /// The `spatial`-long runs of channel `c`, one per image.
    fn planes<'a>(&self, data: &'a [f32], channel: usize) -> impl Iterator<Item = &'a [f32]> {
        let (channels, spatial) = (self.channels, self.spatial);
        (0..self.batch).map(move |b| {
            let start = (b * channels + channel) * spatial;
            &data[start..start + spatial]
        })
    }
}

/// Batch-norm output with the batch statistics: `(output, mean, biased variance)`.
pub(crate) fn batch_norm_forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
    layout: &ChannelLayout,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let stats: Vec<(f64, f64)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            // Two passes (mean, then squared deviations) for a variance free of cancellation.
            let total: f64 = layout.planes(x, c).map(|p| lanes::sum(p) as f64).sum();
            let mean = total / layout.count();
            let squares: f64 = layout
                .planes(x, c)
                .map(|p| lanes::squared_deviation(p, mean as f32) as f64)
                .sum();
            (mean, squares / layout.count())
        })
        .collect();
    // y = x * scale + shift per channel.
    let affine: Vec<(f32, f32)> = stats
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&(mean, var), (&g, &b))| {
            let scale = g as f64 / (var + epsilon).sqrt();
            (scale as f32, (b as f64 - mean * scale) as f32)
        })
        .collect();
    let output = channel_affine(x, &affine, layout, Activation::Identity);
    let mean = stats.iter().map(|s| s.0 as f32).collect();
    let variance = stats.iter().map(|s| s.1 as f32).collect();
    (output, mean, variance)
}

/// The activation applied after a per-channel affine map (batch norm at inference) in the
/// same pass over the activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    /// `max(y, 0)` (NaN stays NaN, as burn's `relu`).
    Relu,
    /// `min(max(y, 0), 6)`.
    Relu6,
}

/// `y = activation(x * scale + shift)` with each channel's `(scale, shift)`, one pass over
/// the activation, in parallel over (image, channel) planes: batch norm with known statistics
/// (inference), optionally fused with the activation after it.
pub(crate) fn channel_affine(
    x: &[f32],
    affine: &[(f32, f32)],
    layout: &ChannelLayout,
    activation: Activation,
) -> Vec<f32> {
    let mut output = vec![0.0f32; x.len()];
    output
        .par_chunks_mut(layout.spatial.max(1))
        .zip(x.par_chunks(layout.spatial.max(1)))
        .enumerate()
        .for_each(|(plane, (out, x))| {
            let (scale, shift) = affine[plane % layout.channels];
            for (o, &v) in out.iter_mut().zip(x) {
                *o = activation.apply(v * scale + shift);
            }
        });
    output
}

/// [`channel_affine`] over `data` itself, when the caller owns the buffer: no new allocation
/// (a fresh one costs page faults and zeroing at these sizes).
pub(crate) fn channel_affine_in_place(
    data: &mut [f32],
    affine: &[(f32, f32)],
    layout: &ChannelLayout,
    activation: Activation,
) {
    data.par_chunks_mut(layout.spatial.max(1))
        .enumerate()
        .for_each(|(plane, values)| {
            let (scale, shift) = affine[plane % layout.channels];
            for v in values.iter_mut() {
                *v = activation.apply(*v * scale + shift);
            }
        });
}

impl Activation {
    #[inline(always)]
    pub(crate) fn apply(self, y: f32) -> f32 {
        match self {
            Activation::Identity => y,
            Activation::Relu => {
                if y <= 0.0 {
                    0.0
                } else {
                    y
                }
            }
            Activation::Relu6 => y.clamp(0.0, 6.0),
        }
    }
}

/// Gradients `(x, gamma, beta)` of [`batch_norm_forward`]'s output.
pub(crate) fn batch_norm_backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    output_grad: &[f32],
    layout: &ChannelLayout,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    // Per channel: sum(g) and sum(g * (x - mean)).
    let sums: Vec<(f64, f64)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            // sum(g * (x - mean)) = sum(g * x) - mean * sum(g), per plane in f32 lanes, then f64.
            let (sum_g, sum_gx) = layout
                .planes(output_grad, c)
                .zip(layout.planes(x, c))
                .fold((0.0f64, 0.0f64), |(sg, sgx), (g, x)| {
                    (sg + lanes::sum(g) as f64, sgx + lanes::dot(g, x) as f64)
                });
            (sum_g, sum_gx - mean[c] as f64 * sum_g)
        })
        .collect();
    let inv_std: Vec<f64> = variance
        .iter()
        .map(|&v| 1.0 / (v as f64 + epsilon).sqrt())
        .collect();
    let beta_grad: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    let gamma_grad: Vec<f32> = sums
        .iter()
        .zip(&inv_std)
        .map(|(s, inv)| (s.1 * inv) as f32)
        .collect();
    // dx = gamma * inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), x_hat = (x - mean) * inv_std,
    // written as dx = a * g + b * (x - mean) + c per channel.
    let coefficients: Vec<(f32, f32, f32, f32)> = (0..layout.channels)
        .map(|c| {
            let n = layout.count();
            let a = gamma[c] as f64 * inv_std[c];
            let mean_g = sums[c].0 / n;
            let mean_gx = sums[c].1 / n; // mean(g * (x - mean))
            let b = -a * mean_gx * inv_std[c] * inv_std[c];
            (a as f32, b as f32, (-a * mean_g) as f32, mean[c])
        })
        .collect();
    let mut x_grad = vec![0.0f32; x.len()];
    x_grad
        .par_chunks_mut(layout.spatial)
        .zip(
            x.par_chunks(layout.spatial)
                .zip(output_grad.par_chunks(layout.spatial)),
        )
        .enumerate()
        .for_each(|(plane, (dx, (x, g)))| {
            let (a, b, c, m) = coefficients[plane % layout.channels];
            for ((dx, &x), &g) in dx.iter_mut().zip(x).zip(g) {
                *dx = a * g + b * (x - m) + c;
            }
        });
    (x_grad, gamma_grad, beta_grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) % 2001) as f32 / 500.0 - 2.0
            })
            .collect()
    }

    /// Loss = sum(output * probe) in f64, from the definition of batch norm.
    fn loss(
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        probe: &[f32],
        eps: f64,
        layout: &ChannelLayout,
    ) -> f64 {
        let mut total = 0.0;
        for c in 0..layout.channels {
            let values: Vec<f64> = layout.planes(x, c).flatten().map(|&v| v as f64).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
            let probes: Vec<f64> = layout
                .planes(probe, c)
                .flatten()
                .map(|&v| v as f64)
                .collect();
            for (v, p) in values.iter().zip(probes) {
                total += ((v - mean) / (var + eps).sqrt() * gamma[c] as f64 + beta[c] as f64) * p;
            }
        }
        total
    }

    #[test]
    fn forward_normalises_and_backward_matches_finite_differences() {
        let layout = ChannelLayout {
            batch: 3,
            channels: 4,
            spatial: 5,
        };
        let n = layout.batch * layout.channels * layout.spatial;
        let eps = 1e-3;
        let x = pseudo_random(n, 1);
        let gamma = pseudo_random(layout.channels, 2);
        let beta = pseudo_random(layout.channels, 3);
        let probe = pseudo_random(n, 4);

        let (out, mean, var) = batch_norm_forward(&x, &gamma, &beta, eps, &layout);
        for c in 0..layout.channels {
            let values: Vec<f64> = layout.planes(&x, c).flatten().map(|&v| v as f64).collect();
            let m = values.iter().sum::<f64>() / values.len() as f64;
            assert!((mean[c] as f64 - m).abs() < 1e-6);
            let v = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64;
            assert!((var[c] as f64 - v).abs() < 1e-6);
        }
        let direct: f64 = out
            .iter()
            .zip(&probe)
            .map(|(o, p)| *o as f64 * *p as f64)
            .sum();
        assert!((direct - loss(&x, &gamma, &beta, &probe, eps, &layout)).abs() < 1e-4);

        let (dx, dgamma, dbeta) =
            batch_norm_backward(&x, &gamma, &mean, &var, eps, &probe, &layout);
        // Central differences in f64 (the loss is smooth); step 1e-3, tolerance 1e-3 relative.
        let h = 1e-3f32;
        let check = |analytic: f32, plus: f64, minus: f64, what: &str| {
            let numeric = (plus - minus) / (2.0 * h as f64);
            assert!(
                (analytic as f64 - numeric).abs() <= 1e-3 * (1.0 + numeric.abs()),
                "{what}: analytic {analytic}, numeric {numeric}"
            );
        };
        for i in 0..n {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            check(
                dx[i],
                loss(&xp, &gamma, &beta, &probe, eps, &layout),
                loss(&xm, &gamma, &beta, &probe, eps, &layout),
                "dx",
            );
        }
        for c in 0..layout.channels {
            let (mut gp, mut gm) = (gamma.clone(), gamma.clone());
            gp[c] += h;
            gm[c] -= h;
            check(
                dgamma[c],
                loss(&x, &gp, &beta, &probe, eps, &layout),
                loss(&x, &gm, &beta, &probe, eps, &layout),
                "dgamma",
            );
            let (mut bp, mut bm) = (beta.clone(), beta.clone());
            bp[c] += h;
            bm[c] -= h;
            check(
                dbeta[c],
                loss(&x, &gamma, &bp, &probe, eps, &layout),
                loss(&x, &gamma, &bm, &probe, eps, &layout),
                "dbeta",
            );
        }
    }
}
