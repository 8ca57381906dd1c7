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

#[cfg(test)]
mod tests {
    use super::*;

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
