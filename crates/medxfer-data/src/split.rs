//! Seeded stratified splits: k-fold, hold-out and train/val/test by ratio. With patient
//! groups, whole groups move together (no patient in two parts) and classes are balanced
//! greedily, in the spirit of scikit-learn's StratifiedGroupKFold.

use std::collections::{BTreeSet, HashMap};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::Dataset;
use crate::error::DataError;

/// Metadata key of a sample's predefined test fold, an integer (BUS-BRA's official folds, or
/// a `fold` column of a CSV manifest). Read by `predefined_kfold`.
pub const FOLD_METADATA_KEY: &str = "fold";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// Samples that must stay together (one patient), with their per-class counts.
struct Unit {
    members: Vec<usize>,
    class_counts: Vec<usize>,
}

fn class_count(labels: &[usize]) -> usize {
    labels.iter().max().map_or(0, |&m| m + 1)
}

/// Groups `indices` into units: one per sample, or one per distinct group name.
/// Units come out in first-appearance order (deterministic before shuffling).
fn build_units(
    indices: &[usize],
    labels: &[usize],
    groups: Option<&[String]>,
    n_classes: usize,
) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut unit_of_group: HashMap<&str, usize> = HashMap::new();
    for &i in indices {
        let slot = match groups {
            Some(groups) => *unit_of_group.entry(groups[i].as_str()).or_insert_with(|| {
                units.push(Unit {
                    members: Vec::new(),
                    class_counts: vec![0; n_classes],
                });
                units.len() - 1
            }),
            None => {
                units.push(Unit {
                    members: Vec::new(),
                    class_counts: vec![0; n_classes],
                });
                units.len() - 1
            }
        };
        units[slot].members.push(i);
        units[slot].class_counts[labels[i]] += 1;
    }
    units
}

fn validate_groups(labels: &[usize], groups: Option<&[String]>) -> Result<(), DataError> {
    if let Some(groups) = groups
        && groups.len() != labels.len()
    {
        return Err(DataError::Split(format!(
            "{} group ids for {} labels",
            groups.len(),
            labels.len()
        )));
    }
    Ok(())
}

