//! Calibration in a run's metrics: Brier score, ECE and reliability bins of the positive
//! class's probability, before and after temperature scaling fitted per fold model on the
//! training run's validation rows.

use crate::EvalError;
use crate::calibration::{
    ReliabilityBin, apply_temperature, brier_score, expected_calibration_error, fit_temperature,
    reliability_curve,
};
use crate::predictions::{PredictionRow, Predictions, Split};
use crate::report::{Cases, rows_to_pool};

/// Calibration of the positive class's probability (binary runs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub brier: f64,
    /// Expected calibration error over [`CALIBRATION_BINS`] equal-width bins.
    pub ece: f64,
    pub reliability: Vec<ReliabilityBin>,
}

/// One fold model's temperature, fitted on that fold's validation rows of the training run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FoldTemperature {
    pub fold: usize,
    pub temperature: f64,
    /// Validation rows the temperature was fitted on.
    pub n_fit: usize,
}

/// Calibration after temperature scaling, fitted on the training run's validation rows only
/// (never on the rows it is measured on).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TemperatureScaled {
    pub temperatures: Vec<FoldTemperature>,
    pub calibration: Calibration,
}

/// Bins of the reliability diagram and the ECE (scikit-learn's `calibration_curve` default).
pub const CALIBRATION_BINS: usize = 10;

/// Calibration of the pooled test rows after each fold model's probabilities are scaled by
/// the temperature fitted on its validation rows in `fit`; None when a fold has none there.
pub(crate) fn temperature_scaled(
    test_rows: &[&PredictionRow],
    fit: &Predictions,
    positive: usize,
    k: usize,
) -> Result<Option<TemperatureScaled>, EvalError> {
    if fit.class_names.len() != k {
        return Ok(None);
    }
    let folds: std::collections::BTreeSet<usize> = test_rows.iter().map(|r| r.fold).collect();
    let mut temperatures = Vec::with_capacity(folds.len());
    for &fold in &folds {
        let val: Vec<&PredictionRow> = fit
            .rows
            .iter()
            .filter(|r| r.fold == fold && r.split == Split::Val)
            .collect();
        let Some(labels) = val
            .iter()
            .map(|r| fit.class_index(&r.label))
            .collect::<Option<Vec<usize>>>()
            .filter(|l| !l.is_empty())
        else {
            return Ok(None);
        };
        let probs: Vec<f64> = val.iter().flat_map(|r| r.scores.iter().copied()).collect();
        temperatures.push(FoldTemperature {
            fold,
            temperature: fit_temperature(&labels, &probs, k)?,
            n_fit: val.len(),
        });
    }
    let temperature_of = |fold: usize| {
        temperatures
            .iter()
            .find(|t| t.fold == fold)
            .map_or(1.0, |t| t.temperature)
    };
    let scaled: Vec<PredictionRow> = test_rows
        .iter()
        .map(|r| PredictionRow {
            scores: apply_temperature(&r.scores, temperature_of(r.fold)),
            ..(*r).clone()
        })
        .collect();
    let scaled_refs: Vec<&PredictionRow> = scaled.iter().collect();
    let (pooled, _) = rows_to_pool(&scaled_refs)?;
    let pooled_refs: Vec<&PredictionRow> = pooled.iter().collect();
    let cases = Cases::new(&pooled_refs, &fit.class_names, Some(positive));
    Ok(
        calibration(&cases, positive, k).map(|calibration| TemperatureScaled {
            temperatures,
            calibration,
        }),
    )
}

/// Brier score, ECE and reliability bins of the positive class's probability.
pub(crate) fn calibration(cases: &Cases, positive: usize, k: usize) -> Option<Calibration> {
    let (flags, scores) = cases.positive_flags_and_scores(positive, k);
    Some(Calibration {
        brier: brier_score(&flags, &scores).ok()?,
        ece: expected_calibration_error(&flags, &scores, CALIBRATION_BINS).ok()?,
        reliability: reliability_curve(&flags, &scores, CALIBRATION_BINS).ok()?,
    })
}
