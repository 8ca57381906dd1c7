//! Classifiers on frozen embeddings, the standard read-outs of a self-supervised encoder:
//! k-nearest neighbours by cosine similarity, and a linear probe (multinomial logistic
//! regression on standardised features with class-balanced sample weights, L2-penalised with
//! scikit-learn's `C`, fixed or chosen by cross-validation on the training rows), both in
//! plain f64 on the cached embeddings.

use medxfer_eval::confusion::ConfusionMatrix;
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

/// How the linear probe is fitted; its L2 strength is [`ProbeRegularisation`]'s concern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeConfig {
    pub iterations: usize,
    pub learning_rate: f64,
    /// Weight samples by `n / (k * n_class)`.
    pub balanced: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            iterations: 600,
            learning_rate: 0.05,
            balanced: true,
        }
    }
}

/// How the linear probe's inverse L2 strength `C` is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeRegularisation {
    Fixed(f64),
    /// The `C` of `grid` with the best mean balanced accuracy over a stratified `folds`-fold
    /// split of the training rows (ties go to the smaller `C`, the stronger penalty); the
    /// test rows are never seen. SimCLR's linear evaluation picks its L2 penalty this way.
    CrossValidated {
        grid: Vec<f64>,
        folds: usize,
    },
}

impl ProbeRegularisation {
    /// Decades from 1e-3 to 10, three inner folds.
    pub fn cross_validated() -> Self {
        ProbeRegularisation::CrossValidated {
            grid: vec![1e-3, 1e-2, 1e-1, 1.0, 10.0],
            folds: 3,
        }
    }
}

/// Inner-fold index of every training row: within each class, rows in order cycle through
/// the folds, so every inner fold keeps the class proportions.
fn stratified_inner_folds(labels: &[usize], n_classes: usize, folds: usize) -> Vec<usize> {
    let mut seen = vec![0usize; n_classes];
    labels
        .iter()
        .map(|&l| {
            let fold = seen[l] % folds;
            seen[l] += 1;
            fold
        })
        .collect()
}