/// Stratified k-fold over all samples; every sample is in exactly one test fold.
pub fn stratified_kfold(
    labels: &[usize],
    groups: Option<&[String]>,
    k: usize,
    seed: u64,
) -> Result<Vec<Fold>, DataError> {
    validate_groups(labels, groups)?;
    if k < 2 {
        return Err(DataError::Split(format!("k-fold needs k >= 2, got {k}")));
    }
    let n_classes = class_count(labels);
    let all: Vec<usize> = (0..labels.len()).collect();
    let mut units = build_units(&all, labels, groups, n_classes);
    if units.len() < k {
        let what = if groups.is_some() {
            "groups"
        } else {
            "samples"
        };
        return Err(DataError::Split(format!(
            "cannot make {k} folds from {} {what}",
            units.len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    units.shuffle(&mut rng);

    let mut fold_of_unit = vec![0usize; units.len()];
    if groups.is_none() {
        // Deal each class's shuffled samples round-robin; the dealer position carries over
        // between classes so fold sizes differ by at most one.
        let mut position = 0usize;
        for class in 0..n_classes {
            for (u, unit) in units.iter().enumerate() {
                if unit.class_counts[class] > 0 {
                    fold_of_unit[u] = position % k;
                    position += 1;
                }
            }
        }
    } else {
        assign_groups_to_folds(&units, k, n_classes, &mut fold_of_unit);
    }

    let mut folds = vec![Vec::new(); k];
    for (unit, &fold) in units.iter().zip(&fold_of_unit) {
        folds[fold].extend_from_slice(&unit.members);
    }
    Ok(folds
        .iter()
        .map(|test_members| {
            let mut in_test = vec![false; labels.len()];
            for &i in test_members {
                in_test[i] = true;
            }
            let mut test = test_members.clone();
            test.sort_unstable();
            Fold {
                train: (0..labels.len()).filter(|&i| !in_test[i]).collect(),
                test,
            }
        })
        .collect())
}

/// Greedy group placement: largest/most class-skewed groups first, each into the fold that
/// keeps per-class fold shares most even (ties: the smaller fold).
fn assign_groups_to_folds(units: &[Unit], k: usize, n_classes: usize, fold_of_unit: &mut [usize]) {
    let class_totals: Vec<f64> = (0..n_classes)
        .map(|c| {
            units
                .iter()
                .map(|u| u.class_counts[c])
                .sum::<usize>()
                .max(1) as f64
        })
        .collect();
    let mut order: Vec<usize> = (0..units.len()).collect();
    // Stable sort keeps the shuffled order among equals, so the seed still matters.
    order.sort_by(|&a, &b| {
        let key = |u: &Unit| (u.members.len(), spread(&u.class_counts));
        let (sa, ka) = key(&units[a]);
        let (sb, kb) = key(&units[b]);
        sb.cmp(&sa).then(kb.total_cmp(&ka))
    });
    let mut fold_counts = vec![vec![0usize; n_classes]; k];
    let mut fold_sizes = vec![0usize; k];
    for u in order {
        let unit = &units[u];
        let mut best: Option<(f64, usize, usize)> = None;
        for fold in 0..k {
            add_counts(&mut fold_counts[fold], &unit.class_counts);
            let imbalance = (0..n_classes)
                .map(|c| {
                    let shares: Vec<f64> = (0..k)
                        .map(|f| fold_counts[f][c] as f64 / class_totals[c])
                        .collect();
                    std_dev(&shares)
                })
                .sum::<f64>()
                / n_classes.max(1) as f64;
            for (total, count) in fold_counts[fold].iter_mut().zip(&unit.class_counts) {
                *total -= count;
            }
            let candidate = (imbalance, fold_sizes[fold], fold);
            let better = match best {
                None => true,
                Some((bi, bs, _)) => {
                    imbalance < bi - 1e-12
                        || ((imbalance - bi).abs() <= 1e-12 && fold_sizes[fold] < bs)
                }
            };
            if better {
                best = Some(candidate);
            }
        }
        let fold = best.map_or(0, |(_, _, f)| f);
        fold_of_unit[u] = fold;
        fold_sizes[fold] += unit.members.len();
        add_counts(&mut fold_counts[fold], &unit.class_counts);
    }
}

fn add_counts(totals: &mut [usize], counts: &[usize]) {
    for (total, count) in totals.iter_mut().zip(counts) {
        *total += count;
    }
}

fn std_dev(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

fn spread(counts: &[usize]) -> f64 {
    let values: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    std_dev(&values)
}

/// Holds out about `fraction` of `indices`, stratified by class (and grouped when `groups`
/// is given). `labels` and `groups` are indexed by dataset index, i.e. by the values in
/// `indices`. Returns `(kept, held_out)`, each sorted.
pub fn stratified_holdout(
    indices: &[usize],
    labels: &[usize],
    groups: Option<&[String]>,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    if indices.is_empty() || fraction.is_nan() || fraction <= 0.0 {
        let mut kept = indices.to_vec();
        kept.sort_unstable();
        return (kept, Vec::new());
    }
    if fraction >= 1.0 {
        let mut held = indices.to_vec();
        held.sort_unstable();
        return (Vec::new(), held);
    }
    let n_classes = indices.iter().map(|&i| labels[i] + 1).max().unwrap_or(0);
    let mut units = build_units(indices, labels, groups, n_classes);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0068_6f6c_646f_7574);
    units.shuffle(&mut rng);

    let mut class_totals = vec![0usize; n_classes];
    for unit in &units {
        add_counts(&mut class_totals, &unit.class_counts);
    }
    let targets = class_targets(&class_totals, fraction);
    let mut held_counts = vec![0usize; n_classes];
    let mut held_unit = vec![false; units.len()];
    for (u, unit) in units.iter().enumerate() {
        // Take the unit if it brings the held-out class counts closer to their targets.
        let gain: i64 = (0..n_classes)
            .map(|c| {
                let before = (held_counts[c] as i64 - targets[c] as i64).abs();
                let after =
                    ((held_counts[c] + unit.class_counts[c]) as i64 - targets[c] as i64).abs();
                before - after
            })
            .sum();
        if gain > 0 {
            held_unit[u] = true;
            add_counts(&mut held_counts, &unit.class_counts);
        }
    }
    let mut kept = Vec::new();
    let mut held = Vec::new();
    for (unit, &is_held) in units.iter().zip(&held_unit) {
        if is_held {
            held.extend_from_slice(&unit.members);
        } else {
            kept.extend_from_slice(&unit.members);
        }
    }
    kept.sort_unstable();
    held.sort_unstable();
    (kept, held)
}

/// Per-class held-out counts: the total is `round(fraction * n)` (at least 1 and at most
/// n - 1 when n >= 2), shared by largest remainder so each class gets ~`fraction` of itself.
fn class_targets(class_totals: &[usize], fraction: f64) -> Vec<usize> {
    let n: usize = class_totals.iter().sum();
    let mut total = (fraction * n as f64).round() as usize;
    if n >= 2 {
        total = total.clamp(1, n - 1);
    }
    let exact: Vec<f64> = class_totals
        .iter()
        .map(|&c| c as f64 * total as f64 / n.max(1) as f64)
        .collect();
    let mut targets: Vec<usize> = exact.iter().map(|v| v.floor() as usize).collect();
    let mut order: Vec<usize> = (0..class_totals.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let mut missing = total.saturating_sub(targets.iter().sum());
    for c in order {
        if missing == 0 {
            break;
        }
        if targets[c] < class_totals[c] {
            targets[c] += 1;
            missing -= 1;
        }
    }
    targets
}

/// Train/val/test split by `ratios` (need not sum to 1; they are normalised).
pub fn stratified_split(
    labels: &[usize],
    groups: Option<&[String]>,
    ratios: [f64; 3],
    seed: u64,
) -> Result<SplitIndices, DataError> {
    validate_groups(labels, groups)?;
    if ratios.iter().any(|r| !r.is_finite() || *r < 0.0) || ratios.iter().sum::<f64>() <= 0.0 {
        return Err(DataError::Split(format!(
            "split ratios {ratios:?} must be non-negative with a positive sum"
        )));
    }
    let sum: f64 = ratios.iter().sum();
    let all: Vec<usize> = (0..labels.len()).collect();
    let (rest, test) = stratified_holdout(&all, labels, groups, ratios[2] / sum, seed);
    let train_val = ratios[0] + ratios[1];
    let val_fraction = if train_val > 0.0 {
        ratios[1] / train_val
    } else {
        0.0
    };
    let (train, val) =
        stratified_holdout(&rest, labels, groups, val_fraction, seed.wrapping_add(1));
    Ok(SplitIndices { train, val, test })
}

/// The folds fixed by the data's authors: fold `f`'s test part is every sample whose
/// `metadata["fold"]` is the `f`-th smallest fold number (numbers run 0..k-1 or 1..k).
/// Refuses samples without a fold and patients with samples in two folds, whose images would
/// then be both trained and tested on.
pub fn predefined_kfold(dataset: &Dataset) -> Result<Vec<Fold>, DataError> {
    let numbers = sample_fold_numbers(dataset)?;
    check_patients_within_folds(dataset, &numbers)?;
    let distinct: Vec<u32> = numbers
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (first, count) = (distinct[0], distinct.len());
    // A gap (1, 2, 4) means a fold was filtered away or mistyped: its test set would be empty.
    if count < 2 || first > 1 || distinct[count - 1] - first + 1 != count as u32 {
        return Err(DataError::Split(format!(
            "predefined fold numbers {distinct:?} must be consecutive from 0 or 1, at least 2 folds"
        )));
    }
    Ok((0..count as u32)
        .map(|f| {
            let (test, train) = (0..numbers.len()).partition(|&i| numbers[i] == first + f);
            Fold { train, test }
        })
        .collect())
}

/// What a leave-one-out split holds out, one group per fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldOutGroup {
    /// The acquisition centre or scanner (a CSV `center` column, BUS-BRA's `Device`).
    Center,
    /// The dataset of a multi-source run (`kind = "sources"`): leave-one-dataset-out.
    Source,
}

impl HeldOutGroup {
    fn of(self, sample: &crate::Sample) -> Option<&str> {
        match self {
            HeldOutGroup::Center => sample.center.as_deref(),
            HeldOutGroup::Source => sample.origin.as_deref(),
        }
    }
}

impl std::fmt::Display for HeldOutGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeldOutGroup::Center => "center",
            HeldOutGroup::Source => "source",
        })
    }
}

