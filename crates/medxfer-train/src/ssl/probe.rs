//! Classifiers on frozen embeddings, the standard read-outs of a self-supervised encoder:
//! k-nearest neighbours by cosine similarity, and a linear probe (multinomial logistic
//! regression on standardised features, L2-penalised like scikit-learn's default C = 1,
//! class-balanced sample weights), both in plain f64 so they cost well under a second.

use rayon::prelude::*;

fn normalized_rows(x: &[f32], dim: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(dim) {
        let norm = row
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        out.extend(row.iter().map(|&v| v as f64 / norm));
    }
    out
}

/// The majority class among the `k` training rows most cosine-similar to each test row; ties
/// go to the class with the larger summed similarity.
pub fn knn_predict(
    train: &[f32],
    train_labels: &[usize],
    test: &[f32],
    dim: usize,
    k: usize,
    n_classes: usize,
) -> Vec<usize> {
    let train = normalized_rows(train, dim);
    let test = normalized_rows(test, dim);
    let k = k.clamp(1, train_labels.len().max(1));
    test.par_chunks_exact(dim)
        .map(|query| {
            let mut sims: Vec<(f64, usize)> = train
                .chunks_exact(dim)
                .zip(train_labels)
                .map(|(row, &label)| {
                    (
                        row.iter().zip(query).map(|(a, b)| a * b).sum::<f64>(),
                        label,
                    )
                })
                .collect();
            sims.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut votes = vec![(0usize, 0.0f64); n_classes];
            for &(sim, label) in &sims[..k] {
                votes[label].0 += 1;
                votes[label].1 += sim;
            }
            (0..n_classes)
                .max_by(|&a, &b| {
                    votes[a]
                        .0
                        .cmp(&votes[b].0)
                        .then(votes[a].1.total_cmp(&votes[b].1))
                })
                .unwrap_or(0)
        })
        .collect()
}

/// Settings of the linear probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeConfig {
    /// Inverse regularisation strength, as scikit-learn's `C`.
    pub c: f64,
    pub iterations: usize,
    pub learning_rate: f64,
    /// Weight samples by `n / (k * n_class)`.
    pub balanced: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            c: 1.0,
            iterations: 600,
            learning_rate: 0.05,
            balanced: true,
        }
    }
}

/// A fitted multinomial logistic regression.
pub struct LinearProbe {
    dim: usize,
    n_classes: usize,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// n_classes x dim, then the biases.
    weights: Vec<f64>,
    bias: Vec<f64>,
}

