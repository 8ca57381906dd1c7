//! C-support vector classification solved as libsvm does (Chang & Lin 2011; Fan, Chen & Lin
//! 2005): SMO on the dual with second-order working-set selection (WSS3), the bias from the
//! free support vectors, no shrinking. Decision values are those of scikit-learn's
//! `SVC.decision_function` for two classes (positive means class 1). More classes are one
//! binary machine per class against the rest.

use crate::matrix::{dot, squared_distance};
use crate::{BaselineError, Kernel, Matrix, SvmParams};

/// libsvm's TAU: the curvature used when a pair's is not positive.
const TAU: f64 = 1e-12;

/// A trained binary machine: its support vectors with `alpha_i * y_i`, and `rho` (the
/// decision is `sum coef_i K(sv_i, x) - rho`).
#[derive(Debug, Clone)]
pub struct BinarySvm {
    kernel: Kernel,
    support: Matrix,
    dual_coef: Vec<f64>,
    rho: f64,
    /// SMO steps taken, and whether the KKT violation fell below `tol` in time.
    pub iterations: usize,
    pub converged: bool,
}

pub(crate) fn kernel_value(kernel: Kernel, a: &[f64], b: &[f64]) -> f64 {
    match kernel {
        Kernel::Linear => dot(a, b),
        Kernel::Rbf { gamma } => (-gamma * squared_distance(a, b)).exp(),
    }
}

/// The full kernel matrix of the training rows (the data sets here have hundreds of rows, so it
/// fits in memory and SMO needs no cache).
fn gram(kernel: Kernel, x: &Matrix) -> Vec<f64> {
    let n = x.rows();
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let v = kernel_value(kernel, x.row(i), x.row(j));
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
    }
    k
}

/// SMO state: `alpha`, and the gradient `G = Q alpha - 1` of the dual with
/// `Q_ij = y_i y_j K_ij`.
struct Smo<'a> {
    k: &'a [f64],
    y: &'a [f64],
    n: usize,
    c: f64,
    alpha: Vec<f64>,
    grad: Vec<f64>,
}

