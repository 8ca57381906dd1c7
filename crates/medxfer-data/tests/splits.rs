//! Stratified k-fold, hold-out and ratio splits: coverage, no overlap, class proportions,
//! group integrity and determinism per seed.

use std::collections::{HashMap, HashSet};

use medxfer_data::split::{stratified_holdout, stratified_kfold, stratified_split};

/// 100 samples: 60 of class 0, 30 of class 1, 10 of class 2, in a scrambled order.
fn labels() -> Vec<usize> {
    (0..100)
        .map(|i| match (i * 37) % 100 {
            0..=59 => 0,
            60..=89 => 1,
            _ => 2,
        })
        .collect()
}

fn count(indices: &[usize], labels: &[usize], class: usize) -> usize {
    indices.iter().filter(|&&i| labels[i] == class).count()
}

#[test]
fn kfold_covers_everything_once_with_exact_stratification() {
    let labels = labels();
    let folds = stratified_kfold(&labels, None, 5, 42).unwrap();
    assert_eq!(folds.len(), 5);
    let mut seen = vec![0; labels.len()];
    for fold in &folds {
        assert_eq!(fold.train.len() + fold.test.len(), labels.len());
        let train: HashSet<usize> = fold.train.iter().copied().collect();
        assert!(
            fold.test.iter().all(|i| !train.contains(i)),
            "train/test overlap"
        );
        for &i in &fold.test {
            seen[i] += 1;
        }
        // 60/30/10 split five ways: exactly 12/6/2 per test fold.
        assert_eq!(count(&fold.test, &labels, 0), 12);
        assert_eq!(count(&fold.test, &labels, 1), 6);
        assert_eq!(count(&fold.test, &labels, 2), 2);
        assert!(fold.test.windows(2).all(|w| w[0] < w[1]), "sorted");
    }
    assert!(
        seen.iter().all(|&c| c == 1),
        "each sample in exactly one test fold"
    );
}

#[test]
fn kfold_uneven_counts_stay_within_one() {
    let labels: Vec<usize> = (0..47).map(|i| usize::from(i % 3 == 0)).collect();
    let folds = stratified_kfold(&labels, None, 5, 7).unwrap();
    let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
    assert!(
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
        "{sizes:?}"
    );
    for class in 0..2 {
        let per_fold: Vec<usize> = folds
            .iter()
            .map(|f| count(&f.test, &labels, class))
            .collect();
        assert!(
            per_fold.iter().max().unwrap() - per_fold.iter().min().unwrap() <= 1,
            "{per_fold:?}"
        );
    }
}

