//! Calibration of binary probabilities: Brier score, expected calibration error and
//! reliability-curve points.
//!
//! Bins are equal-width on [0, 1]; bin k holds probabilities in (k/B, (k+1)/B] (the first bin
//! also holds 0), the same assignment as scikit-learn's `calibration_curve(strategy="uniform")`.

use crate::EvalError;
use crate::input_checks::{check_finite, check_same_len};

fn check_probabilities(
    what: &'static str,
    is_positive: &[bool],
    probs: &[f64],
) -> Result<(), EvalError> {
    check_same_len(what, is_positive.len(), probs.len())?;
    if probs.is_empty() {
        return Err(EvalError::Empty(what));
    }
    check_finite(what, probs)?;
    if let Some(i) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(EvalError::InvalidArgument(format!(
            "{what}: probability {} at index {i} is outside [0, 1]",
            probs[i]
        )));
    }
    Ok(())
}

/// Mean squared difference between the predicted probability and the 0/1 outcome.
pub fn brier_score(is_positive: &[bool], probs: &[f64]) -> Result<f64, EvalError> {
    check_probabilities("brier_score", is_positive, probs)?;
    let sum: f64 = is_positive
        .iter()
        .zip(probs)
        .map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    Ok(sum / probs.len() as f64)
}

/// One non-empty bin of the reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReliabilityBin {
    pub mean_predicted: f64,
    pub fraction_positive: f64,
    pub count: usize,
}

fn bin_of(p: f64, n_bins: usize) -> usize {
    let width = 1.0 / n_bins as f64;
    // Number of interior edges strictly below p (edges computed as numpy.linspace does).
    let mut k = ((p / width).ceil() as usize)
        .saturating_sub(1)
        .min(n_bins - 1);
    while k > 0 && (k as f64 * width) >= p {
        k -= 1;
    }
    while k + 1 < n_bins && ((k + 1) as f64 * width) < p {
        k += 1;
    }
    k
}

/// Reliability-curve points for the non-empty bins, in increasing probability.
pub fn reliability_curve(
    is_positive: &[bool],
    probs: &[f64],
    n_bins: usize,
) -> Result<Vec<ReliabilityBin>, EvalError> {
    check_probabilities("reliability_curve", is_positive, probs)?;
    if n_bins == 0 {
        return Err(EvalError::InvalidArgument(
            "reliability_curve: n_bins must be at least 1".into(),
        ));
    }
    let mut sums = vec![0.0; n_bins];
    let mut positives = vec![0usize; n_bins];
    let mut counts = vec![0usize; n_bins];
    for (&y, &p) in is_positive.iter().zip(probs) {
        let k = bin_of(p, n_bins);
        sums[k] += p;
        positives[k] += usize::from(y);
        counts[k] += 1;
    }
    Ok((0..n_bins)
        .filter(|&k| counts[k] > 0)
        .map(|k| ReliabilityBin {
            mean_predicted: sums[k] / counts[k] as f64,
            fraction_positive: positives[k] as f64 / counts[k] as f64,
            count: counts[k],
        })
        .collect())
}

/// Expected calibration error: sum over bins of (bin share) * |fraction positive - mean p|.
pub fn expected_calibration_error(
    is_positive: &[bool],
    probs: &[f64],
    n_bins: usize,
) -> Result<f64, EvalError> {
    let bins = reliability_curve(is_positive, probs, n_bins)?;
    let n = probs.len() as f64;
    Ok(bins
        .iter()
        .map(|b| b.count as f64 / n * (b.fraction_positive - b.mean_predicted).abs())
        .sum())
}

/// Probabilities are clamped to this floor before their logarithm is taken, so a saturated
/// softmax output (an exact 0 in f32) keeps a finite logit.
const LOG_FLOOR: f64 = 1e-12;
/// Inverse temperatures searched, wider than any fit seen in practice (T from 0.02 to 50).
const INVERSE_TEMPERATURE_RANGE: (f64, f64) = (0.02, 50.0);

/// Mean negative log-likelihood of `labels` under softmax(beta * log p), row-major n x k.
fn scaled_nll(labels: &[usize], probs: &[f64], k: usize, beta: f64) -> f64 {
    let mut total = 0.0;
    for (row, &label) in probs.chunks(k).zip(labels) {
        let logits: Vec<f64> = row.iter().map(|p| beta * p.max(LOG_FLOOR).ln()).collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = max + logits.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
        total += log_sum - logits[label];
    }
    total / labels.len() as f64
}

