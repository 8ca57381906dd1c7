//! Inner cross-validation folds: stratified by class and grouped by patient (all images of a
//! patient in the same fold), seeded.
//!
//! Each group (a patient, or a single row without patient ids) counts as one unit of the class
//! most of its rows have. Units of each class are shuffled and dealt round-robin to the folds,
//! the dealing continuing across classes where the previous class stopped, so fold sizes differ
//! by at most one unit and every fold holds each class in proportion.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::BaselineError;

/// `k` test parts of `rows` (indices into `labels`); the training part of each is the rest.
pub fn stratified_group_kfold(
    rows: &[usize],
    labels: &[usize],
    groups: Option<&[String]>,
    k: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>, BaselineError> {
    let units = units(rows, labels, groups);
    if k < 2 || units.len() < k {
        return Err(BaselineError::data(format!(
            "{k}-fold cross-validation needs at least {k} patients/images, got {}",
            units.len()
        )));
    }
    let mut by_class: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
    for (class, members) in units {
        by_class.entry(class).or_default().push(members);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut parts = vec![Vec::new(); k];
    let mut next = 0;
    for (_, mut class_units) in by_class {
        class_units.shuffle(&mut rng);
        for members in class_units {
            parts[next % k].extend(members);
            next += 1;
        }
    }
    parts.iter_mut().for_each(|p| p.sort_unstable());
    Ok(parts)
}

/// The groups of `rows` in first-seen order, each with its majority class (ties: the smaller
/// class index).
fn units(rows: &[usize], labels: &[usize], groups: Option<&[String]>) -> Vec<(usize, Vec<usize>)> {
    let Some(groups) = groups else {
        return rows.iter().map(|&r| (labels[r], vec![r])).collect();
    };
    let mut order: Vec<&str> = Vec::new();
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &r in rows {
        let entry = members.entry(groups[r].as_str()).or_default();
        if entry.is_empty() {
            order.push(groups[r].as_str());
        }
        entry.push(r);
    }
    order
        .into_iter()
        .map(|g| {
            let rows = members.remove(g).unwrap_or_default();
            let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
            for &r in &rows {
                *counts.entry(labels[r]).or_default() += 1;
            }
            let majority = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(0, |(&c, _)| c);
            (majority, rows)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_the_rows_keep_patients_together_and_stratify() {
        let rows: Vec<usize> = (0..30).collect();
        let labels: Vec<usize> = (0..30).map(|i| usize::from(i % 3 == 0)).collect();
        let groups: Vec<String> = (0..30).map(|i| format!("p{}", i / 2)).collect();
        let parts = stratified_group_kfold(&rows, &labels, Some(&groups), 3, 7).unwrap();
        let mut all: Vec<usize> = parts.concat();
        all.sort_unstable();
        assert_eq!(all, rows);
        for part in &parts {
            for &r in part {
                let partner = r ^ 1;
                assert!(part.contains(&partner), "patient of row {r} split");
            }
            let positives = part.iter().filter(|&&r| labels[r] == 1).count();
            assert!(
                (2..=5).contains(&positives),
                "{positives} positives in {part:?}"
            );
        }
        assert!(stratified_group_kfold(&rows[..2], &labels, None, 3, 7).is_err());
    }
}