impl Smo<'_> {
    fn q(&self, i: usize, j: usize) -> f64 {
        self.y[i] * self.y[j] * self.k[i * self.n + j]
    }

    fn at_upper(&self, t: usize) -> bool {
        self.alpha[t] >= self.c
    }

    fn at_lower(&self, t: usize) -> bool {
        self.alpha[t] <= 0.0
    }

    /// libsvm's WSS3: `i` maximal violating, `j` the best second-order partner; None when the
    /// violation is below `tol` (optimal).
    fn select(&self, tol: f64) -> Option<(usize, usize)> {
        let mut gmax = f64::NEG_INFINITY;
        let mut i = None;
        for t in 0..self.n {
            let candidate = if self.y[t] > 0.0 {
                (!self.at_upper(t)).then_some(-self.grad[t])
            } else {
                (!self.at_lower(t)).then_some(self.grad[t])
            };
            if let Some(v) = candidate.filter(|&v| v >= gmax) {
                gmax = v;
                i = Some(t);
            }
        }
        let i = i?;
        let mut gmax2 = f64::NEG_INFINITY;
        let (mut best_j, mut best_obj) = (None, f64::INFINITY);
        for t in 0..self.n {
            let value = if self.y[t] > 0.0 {
                (!self.at_lower(t)).then_some(self.grad[t])
            } else {
                (!self.at_upper(t)).then_some(-self.grad[t])
            };
            let Some(value) = value else { continue };
            gmax2 = gmax2.max(value);
            let grad_diff = gmax + value;
            if grad_diff > 0.0 {
                let curvature =
                    self.k[i * self.n + i] + self.k[t * self.n + t] - 2.0 * self.k[i * self.n + t];
                let objective = -(grad_diff * grad_diff) / curvature.max(TAU);
                if objective <= best_obj {
                    best_obj = objective;
                    best_j = Some(t);
                }
            }
        }
        if gmax + gmax2 < tol {
            return None;
        }
        best_j.map(|j| (i, j))
    }

    /// Optimise the pair analytically, clipped to the box, and update the gradient.
    fn update(&mut self, i: usize, j: usize) {
        let (c, old_i, old_j) = (self.c, self.alpha[i], self.alpha[j]);
        let (qii, qjj, qij) = (self.q(i, i), self.q(j, j), self.q(i, j));
        let (mut ai, mut aj) = (old_i, old_j);
        if self.y[i] != self.y[j] {
            let delta = (-self.grad[i] - self.grad[j]) / (qii + qjj + 2.0 * qij).max(TAU);
            let diff = ai - aj;
            ai += delta;
            aj += delta;
            if diff > 0.0 && aj < 0.0 {
                (aj, ai) = (0.0, diff);
            } else if diff <= 0.0 && ai < 0.0 {
                (ai, aj) = (0.0, -diff);
            }
            if diff > 0.0 && ai > c {
                (ai, aj) = (c, c - diff);
            } else if diff <= 0.0 && aj > c {
                (aj, ai) = (c, c + diff);
            }
        } else {
            let delta = (self.grad[i] - self.grad[j]) / (qii + qjj - 2.0 * qij).max(TAU);
            let sum = ai + aj;
            ai -= delta;
            aj += delta;
            if sum > c && ai > c {
                (ai, aj) = (c, sum - c);
            } else if sum <= c && aj < 0.0 {
                (aj, ai) = (0.0, sum);
            }
            if sum > c && aj > c {
                (aj, ai) = (c, sum - c);
            } else if sum <= c && ai < 0.0 {
                (ai, aj) = (0.0, sum);
            }
        }
        self.alpha[i] = ai;
        self.alpha[j] = aj;
        let (di, dj) = (ai - old_i, aj - old_j);
        for t in 0..self.n {
            self.grad[t] += self.q(i, t) * di + self.q(j, t) * dj;
        }
    }

    /// libsvm's rho: the mean of `y_i G_i` over free vectors, else the middle of its bounds.
    fn rho(&self) -> f64 {
        let (mut upper, mut lower) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut free, mut sum_free) = (0usize, 0.0);
        for t in 0..self.n {
            let yg = self.y[t] * self.grad[t];
            let positive = self.y[t] > 0.0;
            if self.at_upper(t) {
                if positive {
                    lower = lower.max(yg);
                } else {
                    upper = upper.min(yg);
                }
            } else if self.at_lower(t) {
                if positive {
                    upper = upper.min(yg);
                } else {
                    lower = lower.max(yg);
                }
            } else {
                free += 1;
                sum_free += yg;
            }
        }
        if free > 0 {
            sum_free / free as f64
        } else {
            (upper + lower) / 2.0
        }
    }
}

impl BinarySvm {
    /// Train on rows `x` with `positive[i]` saying whether row i is of the positive class.
    pub fn fit(params: &SvmParams, x: &Matrix, positive: &[bool]) -> Result<Self, BaselineError> {
        params.check()?;
        if positive.len() != x.rows() || positive.iter().all(|&p| p) || positive.iter().all(|&p| !p)
        {
            return Err(BaselineError::data(format!(
                "an SVM needs rows of both classes ({} rows, {} positive)",
                x.rows(),
                positive.iter().filter(|&&p| p).count()
            )));
        }
        let k = gram(params.kernel, x);
        let y: Vec<f64> = positive
            .iter()
            .map(|&p| if p { 1.0 } else { -1.0 })
            .collect();
        let n = x.rows();
        let mut smo = Smo {
            k: &k,
            y: &y,
            n,
            c: params.c,
            alpha: vec![0.0; n],
            grad: vec![-1.0; n],
        };
        let mut iterations = 0;
        let mut converged = false;
        while iterations < params.max_iter {
            let Some((i, j)) = smo.select(params.tol) else {
                converged = true;
                break;
            };
            smo.update(i, j);
            iterations += 1;
        }
        let rho = smo.rho();
        let support: Vec<usize> = (0..n).filter(|&t| smo.alpha[t] > 0.0).collect();
        Ok(BinarySvm {
            kernel: params.kernel,
            dual_coef: support.iter().map(|&t| smo.alpha[t] * y[t]).collect(),
            support: x.select(&support),
            rho,
            iterations,
            converged,
        })
    }

