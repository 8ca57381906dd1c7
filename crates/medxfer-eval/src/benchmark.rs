//! The statistics benchmark workload shared by `medxfer bench stats` and `cargo bench`:
//! AUC + DeLong 95% CI + stratified bootstrap percentile 95% CI on synthetic binary scores.

use std::path::{Path, PathBuf};
use std::process::Command;
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

/// The NumPy / SciPy / scikit-learn version of the workload (kept in `benches/`).
pub const REFERENCE_SCRIPT: &str = include_str!("../benches/stats_reference.py");

/// What the reference script reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReferenceRun {
    pub seconds: f64,
    pub auc: f64,
    pub variance: f64,
    pub delong_ci: [f64; 2],
    pub bootstrap_ci: [f64; 2],
    pub versions: serde_json::Value,
}

/// Where the reference Python is looked for, in order: `$MEDXFER_CACHE/venv`, `./.cache/venv`,
/// and the `.cache/venv` of the workspace this crate was built in.
pub fn reference_python_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(cache) = std::env::var_os("MEDXFER_CACHE") {
        candidates.push(PathBuf::from(cache).join("venv/bin/python"));
    }
    candidates.push(PathBuf::from(".cache/venv/bin/python"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/venv/bin/python"));
    candidates
}

/// Runs the reference script with `python` on the same data (written to a temporary folder;
/// loading is not timed by the script).
pub fn run_reference(
    python: &Path,
    is_positive: &[bool],
    scores: &[f64],
    n_resamples: usize,
    seed: u64,
) -> Result<ReferenceRun, EvalError> {
    let dir = tempfile::tempdir().map_err(|e| EvalError::io(&std::env::temp_dir(), e))?;
    let data = dir.path().join("scores.csv");
    let mut text = String::with_capacity(scores.len() * 12);
    text.push_str("label,score\n");
    for (&y, &s) in is_positive.iter().zip(scores) {
        text.push_str(if y { "1," } else { "0," });
        text.push_str(&s.to_string());
        text.push('\n');
    }
    std::fs::write(&data, text).map_err(|e| EvalError::io(&data, e))?;
    let script = dir.path().join("stats_reference.py");
    std::fs::write(&script, REFERENCE_SCRIPT).map_err(|e| EvalError::io(&script, e))?;
    let output = Command::new(python)
        .arg(&script)
        .arg(&data)
        .arg(n_resamples.to_string())
        .arg(seed.to_string())
        .output()
        .map_err(|e| EvalError::io(python, e))?;
    if !output.status.success() {
        return Err(EvalError::bad_file(
            python,
            format!(
                "reference script failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        EvalError::bad_file(
            python,
            format!("reference script printed no valid JSON: {e}"),
        )
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
