//! Sorting scores into groups of tied values: the shared core of AUC, DeLong placements,
//! ROC/PR curves and the weighted AUC used by the bootstrap.

use std::cmp::Ordering;

/// Case indices sorted by ascending score, with the boundaries of runs of equal scores.
/// `-0.0` and `0.0` are one group (they compare equal).
pub(crate) struct TieGroups {
    pub order: Vec<usize>,
    /// `starts[g]..starts[g + 1]` indexes `order` for group `g`; the last entry is `order.len()`.
    pub starts: Vec<usize>,
}

impl TieGroups {
    /// `scores` must be finite (checked by the callers).
    pub fn ascending(scores: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal)
        });
        let mut starts = Vec::with_capacity(scores.len() + 1);
        for (pos, &idx) in order.iter().enumerate() {
            if pos == 0 || scores[order[pos - 1]] != scores[idx] {
                starts.push(pos);
            }
        }
        starts.push(order.len());
        TieGroups { order, starts }
    }

    pub fn n_groups(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn group(&self, g: usize) -> &[usize] {
        &self.order[self.starts[g]..self.starts[g + 1]]
    }
}

/// Mann-Whitney AUC from per-group positive and negative counts in ascending score order:
/// P(score_pos > score_neg) + 0.5 P(tie). Counts may be bootstrap multiplicities.
pub(crate) fn auc_from_group_counts(
    pos_counts: &[u32],
    neg_counts: &[u32],
    n_pos: f64,
    n_neg: f64,
) -> f64 {
    let mut neg_below = 0u64;
    // Twice the Mann-Whitney U, kept as an integer so the sum is exact.
    let mut twice_u: u128 = 0;
    for (&p, &q) in pos_counts.iter().zip(neg_counts) {
        twice_u += u128::from(p) * u128::from(2 * neg_below + u64::from(q));
        neg_below += u64::from(q);
    }
    twice_u as f64 / (2.0 * n_pos * n_neg)
}
