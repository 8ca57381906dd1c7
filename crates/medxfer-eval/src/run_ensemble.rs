//! An ensemble of run folders: backbone, recipe or baseline ensembles (issue 21's levers).
//! Each image's test probabilities are averaged over the members' pooled test predictions (the
//! out-of-fold prediction of a cross-validated run, the fold ensemble of an external
//! validation), with optional weights. The result is a predictions file like any run's, so
//! `evaluate`, `compare` and `table` read it; `compare` against a member gives the paired test.
//!
//! The members must test the same images with the same labels and classes. Validation rows are
//! not carried over (a member's validation rows belong to its own folds), so the ensemble has
//! no temperature scaling of its own.

use std::path::PathBuf;

use crate::EvalError;
use crate::predictions::{PredictionRow, Predictions, Split, TaskInfo};
use crate::run_comparison::{RunTest, check_same_test_images, read_run};

/// One run folder of an ensemble and its weight (any positive number; weights are normalised).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub dir: PathBuf,
    pub weight: f64,
}

/// The averaged predictions and what they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnsemble {
    pub task: TaskInfo,
    pub predictions: Predictions,
    /// Every member's images are out-of-fold predictions over the same folds, so `fold` keeps
    /// its meaning and per-fold metrics apply; otherwise every row is fold 0.
    pub folds_agree: bool,
}

/// Average the members' test predictions image by image (see the module documentation).
pub fn ensemble_runs(members: &[Member]) -> Result<RunEnsemble, EvalError> {
    if members.len() < 2 {
        return Err(EvalError::InvalidArgument(format!(
            "an ensemble needs at least two run folders, got {}",
            members.len()
        )));
    }
    if let Some(bad) = members
        .iter()
        .find(|m| !(m.weight > 0.0 && m.weight.is_finite()))
    {
        return Err(EvalError::InvalidArgument(format!(
            "{}: weight {} must be a positive number",
            bad.dir.display(),
            bad.weight
        )));
    }
    let runs = members
        .iter()
        .map(|m| read_run(&m.dir))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &runs[0];
    for (member, run) in members.iter().zip(&runs).skip(1) {
        check_same_test_images(first, &members[0].dir, run, &member.dir)?;
    }
    let total: f64 = members.iter().map(|m| m.weight).sum();
    let folds_agree = runs.iter().all(|run| !run.ensemble)
        && first
            .rows
            .iter()
            .all(|(id, row)| runs.iter().all(|run| run.rows[id].fold == row.fold));
    let rows = first
        .rows
        .iter()
        .map(|(id, row)| PredictionRow {
            fold: if folds_agree { row.fold } else { 0 },
            split: Split::Test,
            scores: weighted_mean(members, &runs, id, total),
            ..row.clone()
        })
        .collect();
    let predictions = Predictions {
        class_names: first.class_names.clone(),
        rows,
    };
    predictions.validate()?;
    Ok(RunEnsemble {
        task: first.task.clone(),
        predictions,
        folds_agree,
    })
}