impl LinearProbe {
    /// Minimise the (weighted) mean cross-entropy + `||W||^2 / (2 C n)` by full-batch Adam.
    pub fn fit(
        x: &[f32],
        labels: &[usize],
        dim: usize,
        n_classes: usize,
        config: &ProbeConfig,
    ) -> LinearProbe {
        let n = labels.len();
        let mut mean = vec![0.0; dim];
        let mut var = vec![0.0; dim];
        for row in x.chunks_exact(dim) {
            for j in 0..dim {
                mean[j] += row[j] as f64 / n as f64;
            }
        }
        for row in x.chunks_exact(dim) {
            for j in 0..dim {
                var[j] += (row[j] as f64 - mean[j]).powi(2) / n as f64;
            }
        }
        let scale: Vec<f64> = var
            .iter()
            .map(|v| if *v > 1e-12 { 1.0 / v.sqrt() } else { 0.0 })
            .collect();
        let z: Vec<f64> = x
            .chunks_exact(dim)
            .flat_map(|row| {
                (0..dim)
                    .map(|j| (row[j] as f64 - mean[j]) * scale[j])
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut counts = vec![0usize; n_classes];
        for &l in labels {
            counts[l] += 1;
        }
        let sample_weight: Vec<f64> = labels
            .iter()
            .map(|&l| {
                if config.balanced {
                    n as f64 / (n_classes as f64 * counts[l] as f64)
                } else {
                    1.0
                }
            })
            .collect();
        let total_weight: f64 = sample_weight.iter().sum();
        let lambda = 1.0 / (config.c * n as f64);

        let params = n_classes * dim + n_classes;
        let mut theta = vec![0.0f64; params];
        let (mut m, mut v) = (vec![0.0f64; params], vec![0.0f64; params]);
        let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        for step in 1..=config.iterations {
            let grad_parts: Vec<Vec<f64>> = z
                .par_chunks_exact(dim)
                .zip(labels.par_iter().zip(sample_weight.par_iter()))
                .fold(
                    || vec![0.0f64; params],
                    |mut g, (row, (&label, &w))| {
                        let probs = softmax_row(&theta, row, dim, n_classes);
                        for c in 0..n_classes {
                            let d =
                                w * (probs[c] - if c == label { 1.0 } else { 0.0 }) / total_weight;
                            for j in 0..dim {
                                g[c * dim + j] += d * row[j];
                            }
                            g[n_classes * dim + c] += d;
                        }
                        g
                    },
                )
                .collect();
            let mut grad = vec![0.0f64; params];
            for part in grad_parts {
                for (g, p) in grad.iter_mut().zip(part) {
                    *g += p;
                }
            }
            for i in 0..n_classes * dim {
                grad[i] += lambda * theta[i];
            }
            let (bc1, bc2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
            for i in 0..params {
                m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
                v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                theta[i] -= config.learning_rate * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
            }
        }
        let bias = theta[n_classes * dim..].to_vec();
        theta.truncate(n_classes * dim);
        LinearProbe {
            dim,
            n_classes,
            mean,
            scale,
            weights: theta,
            bias,
        }
    }

    pub fn predict(&self, x: &[f32]) -> Vec<usize> {
        let mut theta = self.weights.clone();
        theta.extend_from_slice(&self.bias);
        x.chunks_exact(self.dim)
            .map(|row| {
                let z: Vec<f64> = (0..self.dim)
                    .map(|j| (row[j] as f64 - self.mean[j]) * self.scale[j])
                    .collect();
                let probs = softmax_row(&theta, &z, self.dim, self.n_classes);
                (0..self.n_classes)
                    .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
                    .unwrap_or(0)
            })
            .collect()
    }
}

fn softmax_row(theta: &[f64], row: &[f64], dim: usize, n_classes: usize) -> Vec<f64> {
    let logits: Vec<f64> = (0..n_classes)
        .map(|c| {
            theta[n_classes * dim + c]
                + theta[c * dim..(c + 1) * dim]
                    .iter()
                    .zip(row)
                    .map(|(w, x)| w * x)
                    .sum::<f64>()
        })
        .collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_votes_by_cosine_neighbours() {
        // Class 0 points along +x, class 1 along +y; magnitudes differ (cosine ignores them).
        let train = [1.0, 0.1, 5.0, -0.2, 3.0, 0.0, 0.1, 1.0, -0.1, 4.0, 0.0, 2.0];
        let labels = [0, 0, 0, 1, 1, 1];
        let test = [10.0, 1.0, 0.2, 0.9];
        assert_eq!(knn_predict(&train, &labels, &test, 2, 3, 2), vec![0, 1]);
        // k = all: a 3-3 tie is broken by summed similarity.
        assert_eq!(knn_predict(&train, &labels, &test, 2, 6, 2), vec![0, 1]);
    }

    #[test]
    fn linear_probe_separates_linearly_separable_classes() {
        // Three classes along three feature directions, with a shared nuisance feature.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..90 {
            let class = i % 3;
            let nuisance = (i as f32 * 0.37).sin();
            let mut row = [nuisance, 0.0, 0.0, 0.0];
            row[1 + class] = 1.0 + 0.1 * (i as f32 * 1.3).cos();
            x.extend_from_slice(&row);
            y.push(class);
        }
        let probe = LinearProbe::fit(&x, &y, 4, 3, &ProbeConfig::default());
        assert_eq!(probe.predict(&x), y);
        assert_eq!(probe.predict(&[0.5, 0.0, 0.0, 1.2]), vec![2]);
    }
}
