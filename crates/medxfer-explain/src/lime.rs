//! LIME (Ribeiro et al. 2016) for images: switch SLIC superpixels off at random, fit a
//! weighted ridge regression of the class probability on which were on, and paint each
//! superpixel with its coefficient.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use medxfer_models::Classifier;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::slic::slic;

/// LIME's kernel width on the cosine distance to the unperturbed image. lime_image uses 0.25
/// on 100 x that distance, which leaves every sample but the original a weight near zero;
/// on the distance itself, a sample with half its superpixels on still weighs about 0.5.
const KERNEL_WIDTH: f64 = 0.25;
/// Ridge penalty: scikit-learn's default, which LIME's surrogate uses.
const RIDGE_ALPHA: f64 = 1.0;
/// SLIC compactness on a 0..100 intensity scale (scikit-image's default).
const COMPACTNESS: f32 = 10.0;

/// The superpixel weights painted on the input (S x S, signed: positive supports the class).
/// The first sample is the unperturbed image; the others switch each superpixel off (to 0,
/// the training mean) with probability 1/2, from `seed`.
pub fn lime(
    model: &Classifier,
    x: Tensor<4>,
    class: usize,
    samples: usize,
    segments: usize,
    seed: u64,
) -> Vec<f32> {
    let [_, channels, h, w] = x.dims();
    let input: Vec<f32> = x.clone().into_data().iter::<f32>().collect();
    let labels = slic(&input[..h * w], w, h, segments, COMPACTNESS);
    let k = labels.iter().max().map_or(1, |m| m + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let on: Vec<Vec<bool>> = (0..samples.max(2))
        .map(|s| (0..k).map(|_| s == 0 || rng.random_bool(0.5)).collect())
        .collect();
    let mut probabilities = Vec::with_capacity(on.len());
    for chunk in on.chunks(16) {
        let mut values = Vec::with_capacity(chunk.len() * input.len());
        for z in chunk {
            values.extend(
                input
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| if z[labels[i % (h * w)]] { v } else { 0.0 }),
            );
        }
        let batch = Tensor::from_data(
            TensorData::new(values, [chunk.len(), channels, h, w]),
            &x.device(),
        );
        let p = softmax(model.forward(batch), 1).into_data();
        let p: Vec<f32> = p.iter::<f32>().collect();
        let classes = p.len() / chunk.len();
        probabilities.extend((0..chunk.len()).map(|n| f64::from(p[n * classes + class])));
    }
    let weights: Vec<f64> = on.iter().map(|z| kernel_weight(z)).collect();
    let coefficients = weighted_ridge(&on, &probabilities, &weights, RIDGE_ALPHA);
    labels.iter().map(|&l| coefficients[l] as f32).collect()
}

/// LIME's exponential kernel on the cosine distance between `z` and all-ones.
fn kernel_weight(z: &[bool]) -> f64 {
    let on = z.iter().filter(|&&b| b).count() as f64;
    let distance = 1.0 - (on / z.len() as f64).sqrt();
    (-(distance * distance) / (KERNEL_WIDTH * KERNEL_WIDTH))
        .exp()
        .sqrt()
}

/// Coefficients of a weighted ridge regression of `y` on binary features with an
/// unpenalised intercept (features and target centred on their weighted means).
pub fn weighted_ridge(x: &[Vec<bool>], y: &[f64], w: &[f64], alpha: f64) -> Vec<f64> {
    let k = x.first().map_or(0, Vec::len);
    let total: f64 = w.iter().sum::<f64>().max(1e-12);
    let feature = |row: &Vec<bool>, j: usize| f64::from(u8::from(row[j]));
    let mean_x: Vec<f64> = (0..k)
        .map(|j| x.iter().zip(w).map(|(r, w)| w * feature(r, j)).sum::<f64>() / total)
        .collect();
    let mean_y = y.iter().zip(w).map(|(y, w)| w * y).sum::<f64>() / total;
    let mut a = vec![0f64; k * k];
    let mut b = vec![0f64; k];
    for ((row, &yi), &wi) in x.iter().zip(y).zip(w) {
        let centred: Vec<f64> = (0..k).map(|j| feature(row, j) - mean_x[j]).collect();
        for i in 0..k {
            b[i] += wi * centred[i] * (yi - mean_y);
            for j in 0..k {
                a[i * k + j] += wi * centred[i] * centred[j];
            }
        }
    }
    (0..k).for_each(|i| a[i * k + i] += alpha);
    cholesky_solve(a, b, k)
}

/// Solve A x = b for a symmetric positive-definite A (the ridge term guarantees it).
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, k: usize) -> Vec<f64> {
    for j in 0..k {
        let d = (a[j * k + j] - (0..j).map(|p| a[j * k + p].powi(2)).sum::<f64>()).sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let s: f64 = (0..j).map(|p| a[i * k + p] * a[j * k + p]).sum();
            a[i * k + j] = (a[i * k + j] - s) / d;
        }
    }
    for i in 0..k {
        b[i] = (b[i] - (0..i).map(|p| a[i * k + p] * b[p]).sum::<f64>()) / a[i * k + i];
    }
    for i in (0..k).rev() {
        b[i] = (b[i] - (i + 1..k).map(|p| a[p * k + i] * b[p]).sum::<f64>()) / a[i * k + i];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a tiny penalty and equal weights, ridge recovers an exact linear rule
    /// y = 0.2 + 0.5 x0 - 0.3 x2 on all 8 binary patterns (tolerance 1e-3 for alpha 1e-6).
    #[test]
    fn ridge_recovers_a_linear_rule() {
        let x: Vec<Vec<bool>> = (0..8u8)
            .map(|n| (0..3).map(|j| n >> j & 1 == 1).collect())
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| 0.2 + 0.5 * f64::from(u8::from(r[0])) - 0.3 * f64::from(u8::from(r[2])))
            .collect();
        let beta = weighted_ridge(&x, &y, &[1.0; 8], 1e-6);
        for (b, e) in beta.iter().zip([0.5, 0.0, -0.3]) {
            assert!((b - e).abs() < 1e-3, "{beta:?}");
        }
    }

    #[test]
    fn the_unperturbed_image_weighs_most() {
        assert!((kernel_weight(&[true; 4]) - 1.0).abs() < 1e-12);
        assert!(kernel_weight(&[true, true, false, false]) < 1.0);
        assert!(
            kernel_weight(&[true, false, false, false])
                < kernel_weight(&[true, true, false, false])
        );
    }
}