#[test]
fn kfold_is_deterministic_per_seed_and_shuffled() {
    let labels = labels();
    let a = stratified_kfold(&labels, None, 5, 1).unwrap();
    let b = stratified_kfold(&labels, None, 5, 1).unwrap();
    let c = stratified_kfold(&labels, None, 5, 2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Shuffled: the first test fold is not simply the first indices of each class.
    let firsts: Vec<usize> = (0..100).filter(|&i| labels[i] == 0).take(12).collect();
    assert_ne!(
        a[0].test
            .iter()
            .copied()
            .filter(|&i| labels[i] == 0)
            .collect::<Vec<_>>(),
        firsts
    );
}

fn patient_groups(n: usize) -> Vec<String> {
    // Patients with 1 to 4 images each.
    let mut groups = Vec::with_capacity(n);
    let mut patient = 0;
    while groups.len() < n {
        for _ in 0..(patient % 4 + 1) {
            if groups.len() < n {
                groups.push(format!("p{patient}"));
            }
        }
        patient += 1;
    }
    groups
}

/// Labels constant within a patient (as in real data).
fn grouped_labels(groups: &[String]) -> Vec<usize> {
    groups
        .iter()
        .map(|g| {
            let id: usize = g[1..].parse().unwrap();
            match id % 5 {
                0..=2 => 0,
                3 => 1,
                _ => 2,
            }
        })
        .collect()
}

#[test]
fn grouped_kfold_keeps_patients_together_and_balances_classes() {
    let groups = patient_groups(200);
    let labels = grouped_labels(&groups);
    let folds = stratified_kfold(&labels, Some(&groups), 5, 3).unwrap();
    let mut fold_of_group: HashMap<&str, usize> = HashMap::new();
    let mut seen = vec![0; labels.len()];
    for (f, fold) in folds.iter().enumerate() {
        for &i in &fold.test {
            seen[i] += 1;
            let previous = fold_of_group.insert(groups[i].as_str(), f);
            assert!(
                previous.is_none() || previous == Some(f),
                "patient {} in two folds",
                groups[i]
            );
        }
        let test_groups: HashSet<&str> = fold.test.iter().map(|&i| groups[i].as_str()).collect();
        assert!(
            fold.train
                .iter()
                .all(|&i| !test_groups.contains(groups[i].as_str()))
        );
    }
    assert!(seen.iter().all(|&c| c == 1));
    for class in 0..3 {
        let total = count(&(0..labels.len()).collect::<Vec<_>>(), &labels, class) as f64;
        for fold in &folds {
            let share = count(&fold.test, &labels, class) as f64 / total;
            assert!((share - 0.2).abs() < 0.06, "class {class} share {share}");
        }
    }
    assert_eq!(
        folds,
        stratified_kfold(&labels, Some(&groups), 5, 3).unwrap()
    );
}

#[test]
fn kfold_rejects_bad_arguments() {
    let labels = vec![0, 1, 0, 1];
    assert!(stratified_kfold(&labels, None, 1, 0).is_err());
    assert!(stratified_kfold(&labels, None, 5, 0).is_err());
    let groups = vec!["a".to_string(), "a".into(), "b".into(), "b".into()];
    let err = stratified_kfold(&labels, Some(&groups), 3, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 groups"), "{err}");
    assert!(stratified_kfold(&labels, Some(&groups[..3]), 2, 0).is_err());
}

#[test]
fn holdout_takes_fraction_per_class_from_given_indices() {
    let labels = labels();
    let fold = &stratified_kfold(&labels, None, 5, 0).unwrap()[0];
    let (kept, held) = stratified_holdout(&fold.train, &labels, None, 0.15, 9);
    assert_eq!(kept.len() + held.len(), fold.train.len());
    let train: HashSet<usize> = fold.train.iter().copied().collect();
    assert!(
        kept.iter().chain(&held).all(|i| train.contains(i)),
        "only from the given indices"
    );
    assert!(kept.iter().all(|i| !held.contains(i)));
    // 80 training samples (48/24/8): 12 held out, 7.2/3.6/1.2 -> 7/4/1.
    assert_eq!(held.len(), 12);
    assert_eq!(count(&held, &labels, 0), 7);
    assert_eq!(count(&held, &labels, 1), 4);
    assert_eq!(count(&held, &labels, 2), 1);
    assert_eq!(
        (kept.clone(), held.clone()),
        stratified_holdout(&fold.train, &labels, None, 0.15, 9)
    );
    assert_ne!(
        held,
        stratified_holdout(&fold.train, &labels, None, 0.15, 10).1
    );

    let (all, none) = stratified_holdout(&fold.train, &labels, None, 0.0, 1);
    assert_eq!((all.len(), none.len()), (80, 0));
}

#[test]
fn grouped_holdout_never_splits_a_patient() {
    let groups = patient_groups(150);
    let labels = grouped_labels(&groups);
    let indices: Vec<usize> = (0..150).collect();
    let (kept, held) = stratified_holdout(&indices, &labels, Some(&groups), 0.2, 4);
    let held_groups: HashSet<&str> = held.iter().map(|&i| groups[i].as_str()).collect();
    assert!(
        kept.iter()
            .all(|&i| !held_groups.contains(groups[i].as_str()))
    );
    let share = held.len() as f64 / 150.0;
    assert!((share - 0.2).abs() < 0.05, "held share {share}");
}

#[test]
fn ratio_split_is_stratified_and_disjoint() {
    let labels = labels();
    let split = stratified_split(&labels, None, [0.7, 0.15, 0.15], 5).unwrap();
    assert_eq!(split.train.len() + split.val.len() + split.test.len(), 100);
    let mut all: Vec<usize> = split
        .train
        .iter()
        .chain(&split.val)
        .chain(&split.test)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert_eq!(split.test.len(), 15);
    assert_eq!(split.val.len(), 15);
    assert_eq!(count(&split.test, &labels, 0), 9);
    // 9 / 4.5 / 1.5: the odd sample goes to class 1 or 2.
    assert!([(4, 2), (5, 1)].contains(&(
        count(&split.test, &labels, 1),
        count(&split.test, &labels, 2)
    )));
    assert_eq!(
        split,
        stratified_split(&labels, None, [7.0, 1.5, 1.5], 5).unwrap(),
        "ratios normalised"
    );
    assert!(stratified_split(&labels, None, [0.5, -0.1, 0.6], 5).is_err());

    let groups = patient_groups(100);
    let grouped_labels = grouped_labels(&groups);
    let split = stratified_split(&grouped_labels, Some(&groups), [0.6, 0.2, 0.2], 5).unwrap();
    let part_of = |i: usize| {
        if split.train.contains(&i) {
            0
        } else if split.val.contains(&i) {
            1
        } else {
            2
        }
    };
    let mut part_of_group: HashMap<&str, usize> = HashMap::new();
    for (i, group) in groups.iter().enumerate() {
        let previous = part_of_group.insert(group.as_str(), part_of(i));
        assert!(
            previous.is_none() || previous == Some(part_of(i)),
            "patient {group} split"
        );
    }
}
