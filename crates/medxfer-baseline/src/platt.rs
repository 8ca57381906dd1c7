//! Platt scaling: `P(positive | d) = 1 / (1 + exp(A d + B))`, fitted to decision values by the
//! Newton method with backtracking of Lin, Lin & Weng (2007), on Platt's smoothed targets
//! (`(N+ + 1) / (N+ + 2)` and `1 / (N- + 2)`), as libsvm's `sigmoid_train`.

use crate::BaselineError;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

const MAX_ITER: usize = 100;
const MIN_STEP: f64 = 1e-10;
/// The Hessian's ridge, and the gradient size at which the fit is done.
const SIGMA: f64 = 1e-12;
const GRADIENT_TOL: f64 = 1e-5;

/// `log(1 + exp(-f))`-style terms without overflow: the loss of one point with target `t`.
fn point_loss(f: f64, t: f64) -> f64 {
    if f >= 0.0 {
        t * f + (1.0 + (-f).exp()).ln()
    } else {
        (t - 1.0) * f + (1.0 + f.exp()).ln()
    }
}

impl Platt {
    /// Fit to `decision` values whose truth is `positive`.
    pub fn fit(decision: &[f64], positive: &[bool]) -> Result<Self, BaselineError> {
        if decision.len() != positive.len() || decision.is_empty() {
            return Err(BaselineError::data(
                "Platt scaling needs one decision value per label",
            ));
        }
        let n_pos = positive.iter().filter(|&&p| p).count() as f64;
        let n_neg = positive.len() as f64 - n_pos;
        let (hi, lo) = ((n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0));
        let targets: Vec<f64> = positive.iter().map(|&p| if p { hi } else { lo }).collect();
        let objective = |a: f64, b: f64| -> f64 {
            decision
                .iter()
                .zip(&targets)
                .map(|(d, t)| point_loss(d * a + b, *t))
                .sum()
        };
        let (mut a, mut b) = (0.0, ((n_neg + 1.0) / (n_pos + 1.0)).ln());
        let mut fval = objective(a, b);
        for _ in 0..MAX_ITER {
            let (mut h11, mut h22, mut h21, mut g1, mut g2) = (SIGMA, SIGMA, 0.0, 0.0, 0.0);
            for (d, t) in decision.iter().zip(&targets) {
                let f = d * a + b;
                let (p, q) = if f >= 0.0 {
                    let e = (-f).exp();
                    (e / (1.0 + e), 1.0 / (1.0 + e))
                } else {
                    let e = f.exp();
                    (1.0 / (1.0 + e), e / (1.0 + e))
                };
                let w = p * q;
                h11 += d * d * w;
                h22 += w;
                h21 += d * w;
                g1 += d * (t - p);
                g2 += t - p;
            }
            if g1.abs() < GRADIENT_TOL && g2.abs() < GRADIENT_TOL {
                break;
            }
            let det = h11 * h22 - h21 * h21;
            let da = -(h22 * g1 - h21 * g2) / det;
            let db = -(-h21 * g1 + h11 * g2) / det;
            let gd = g1 * da + g2 * db;
            let mut step = 1.0;
            while step >= MIN_STEP {
                let (na, nb) = (a + step * da, b + step * db);
                let new_f = objective(na, nb);
                if new_f < fval + 1e-4 * step * gd {
                    (a, b, fval) = (na, nb, new_f);
                    break;
                }
                step /= 2.0;
            }
            if step < MIN_STEP {
                break;
            }
        }
        Ok(Platt { a, b })
    }

    pub fn probability(&self, decision: f64) -> f64 {
        let f = decision * self.a + self.b;
        if f >= 0.0 {
            (-f).exp() / (1.0 + (-f).exp())
        } else {
            1.0 / (1.0 + f.exp())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn larger_decision_values_mean_larger_probabilities_and_the_fit_is_stationary() {
        let decision = [-2.0, -1.5, -0.4, 0.3, -0.2, 0.6, 1.2, 2.5];
        let positive = [false, false, false, false, true, true, true, true];
        let platt = Platt::fit(&decision, &positive).unwrap();
        assert!(platt.a < 0.0, "{platt:?}");
        assert!(platt.probability(2.0) > platt.probability(0.0));
        assert!(platt.probability(-2.0) < 0.5);
        // Gradient of the smoothed log-loss vanishes at the fit (within the stopping rule).
        let (hi, lo) = (5.0 / 6.0, 1.0 / 6.0);
        let (mut g1, mut g2) = (0.0, 0.0);
        for (d, &p) in decision.iter().zip(&positive) {
            let t = if p { hi } else { lo };
            let q = platt.probability(*d);
            g1 += d * (t - q);
            g2 += t - q;
        }
        assert!(g1.abs() < 1e-5 && g2.abs() < 1e-5, "{g1} {g2}");
    }
}