/// Temperature scaling (Guo et al., ICML 2017): the T > 0 that minimises the negative
/// log-likelihood of `labels` under softmax(log p / T), from the probabilities alone (their
/// logarithms are the logits up to a per-row constant, which softmax ignores). `probs` is
/// row-major n x k. The NLL is convex in 1/T, so a golden-section search on 1/T converges to
/// the minimum; it stops when the bracket is narrower than 1e-9.
pub fn fit_temperature(labels: &[usize], probs: &[f64], k: usize) -> Result<f64, EvalError> {
    if labels.is_empty() {
        return Err(EvalError::Empty("fit_temperature"));
    }
    check_same_len("fit_temperature", labels.len() * k, probs.len())?;
    check_finite("fit_temperature", probs)?;
    if let Some(i) = labels.iter().position(|&l| l >= k) {
        return Err(EvalError::InvalidArgument(format!(
            "fit_temperature: label {} at index {i} is not below {k} classes",
            labels[i]
        )));
    }
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let (mut low, mut high) = INVERSE_TEMPERATURE_RANGE;
    let nll = |beta: f64| scaled_nll(labels, probs, k, beta);
    let mut a = high - golden * (high - low);
    let mut b = low + golden * (high - low);
    let (mut fa, mut fb) = (nll(a), nll(b));
    while high - low > 1e-9 {
        if fa <= fb {
            high = b;
            (b, fb) = (a, fa);
            a = high - golden * (high - low);
            fa = nll(a);
        } else {
            low = a;
            (a, fa) = (b, fb);
            b = low + golden * (high - low);
            fb = nll(b);
        }
    }
    Ok(2.0 / (low + high))
}

/// One row of probabilities after temperature scaling: softmax(log p / T).
pub fn apply_temperature(row: &[f64], temperature: f64) -> Vec<f64> {
    let logits: Vec<f64> = row
        .iter()
        .map(|p| p.max(LOG_FLOOR).ln() / temperature)
        .collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|z| (z - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_recovers_the_softening_that_was_applied() {
        // Labels drawn so that softmax(z) is calibrated, then the model is made over-confident
        // by sharpening with T = 1/3: the fit must find T close to 3.
        let mut labels = Vec::new();
        let mut probs = Vec::new();
        let mut state = 12345u64;
        for _ in 0..4000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let z = ((state >> 11) as f64 / (1u64 << 53) as f64) * 6.0 - 3.0;
            let p1 = 1.0 / (1.0 + (-z).exp());
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            labels.push(usize::from(u < p1));
            probs.extend(apply_temperature(&[1.0 - p1, p1], 1.0 / 3.0));
        }
        let t = fit_temperature(&labels, &probs, 2).unwrap();
        assert!((t - 3.0).abs() < 0.3, "T = {t}");
        let rescaled: Vec<f64> = probs
            .chunks(2)
            .flat_map(|r| apply_temperature(r, t))
            .collect();
        assert!(scaled_nll(&labels, &rescaled, 2, 1.0) < scaled_nll(&labels, &probs, 2, 1.0));
    }

    #[test]
    fn temperature_one_is_the_identity_and_bad_input_is_refused() {
        let row = [0.2, 0.5, 0.3];
        for (a, b) in apply_temperature(&row, 1.0).iter().zip(row) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(fit_temperature(&[], &[], 2).is_err());
        assert!(fit_temperature(&[2], &[0.5, 0.5], 2).is_err());
        assert!(fit_temperature(&[0], &[0.5, f64::NAN], 2).is_err());
    }

    #[test]
    fn bin_edges_belong_to_the_lower_bin() {
        assert_eq!(bin_of(0.0, 10), 0);
        assert_eq!(bin_of(0.1, 10), 0);
        assert_eq!(bin_of(0.10000001, 10), 1);
        assert_eq!(bin_of(1.0, 10), 9);
        assert_eq!(bin_of(0.5, 2), 0);
        assert_eq!(bin_of(0.7, 1), 0);
    }

    #[test]
    fn perfectly_calibrated_bins_have_zero_ece() {
        let y = [true, false, true, true];
        let p = [0.5, 0.5, 1.0, 1.0];
        assert!(expected_calibration_error(&y, &p, 10).unwrap().abs() < 1e-15);
        assert!((brier_score(&y, &p).unwrap() - 0.125).abs() < 1e-15);
        assert!(brier_score(&y, &[0.5, 0.5, 1.0, 1.5]).is_err());
    }
}
