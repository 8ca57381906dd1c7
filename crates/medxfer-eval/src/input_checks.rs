//! Validation shared by every metric: equal lengths, finite scores, both classes present.

use crate::EvalError;

pub(crate) fn check_same_len(
    what: &'static str,
    left: usize,
    right: usize,
) -> Result<(), EvalError> {
    if left != right {
        return Err(EvalError::LengthMismatch { what, left, right });
    }
    Ok(())
}

pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<(), EvalError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(EvalError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

pub(crate) fn check_labels(
    what: &'static str,
    labels: &[usize],
    n_classes: usize,
) -> Result<(), EvalError> {
    match labels.iter().position(|&l| l >= n_classes) {
        Some(index) => Err(EvalError::LabelOutOfRange {
            what,
            index,
            label: labels[index],
            n_classes,
        }),
        None => Ok(()),
    }
}

/// Counts positives and negatives, failing unless both classes are present.
pub(crate) fn class_counts(
    what: &'static str,
    is_positive: &[bool],
) -> Result<(usize, usize), EvalError> {
    let n_pos = is_positive.iter().filter(|&&p| p).count();
    let n_neg = is_positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(EvalError::OneClassOnly { what, n_pos, n_neg });
    }
    Ok((n_pos, n_neg))
}

/// The usual checks of a binary scorer: same length, finite scores, both classes.
pub(crate) fn check_binary(
    what: &'static str,
    is_positive: &[bool],
    scores: &[f64],
) -> Result<(usize, usize), EvalError> {
    check_same_len(what, is_positive.len(), scores.len())?;
    check_finite(what, scores)?;
    class_counts(what, is_positive)
}
