//! Penalised logistic regression (binary: one logit, as scikit-learn; more classes:
//! multinomial softmax with one weight row per class), fitted by FISTA, the accelerated
//! proximal gradient method (Beck & Teboulle 2009) with adaptive restart (O'Donoghue & Candes
//! 2015). The objective is scikit-learn's divided by `C * n`:
//! `mean(loss) + (1 - r) / (2 C n) |W|^2 + r / (C n) |W|_1`, intercepts unpenalised.

use crate::matrix::dot;
use crate::{BaselineError, LogisticParams, Matrix};

#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// `outputs x (features + 1)`, the last column the intercept.
    weights: Vec<f64>,
    outputs: usize,
    features: usize,
    n_classes: usize,
    /// Proximal-gradient steps taken.
    pub iterations: usize,
    /// Whether the optimality residual fell below `tol` within `max_iter` steps.
    pub converged: bool,
}

/// The data term of the objective, with what its gradient needs.
struct Problem<'a> {
    x: &'a Matrix,
    labels: &'a [usize],
    outputs: usize,
    l2: f64,
    l1: f64,
}

impl Problem<'_> {
    fn width(&self) -> usize {
        self.x.cols() + 1
    }

    /// Linear scores of row `i` into `z`.
    fn scores(&self, w: &[f64], i: usize, z: &mut [f64]) {
        let (row, d) = (self.x.row(i), self.x.cols());
        for (k, zk) in z.iter_mut().enumerate() {
            let wk = &w[k * (d + 1)..(k + 1) * (d + 1)];
            *zk = dot(&wk[..d], row) + wk[d];
        }
    }

    /// Residuals (probability minus indicator) turned in place from the scores.
    fn residuals(&self, z: &mut [f64], label: usize) {
        if self.outputs == 1 {
            z[0] = sigmoid(z[0]) - if label == 1 { 1.0 } else { 0.0 };
            return;
        }
        softmax_in_place(z);
        z[label] -= 1.0;
    }

    /// Gradient of the smooth part (mean loss + L2) at `w`.
    fn gradient(&self, w: &[f64], grad: &mut [f64]) {
        let (d, n) = (self.x.cols(), self.x.rows() as f64);
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut z = vec![0.0; self.outputs];
        for i in 0..self.x.rows() {
            self.scores(w, i, &mut z);
            self.residuals(&mut z, self.labels[i]);
            let row = self.x.row(i);
            for (k, r) in z.iter().enumerate() {
                let gk = &mut grad[k * (d + 1)..(k + 1) * (d + 1)];
                for (g, v) in gk[..d].iter_mut().zip(row) {
                    *g += r * v;
                }
                gk[d] += r;
            }
        }
        for (index, (g, wv)) in grad.iter_mut().zip(w).enumerate() {
            *g /= n;
            if index % (d + 1) != d {
                *g += self.l2 * wv;
            }
        }
    }

    /// Soft-thresholding of the weights (not the intercepts) by `step * l1`.
    fn prox(&self, w: &mut [f64], step: f64) {
        let (d, threshold) = (self.x.cols(), step * self.l1);
        if threshold == 0.0 {
            return;
        }
        for (index, v) in w.iter_mut().enumerate() {
            if index % (d + 1) != d {
                *v = v.signum() * (v.abs() - threshold).max(0.0);
            }
        }
    }

    /// An upper bound of the gradient's Lipschitz constant: the loss curvature bound (1/4 for
    /// the logit, 1/2 for softmax, Bohning 1992) times the largest eigenvalue of X'X / n (with
    /// the intercept column), by power iteration, plus the L2 weight.
    fn lipschitz(&self) -> f64 {
        let (d, n) = (self.x.cols(), self.x.rows().max(1) as f64);
        let mut v = vec![1.0 / ((d + 1) as f64).sqrt(); d + 1];
        let mut eigenvalue = 0.0;
        for _ in 0..100 {
            let mut next = vec![0.0; d + 1];
            for i in 0..self.x.rows() {
                let row = self.x.row(i);
                let xv = dot(row, &v[..d]) + v[d];
                for (t, r) in next[..d].iter_mut().zip(row) {
                    *t += xv * r;
                }
                next[d] += xv;
            }
            let norm = next.iter().map(|t| t * t).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            eigenvalue = norm / n;
            v = next.into_iter().map(|t| t / norm).collect();
        }
        let curvature = if self.outputs == 1 { 0.25 } else { 0.5 };
        // Power iteration approaches the top eigenvalue from below: 5% headroom.
        1.05 * curvature * eigenvalue + self.l2 + f64::EPSILON
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn softmax_in_place(z: &mut [f64]) {
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    z.iter_mut().for_each(|v| *v /= sum);
}

impl Logistic {
    /// Fit on `x` (rows) and `labels` (`0..n_classes`, at least 2 classes); `init` warm-starts
    /// from an earlier fit of the same shape (a neighbouring C of a grid).
    pub fn fit(
        params: &LogisticParams,
        x: &Matrix,
        labels: &[usize],
        n_classes: usize,
        init: Option<&Logistic>,
    ) -> Result<Self, BaselineError> {
        params.check()?;
        if n_classes < 2 || labels.len() != x.rows() || x.rows() == 0 {
            return Err(BaselineError::data(format!(
                "logistic regression needs rows with labels of at least 2 classes ({} rows, {} labels, {n_classes} classes)",
                x.rows(),
                labels.len()
            )));
        }
        let outputs = if n_classes == 2 { 1 } else { n_classes };
        let scale = params.c * x.rows() as f64;
        let problem = Problem {
            x,
            labels,
            outputs,
            l2: (1.0 - params.l1_ratio) / scale,
            l1: params.l1_ratio / scale,
        };
        let start = match init {
            Some(previous) if previous.weights.len() == outputs * problem.width() => {
                previous.weights.clone()
            }
            _ => vec![0.0; outputs * problem.width()],
        };
        let (weights, iterations, converged) = fista(&problem, start, params);
        Ok(Logistic {
            weights,
            outputs,
            features: x.cols(),
            n_classes,
            iterations,
            converged,
        })
    }

    /// Row-major `rows x n_classes` probabilities.
    pub fn predict_proba(&self, x: &Matrix) -> Vec<f64> {
        let d = self.features;
        let mut out = Vec::with_capacity(x.rows() * self.n_classes);
        let mut z = vec![0.0; self.outputs];
        for i in 0..x.rows() {
            for (k, zk) in z.iter_mut().enumerate() {
                let wk = &self.weights[k * (d + 1)..(k + 1) * (d + 1)];
                *zk = dot(&wk[..d], x.row(i)) + wk[d];
            }
            if self.outputs == 1 {
                let p = sigmoid(z[0]);
                out.extend([1.0 - p, p]);
            } else {
                softmax_in_place(&mut z);
                out.extend_from_slice(&z);
            }
        }
        out
    }

    /// Weights of output `k` (without the intercept): one row for two classes (class 1's
    /// logit), one per class otherwise.
    pub fn coefficients(&self, k: usize) -> &[f64] {
        let d = self.features;
        &self.weights[k * (d + 1)..k * (d + 1) + d]
    }

    pub fn intercept(&self, k: usize) -> f64 {
        let d = self.features;
        self.weights[k * (d + 1) + d]
    }
}

/// FISTA with gradient-based adaptive restart; stops when the gradient mapping
/// `L * |x_next - y|` (the optimality residual of a composite problem) is below `tol` in every
/// coordinate.
fn fista(problem: &Problem, start: Vec<f64>, params: &LogisticParams) -> (Vec<f64>, usize, bool) {
    let lipschitz = problem.lipschitz();
    let step = 1.0 / lipschitz;
    let mut x = start.clone();
    let mut y = start;
    let mut t = 1.0f64;
    let mut grad = vec![0.0; x.len()];
    for iteration in 1..=params.max_iter {
        problem.gradient(&y, &mut grad);
        let mut next: Vec<f64> = y.iter().zip(&grad).map(|(v, g)| v - step * g).collect();
        problem.prox(&mut next, step);
        let residual = next
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            * lipschitz;
        if residual <= params.tol {
            return (next, iteration, true);
        }
        // Restart when the momentum points uphill.
        let uphill: f64 = y
            .iter()
            .zip(&next)
            .zip(&x)
            .map(|((yv, nv), xv)| (yv - nv) * (nv - xv))
            .sum();
        if uphill > 0.0 {
            t = 1.0;
        }
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let momentum = (t - 1.0) / t_next;
        y = next
            .iter()
            .zip(&x)
            .map(|(nv, xv)| nv + momentum * (nv - xv))
            .collect();
        x = next;
        t = t_next;
    }
    (x, params.max_iter, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_blobs() -> (Matrix, Vec<usize>) {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..20 {
            let jitter = (i as f64 * 0.37).sin() * 0.3;
            let class = i % 2;
            let centre = if class == 1 { 1.0 } else { -1.0 };
            values.extend([centre + jitter, 0.5 * jitter]);
            labels.push(class);
        }
        (Matrix::new(20, 2, values).unwrap(), labels)
    }

    #[test]
    fn separable_classes_are_separated_and_the_optimum_has_zero_gradient() {
        let (x, y) = two_blobs();
        let params = LogisticParams {
            tol: 1e-10,
            max_iter: 100_000,
            ..LogisticParams::new(1.0, 0.0)
        };
        let model = Logistic::fit(&params, &x, &y, 2, None).unwrap();
        assert!(model.converged, "{} iterations", model.iterations);
        let p = model.predict_proba(&x);
        for (i, &label) in y.iter().enumerate() {
            assert!(
                p[2 * i + label] > 0.5,
                "row {i}: {:?}",
                &p[2 * i..2 * i + 2]
            );
        }
        // First-order optimality of the L2 problem, within 1e-8.
        let problem = Problem {
            x: &x,
            labels: &y,
            outputs: 1,
            l2: 1.0 / 20.0,
            l1: 0.0,
        };
        let mut grad = vec![0.0; 3];
        problem.gradient(&model.weights, &mut grad);
        assert!(grad.iter().all(|g| g.abs() < 1e-8), "{grad:?}");
    }

    #[test]
    fn a_strong_l1_penalty_zeroes_the_uninformative_feature_first() {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..40 {
            let class = i % 2;
            let informative = if class == 1 { 1.0 } else { -1.0 } + ((i * 7) % 5) as f64 * 0.1;
            let noise = ((i * 13) % 11) as f64 / 11.0 - 0.5;
            values.extend([informative, noise]);
            labels.push(class);
        }
        let x = Matrix::new(40, 2, values).unwrap();
        let params = LogisticParams::new(0.2, 1.0);
        let model = Logistic::fit(&params, &x, &labels, 2, None).unwrap();
        assert_eq!(model.coefficients(0)[1], 0.0);
        assert!(model.coefficients(0)[0] > 0.0);
    }

    #[test]
    fn three_classes_get_a_softmax_that_sums_to_one() {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..30 {
            let class = i % 3;
            values.extend([class as f64 * 2.0 + (i as f64 * 0.1).sin() * 0.2, 1.0]);
            labels.push(class);
        }
        let x = Matrix::new(30, 2, values).unwrap();
        let model = Logistic::fit(&LogisticParams::new(10.0, 0.0), &x, &labels, 3, None).unwrap();
        let p = model.predict_proba(&x);
        for (i, &label) in labels.iter().enumerate() {
            let row = &p[3 * i..3 * i + 3];
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(best, label, "row {i}: {row:?}");
        }
    }
}