fn weighted_mean(members: &[Member], runs: &[RunTest], id: &str, total: f64) -> Vec<f64> {
    let mut scores = vec![0.0; runs[0].class_names.len()];
    for (member, run) in members.iter().zip(runs) {
        for (sum, s) in scores.iter_mut().zip(&run.rows[id].scores) {
            *sum += member.weight / total * s;
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::report::{PREDICTIONS_FILE, TASK_FILE};

    const TASK: &str = r#"{"class_names": ["benign", "malignant"], "positive_class": "malignant"}"#;

    fn run(dir: &Path, name: &str, rows: &[(&str, usize, &str, f64)]) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join(TASK_FILE), TASK).unwrap();
        let mut csv = String::from("image_id,fold,split,label,score_benign,score_malignant\n");
        for (id, fold, label, p) in rows {
            csv += &format!("{id},{fold},test,{label},{},{p}\n", 1.0 - p);
        }
        csv += "v.png,0,val,benign,0.5,0.5\n";
        std::fs::write(path.join(PREDICTIONS_FILE), csv).unwrap();
        path
    }

    fn member(dir: PathBuf, weight: f64) -> Member {
        Member { dir, weight }
    }

    #[test]
    fn weighted_mean_of_each_images_probabilities_over_the_same_folds() {
        let dir = tempfile::tempdir().unwrap();
        let a = run(
            dir.path(),
            "a",
            &[("x", 0, "benign", 0.2), ("y", 1, "malignant", 0.6)],
        );
        let b = run(
            dir.path(),
            "b",
            &[("y", 1, "malignant", 0.9), ("x", 0, "benign", 0.5)],
        );
        let e = ensemble_runs(&[member(a, 1.0), member(b, 2.0)]).unwrap();
        assert!(e.folds_agree);
        let rows = &e.predictions.rows;
        assert_eq!(rows.len(), 2, "validation rows are not carried over");
        let x = rows.iter().find(|r| r.image_id == "x").unwrap();
        // (1 * 0.2 + 2 * 0.5) / 3 = 0.4
        assert!((x.scores[1] - 0.4).abs() < 1e-12, "{:?}", x.scores);
        assert!((x.scores[0] - 0.6).abs() < 1e-12, "{:?}", x.scores);
        assert_eq!((x.fold, x.split), (0, Split::Test));
        let y = rows.iter().find(|r| r.image_id == "y").unwrap();
        assert!((y.scores[1] - 0.8).abs() < 1e-12, "{:?}", y.scores);
        assert_eq!(y.fold, 1);
    }

    #[test]
    fn different_folds_or_an_external_fold_ensemble_drop_the_fold_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let a = run(
            dir.path(),
            "a",
            &[("x", 0, "benign", 0.2), ("y", 1, "malignant", 0.6)],
        );
        // An external validation: every image scored by folds 0 and 1.
        let b = run(
            dir.path(),
            "b",
            &[
                ("x", 0, "benign", 0.4),
                ("x", 1, "benign", 0.6),
                ("y", 0, "malignant", 0.7),
                ("y", 1, "malignant", 0.9),
            ],
        );
        let e = ensemble_runs(&[member(a, 1.0), member(b, 1.0)]).unwrap();
        assert!(!e.folds_agree);
        let x = e
            .predictions
            .rows
            .iter()
            .find(|r| r.image_id == "x")
            .unwrap();
        // b's fold ensemble of x is 0.5; the mean with a's 0.2 is 0.35.
        assert!((x.scores[1] - 0.35).abs() < 1e-12, "{:?}", x.scores);
        assert!(e.predictions.rows.iter().all(|r| r.fold == 0));
    }

    #[test]
    fn members_that_differ_in_images_labels_classes_or_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = run(
            dir.path(),
            "a",
            &[("x", 0, "benign", 0.2), ("y", 1, "malignant", 0.6)],
        );
        let fewer = run(dir.path(), "fewer", &[("x", 0, "benign", 0.2)]);
        let relabelled = run(
            dir.path(),
            "relabelled",
            &[("x", 0, "malignant", 0.2), ("y", 1, "malignant", 0.6)],
        );
        let message = |members: &[Member]| ensemble_runs(members).unwrap_err().to_string();
        let m = message(&[member(a.clone(), 1.0), member(fewer.clone(), 1.0)]);
        assert!(m.contains("fewer") && m.contains("\"y\""), "{m}");
        let m = message(&[member(fewer, 1.0), member(a.clone(), 1.0)]);
        assert!(
            m.contains("\"y\"") && m.contains("not a test image of"),
            "{m}"
        );
        let m = message(&[member(a.clone(), 1.0), member(relabelled, 1.0)]);
        assert!(m.contains("relabelled") && m.contains("labelled"), "{m}");
        let m = message(&[member(a.clone(), 1.0), member(a.clone(), 0.0)]);
        assert!(m.contains("weight 0"), "{m}");
        let m = message(&[member(a.clone(), 1.0)]);
        assert!(m.contains("at least two"), "{m}");
        let three = dir.path().join("three");
        std::fs::create_dir_all(&three).unwrap();
        std::fs::write(
            three.join(TASK_FILE),
            r#"{"class_names": ["a", "b", "c"], "positive_class": null}"#,
        )
        .unwrap();
        std::fs::copy(a.join(PREDICTIONS_FILE), three.join(PREDICTIONS_FILE)).unwrap();
        let m = message(&[member(a, 1.0), member(three, 1.0)]);
        assert!(m.contains("three"), "{m}");
    }
}
