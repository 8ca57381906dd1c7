//! The statistics benchmark workload shared by `medxfer bench stats` and `cargo bench`:
//! AUC + DeLong 95% CI + stratified bootstrap percentile 95% CI on synthetic binary scores.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::EvalError;
use crate::auc::roc_auc;
use crate::bootstrap::{BootstrapCi, BootstrapConfig, CiMethod, bootstrap_auc_ci};
use crate::delong::{AucCi, delong_ci};

/// `n` cases, about 30% positive, scores = sigmoid(N(0,1) + 1 if positive) rounded to six
/// decimals (so some scores tie, as real probabilities do).
pub fn synthetic_binary_scores(n: usize, seed: u64) -> (Vec<bool>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let positive = rng.random::<f64>() < 0.3;
        // Box-Muller: one standard normal from two uniforms.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let logit = z + if positive { 1.0 } else { 0.0 };
        let p = 1.0 / (1.0 + (-logit).exp());
        labels.push(positive);
        scores.push((p * 1e6).round() / 1e6);
    }
    (labels, scores)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatsWorkload {
    pub seconds: f64,
    pub auc: f64,
    pub delong: AucCi,
    pub bootstrap: BootstrapCi,
}

/// Runs and times the workload (the data are given, not timed).
pub fn run_stats_workload(
    is_positive: &[bool],
    scores: &[f64],
    n_resamples: usize,
    seed: u64,
) -> Result<StatsWorkload, EvalError> {
    let start = Instant::now();
    let auc = roc_auc(is_positive, scores)?;
    let delong = delong_ci(is_positive, scores, 0.95)?;
    let config = BootstrapConfig {
        n_resamples,
        level: 0.95,
        seed,
        method: CiMethod::Percentile,
    };
    let bootstrap = bootstrap_auc_ci(is_positive, scores, &config)?;
    Ok(StatsWorkload {
        seconds: start.elapsed().as_secs_f64(),
        auc,
        delong,
        bootstrap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_workload_is_consistent() {
        let (y, s) = synthetic_binary_scores(2000, 1);
        let share = y.iter().filter(|&&p| p).count() as f64 / y.len() as f64;
        assert!((0.25..0.35).contains(&share));
        let w = run_stats_workload(&y, &s, 200, 3).unwrap();
        assert_eq!(w.auc, w.delong.auc);
        assert!((0.65..0.85).contains(&w.auc), "{}", w.auc);
        assert!(w.bootstrap.ci_low < w.auc && w.auc < w.bootstrap.ci_high);
        // Bootstrap and DeLong standard errors agree roughly on a sample this size.
        let ratio = (w.bootstrap.variance / w.delong.variance).sqrt();
        assert!((0.8..1.25).contains(&ratio), "{ratio}");
    }
}