    /// Decision values: positive means the positive class.
    pub fn decision(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows())
            .map(|i| {
                (0..self.support.rows())
                    .map(|s| {
                        self.dual_coef[s] * kernel_value(self.kernel, self.support.row(s), x.row(i))
                    })
                    .sum::<f64>()
                    - self.rho
            })
            .collect()
    }

    pub fn support_vectors(&self) -> usize {
        self.support.rows()
    }
}

/// Binary (one machine, class 1 positive) or one machine per class against the rest.
#[derive(Debug, Clone)]
pub struct Svm {
    machines: Vec<BinarySvm>,
    n_classes: usize,
}

impl Svm {
    pub fn fit(
        params: &SvmParams,
        x: &Matrix,
        labels: &[usize],
        n_classes: usize,
    ) -> Result<Self, BaselineError> {
        let positives: Vec<usize> = if n_classes == 2 {
            vec![1]
        } else {
            (0..n_classes).collect()
        };
        let machines = positives
            .iter()
            .map(|&class| {
                let positive: Vec<bool> = labels.iter().map(|&l| l == class).collect();
                BinarySvm::fit(params, x, &positive)
            })
            .collect::<Result<_, _>>()?;
        Ok(Svm {
            machines,
            n_classes,
        })
    }

    /// Row-major `rows x n_classes` scores for ranking: two classes `[-d, d]`, more classes
    /// each class's one-vs-rest decision value.
    pub fn decision_scores(&self, x: &Matrix) -> Vec<f64> {
        let per_machine: Vec<Vec<f64>> = self.machines.iter().map(|m| m.decision(x)).collect();
        let mut out = Vec::with_capacity(x.rows() * self.n_classes);
        for i in 0..x.rows() {
            if self.n_classes == 2 {
                out.extend([-per_machine[0][i], per_machine[0][i]]);
            } else {
                out.extend(per_machine.iter().map(|d| d[i]));
            }
        }
        out
    }

    pub fn machines(&self) -> &[BinarySvm] {
        &self.machines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_separable_pair_gets_the_maximum_margin_hyperplane() {
        // Points at x = -1 and x = +1 (and farther): the hard-margin separator is x = 0 with
        // decision value x, so the two closest points sit exactly on the margin.
        let x = Matrix::new(4, 1, vec![-3.0, -1.0, 1.0, 3.0]).unwrap();
        let positive = [false, false, true, true];
        let params = SvmParams {
            tol: 1e-9,
            ..SvmParams::new(100.0, Kernel::Linear)
        };
        let svm = BinarySvm::fit(&params, &x, &positive).unwrap();
        assert!(svm.converged);
        let d = svm.decision(&x);
        for (got, want) in d.iter().zip([-3.0, -1.0, 1.0, 3.0]) {
            assert!((got - want).abs() < 1e-6, "{d:?}");
        }
        assert_eq!(svm.support_vectors(), 2);
    }

    #[test]
    fn an_rbf_machine_separates_a_ring_from_its_centre() {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..24 {
            let angle = i as f64 * std::f64::consts::TAU / 24.0;
            let radius = if i % 2 == 0 { 0.3 } else { 2.0 };
            values.extend([radius * angle.cos(), radius * angle.sin()]);
            labels.push(i % 2);
        }
        let x = Matrix::new(24, 2, values).unwrap();
        let svm = Svm::fit(
            &SvmParams::new(10.0, Kernel::Rbf { gamma: 1.0 }),
            &x,
            &labels,
            2,
        )
        .unwrap();
        let scores = svm.decision_scores(&x);
        for (i, &label) in labels.iter().enumerate() {
            assert_eq!(scores[2 * i + 1] > 0.0, label == 1, "row {i}");
        }
        // A linear machine cannot: some ring point is on the wrong side.
        let linear = Svm::fit(&SvmParams::new(10.0, Kernel::Linear), &x, &labels, 2).unwrap();
        let linear_scores = linear.decision_scores(&x);
        assert!(
            labels
                .iter()
                .enumerate()
                .any(|(i, &l)| (linear_scores[2 * i + 1] > 0.0) != (l == 1))
        );
    }
}
