//! A run's pooled metrics broken down per source (the datasets of a multi-source run) and
//! per centre (hospital or scanner): each group's AUC with its DeLong CI, balanced accuracy,
//! MCC and ECE.

use std::collections::BTreeMap;
use std::fmt;

use crate::EvalError;
use crate::confusion::ConfusionMatrix;
use crate::delong::delong_ci;
use crate::predictions::PredictionRow;
use crate::report::{CI_LEVEL, Cases, Interval, interval, opt, with_ci};
use crate::report_calibration::calibration;

/// Which column of the predictions file a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The dataset of a multi-source run.
    Source,
    /// Hospital or scanner.
    Center,
}

/// The pooled rows of one source or centre: discrimination with its DeLong CI (binary) and
/// the decisions' balanced accuracy, sensitivity and specificity.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupMetrics {
    pub group: String,
    pub n: usize,
    pub auc: Option<f64>,
    pub auc_ci: Option<Interval>,
    pub balanced_accuracy: f64,
    pub mcc: f64,
    /// Calibration of the positive class's probability in this group (binary runs).
    pub ece: Option<f64>,
}

/// Metrics per value of a grouping column; empty when no row has one.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Breakdown {
    pub per_source: Vec<GroupMetrics>,
    pub per_center: Vec<GroupMetrics>,
}

/// Metrics of `rows` per value of the `by` column (rows without one are left out).
pub(crate) fn group_metrics(
    rows: &[PredictionRow],
    by: GroupBy,
    class_names: &[String],
    positive: Option<usize>,
) -> Result<Vec<GroupMetrics>, EvalError> {
    let key = |row: &PredictionRow| match by {
        GroupBy::Source => row.source.clone(),
        GroupBy::Center => row.center.clone(),
    };
    let mut groups: BTreeMap<String, Vec<&PredictionRow>> = BTreeMap::new();
    for row in rows {
        if let Some(group) = key(row) {
            groups.entry(group).or_default().push(row);
        }
    }
    let k = class_names.len();
    groups
        .into_iter()
        .map(|(group, rows)| {
            let cases = Cases::new(&rows, class_names, positive);
            let cm = ConfusionMatrix::new(&cases.labels, &cases.predicted, k)?;
            let (auc, auc_ci) = match positive {
                Some(p) => {
                    let (flags, scores) = cases.positive_flags_and_scores(p, k);
                    match delong_ci(&flags, &scores, CI_LEVEL) {
                        Ok(ci) => (
                            Some(ci.auc),
                            Some(interval(ci.ci_low, ci.ci_high, "DeLong")),
                        ),
                        Err(_) => (None, None),
                    }
                }
                None => (cases.auc(None, k), None),
            };
            Ok(GroupMetrics {
                group,
                n: rows.len(),
                auc,
                auc_ci,
                balanced_accuracy: cm.balanced_accuracy(),
                mcc: cm.mcc(),
                ece: positive
                    .and_then(|p| calibration(&cases, p, k))
                    .map(|c| c.ece),
            })
        })
        .collect()
}

pub(crate) fn write_groups(
    f: &mut fmt::Formatter<'_>,
    heading: &str,
    groups: &[GroupMetrics],
) -> fmt::Result {
    if groups.is_empty() {
        return Ok(());
    }
    writeln!(
        f,
        "  per {heading}: {:<18} {:>6} {:>24} {:>9} {:>7} {:>7}",
        "", "n", "AUC (95% CI)", "bal.acc", "MCC", "ECE"
    )?;
    for g in groups {
        writeln!(
            f,
            "  {:<30} {:>6} {:>24} {:>9.3} {:>7.3} {:>7}",
            g.group,
            g.n,
            with_ci(g.auc, &g.auc_ci),
            g.balanced_accuracy,
            g.mcc,
            opt(g.ece)
        )?;
    }
    Ok(())
}