/// Leave-one-group-out: fold `f` tests on every sample of the `f`-th group (groups in sorted
/// order, returned beside the folds) and trains on all the others. Needs every sample's group
/// and at least two groups. A patient seen in two groups is refused: their images would then be
/// both trained and tested on.
pub fn leave_one_group_out(
    dataset: &Dataset,
    by: HeldOutGroup,
) -> Result<(Vec<Fold>, Vec<String>), DataError> {
    let names = dataset
        .samples
        .iter()
        .map(|sample| {
            by.of(sample).ok_or_else(|| {
                DataError::Split(format!(
                    "leave-one-{by}-out: sample {} has no {by} ({})",
                    sample.id,
                    match by {
                        HeldOutGroup::Center =>
                            "a CSV `center` column or BUS-BRA's Device gives one",
                        HeldOutGroup::Source =>
                            "only multi-source datasets (kind = \"sources\") have one",
                    }
                ))
            })
        })
        .collect::<Result<Vec<&str>, _>>()?;
    let groups: Vec<String> = names
        .iter()
        .map(|n| n.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if groups.len() < 2 {
        return Err(DataError::Split(format!(
            "leave-one-{by}-out needs at least two {by}s; the data has {groups:?}"
        )));
    }
    let mut patient_group: HashMap<&str, &str> = HashMap::new();
    for (sample, &name) in dataset.samples.iter().zip(&names) {
        let Some(patient) = sample.patient_id.as_deref() else {
            continue;
        };
        if let Some(&other) = patient_group.get(patient).filter(|&&g| g != name) {
            return Err(DataError::Split(format!(
                "patient {patient} has images in {by}s {other} and {name}: leave-one-{by}-out \
                 would train and test on them"
            )));
        }
        patient_group.insert(patient, name);
    }
    let folds = groups
        .iter()
        .map(|group| {
            let (test, train) = (0..names.len()).partition(|&i| names[i] == group);
            Fold { train, test }
        })
        .collect();
    Ok((folds, groups))
}

fn sample_fold_numbers(dataset: &Dataset) -> Result<Vec<u32>, DataError> {
    if dataset.is_empty() {
        return Err(DataError::Split(
            "predefined folds of an empty dataset".into(),
        ));
    }
    dataset
        .samples
        .iter()
        .map(|sample| {
            let text = sample.metadata.get(FOLD_METADATA_KEY).ok_or_else(|| {
                DataError::Split(format!(
                    "sample {} has no predefined fold (metadata '{FOLD_METADATA_KEY}')",
                    sample.id
                ))
            })?;
            text.trim().parse::<u32>().map_err(|_| {
                DataError::Split(format!(
                    "sample {}: fold '{text}' is not a non-negative integer",
                    sample.id
                ))
            })
        })
        .collect()
}

fn check_patients_within_folds(dataset: &Dataset, numbers: &[u32]) -> Result<(), DataError> {
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (i, sample) in dataset.samples.iter().enumerate() {
        let Some(patient) = sample.patient_id.as_deref() else {
            continue;
        };
        let first = *first_seen.entry(patient).or_insert(i);
        if numbers[first] != numbers[i] {
            return Err(DataError::Split(format!(
                "patient '{patient}' spans folds {} ({}) and {} ({})",
                numbers[first], dataset.samples[first].id, numbers[i], sample.id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod leave_one_group_out_tests {
    use std::path::PathBuf;

    use super::*;
    use crate::{ImageSource, Sample};

    fn sample(i: usize, center: Option<&str>, patient: &str) -> Sample {
        let path = PathBuf::from(format!("{i}.png"));
        Sample {
            id: format!("{i}.png"),
            source: ImageSource::File(path.clone()),
            path,
            label: i % 2,
            patient_id: Some(patient.into()),
            center: center.map(str::to_string),
            origin: None,
            split: None,
            mask_paths: Vec::new(),
            metadata: Default::default(),
        }
    }

    fn dataset(samples: Vec<Sample>) -> Dataset {
        Dataset {
            class_names: vec!["a".into(), "b".into()],
            samples,
        }
    }

    /// Each fold tests exactly one centre (sorted by name) and trains on all the others.
    #[test]
    fn each_fold_holds_out_one_center() {
        let centers = ["toshiba", "ge", "toshiba", "ge", "u-sys", "ge"];
        let data = dataset(
            centers
                .iter()
                .enumerate()
                .map(|(i, c)| sample(i, Some(c), &format!("p{i}")))
                .collect(),
        );
        let (folds, names) = leave_one_group_out(&data, HeldOutGroup::Center).unwrap();
        assert_eq!(names, ["ge", "toshiba", "u-sys"]);
        assert_eq!(folds[0].test, [1, 3, 5]);
        assert_eq!(folds[0].train, [0, 2, 4]);
        assert_eq!(folds[1].test, [0, 2]);
        assert_eq!(folds[2].test, [4]);
        for fold in &folds {
            assert_eq!(fold.train.len() + fold.test.len(), centers.len());
        }
    }

    #[test]
    fn missing_groups_single_groups_and_straddling_patients_are_refused() {
        let data = dataset(vec![sample(0, Some("ge"), "p0"), sample(1, None, "p1")]);
        let err = leave_one_group_out(&data, HeldOutGroup::Center).unwrap_err();
        assert!(
            err.to_string().contains("sample 1.png has no center"),
            "{err}"
        );
        let err = leave_one_group_out(&data, HeldOutGroup::Source).unwrap_err();
        assert!(err.to_string().contains("has no source"), "{err}");
        let data = dataset(vec![
            sample(0, Some("ge"), "p0"),
            sample(1, Some("ge"), "p1"),
        ]);
        let err = leave_one_group_out(&data, HeldOutGroup::Center).unwrap_err();
        assert!(err.to_string().contains("at least two centers"), "{err}");
        let data = dataset(vec![
            sample(0, Some("ge"), "p0"),
            sample(1, Some("toshiba"), "p0"),
        ]);
        let err = leave_one_group_out(&data, HeldOutGroup::Center).unwrap_err();
        assert!(
            err.to_string().contains("patient p0 has images in centers"),
            "{err}"
        );
    }
}