/// Mean inner-fold balanced accuracy for each `C` of `grid`, and the chosen `C`.
pub fn select_probe_c(
    x: &[f32],
    labels: &[usize],
    dim: usize,
    n_classes: usize,
    config: &ProbeConfig,
    grid: &[f64],
    folds: usize,
) -> (f64, Vec<f64>) {
    let folds = folds.max(2);
    let inner = stratified_inner_folds(labels, n_classes, folds);
    let rows = |keep: &dyn Fn(usize) -> bool| -> (Vec<f32>, Vec<usize>) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (i, row) in x.chunks_exact(dim).enumerate() {
            if keep(inner[i]) {
                xs.extend_from_slice(row);
                ys.push(labels[i]);
            }
        }
        (xs, ys)
    };
    let scores: Vec<f64> = grid
        .iter()
        .map(|&c| {
            let total: f64 = (0..folds)
                .map(|k| {
                    let (train_x, train_y) = rows(&|f| f != k);
                    let (val_x, val_y) = rows(&|f| f == k);
                    let predicted = LinearProbe::fit(&train_x, &train_y, dim, n_classes, c, config)
                        .predict(&val_x);
                    ConfusionMatrix::new(&val_y, &predicted, n_classes)
                        .map(|cm| cm.balanced_accuracy())
                        .unwrap_or(0.0)
                })
                .sum();
            total / folds as f64
        })
        .collect();
    let mut best = 0;
    for (i, score) in scores.iter().enumerate() {
        let better = *score > scores[best] || (*score == scores[best] && grid[i] < grid[best]);
        if better {
            best = i;
        }
    }
    (grid[best], scores)
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
    /// Minimise the (weighted) mean cross-entropy + `||W||^2 / (2 C n)` by full-batch Adam with
    /// a cosine-decayed rate; `c` is scikit-learn's inverse regularisation strength `C`.
    pub fn fit(
        x: &[f32],
        labels: &[usize],
        dim: usize,
        n_classes: usize,
        c: f64,
        config: &ProbeConfig,
    ) -> LinearProbe {
        let n = labels.len();
        let (mean, scale, z) = standardise(x, dim, n);
        let sample_weight = sample_weights(labels, n_classes, config.balanced);
        let total_weight: f64 = sample_weight.iter().sum();
        let lambda = 1.0 / (c * n as f64);

        let params = n_classes * dim + n_classes;
        let mut theta = vec![0.0f64; params];
        let (mut m, mut v) = (vec![0.0f64; params], vec![0.0f64; params]);
        let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        for step in 1..=config.iterations {
            let mut grad =
                loss_gradient(&theta, &z, labels, &sample_weight, total_weight, n_classes);
            for i in 0..n_classes * dim {
                grad[i] += lambda * theta[i];
            }
            let (bc1, bc2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
            // Adam's step does not shrink with the gradient, so with a constant rate it keeps
            // jittering around the optimum by about the rate; a strongly penalised optimum has
            // weights far smaller than that. The cosine decay to zero lets it settle.
            let progress = (step - 1) as f64 / config.iterations as f64;
            let rate = config.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            for i in 0..params {
                m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
                v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                theta[i] -= rate * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
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
/// Column means, inverse standard deviations (0 for a constant column) and the standardised
/// rows, in f64.
fn standardise(x: &[f32], dim: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
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
    (mean, scale, z)
}

/// Each row's weight: scikit-learn's `class_weight="balanced"` (n / (classes x count)), or 1.
fn sample_weights(labels: &[usize], n_classes: usize, balanced: bool) -> Vec<f64> {
    let n = labels.len();
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l] += 1;
    }
    labels
        .iter()
        .map(|&l| {
            if balanced {
                n as f64 / (n_classes as f64 * counts[l] as f64)
            } else {
                1.0
            }
        })
        .collect()
}

/// Gradient of the weighted mean cross-entropy over the standardised rows `z` (weights, then
/// biases), without the penalty.
fn loss_gradient(
    theta: &[f64],
    z: &[f64],
    labels: &[usize],
    sample_weight: &[f64],
    total_weight: f64,
    n_classes: usize,
) -> Vec<f64> {
    let params = theta.len();
    let dim = (params - n_classes) / n_classes;
    let grad_parts: Vec<Vec<f64>> = z
        .par_chunks_exact(dim)
        .zip(labels.par_iter().zip(sample_weight.par_iter()))
        .fold(
            || vec![0.0f64; params],
            |mut g, (row, (&label, &w))| {
                let probs = softmax_row(theta, row, dim, n_classes);
                for c in 0..n_classes {
                    let d = w * (probs[c] - if c == label { 1.0 } else { 0.0 }) / total_weight;
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
    grad
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
        let probe = LinearProbe::fit(&x, &y, 4, 3, 1.0, &ProbeConfig::default());
        assert_eq!(probe.predict(&x), y);
        assert_eq!(probe.predict(&[0.5, 0.0, 0.0, 1.2]), vec![2]);
    }

    #[test]
    fn inner_folds_keep_class_proportions() {
        let labels = [0, 0, 1, 0, 1, 1, 0, 0, 1];
        let folds = stratified_inner_folds(&labels, 2, 3);
        assert_eq!(folds, vec![0, 1, 0, 2, 1, 2, 0, 1, 0]);
    }

    /// One weakly informative feature among many noise features and few rows: the weak
    /// penalty (large C) fits the noise. The chosen C is the best-scoring one of the grid
    /// (ties to the smaller), and its probe does better on fresh rows than C = 10.
    #[test]
    fn cross_validated_c_prefers_the_penalty_that_generalises() {
        let dim = 40;
        // A deterministic pseudo-random stream (xorshift), so the test cannot flake.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let mut sample = |n: usize| {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for i in 0..n {
                let class = i % 2;
                x.push((if class == 1 { 0.5 } else { -0.5 } + next()) as f32);
                for _ in 1..dim {
                    x.push(next() as f32);
                }
                y.push(class);
            }
            (x, y)
        };
        let (train_x, train_y) = sample(60);
        let (test_x, test_y) = sample(2000);
        let config = ProbeConfig::default();
        let grid = [1e-3, 1e-2, 1e-1, 1.0, 10.0];
        let (chosen, scores) = select_probe_c(&train_x, &train_y, dim, 2, &config, &grid, 3);
        assert_eq!(scores.len(), grid.len());
        let best = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let first_best = grid[scores.iter().position(|&s| s == best).unwrap()];
        assert_eq!(chosen, first_best);
        let accuracy = |c: f64| {
            let probe = LinearProbe::fit(&train_x, &train_y, dim, 2, c, &config);
            let predicted = probe.predict(&test_x);
            ConfusionMatrix::new(&test_y, &predicted, 2)
                .unwrap()
                .balanced_accuracy()
        };
        assert!(chosen < 10.0, "{scores:?}");
        assert!(accuracy(chosen) > accuracy(10.0), "{scores:?}");
    }
}
