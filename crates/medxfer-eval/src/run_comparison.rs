//! Two run folders on the same test images: is one model better? `medxfer compare` calls
//! [`compare_runs`].
//!
//! Test rows are paired by image id, so the two runs may differ in anything but their test
//! images and labels (strategy, backbone, seed). Reported:
//! - AUC of each and their difference: paired DeLong (binary), or a paired stratified
//!   bootstrap of the one-vs-rest macro AUC difference (multi-class; 2,000 resamples, seed 0);
//! - balanced accuracy and MCC of each, and an exact McNemar test on per-image correctness
//!   (the decision rule of `medxfer evaluate`);
//! - when both runs put every image in the same fold: per-fold AUCs and a paired t-test on
//!   them (what "mean AUC over folds" comparisons in papers test).
//!
//! An external validation's folder (every fold model scored every image) enters as its fold
//! ensemble: per image, the mean of the models' probabilities, as `medxfer evaluate` pools it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::EvalError;
use crate::auc::roc_auc_ovr_macro;
use crate::bootstrap::{BootstrapConfig, CiMethod, stratified_bootstrap_ci};
use crate::classification::ClassificationMetrics;
use crate::confusion::ConfusionMatrix;
use crate::delong::delong_paired;
use crate::mcnemar::{McNemarResult, mcnemar_from_correctness};
use crate::paired_t::paired_t_test;
use crate::predictions::{PredictionRow, Predictions, Split, TaskInfo};
use crate::report::{Cases, PREDICTIONS_FILE, PooledOver, TASK_FILE, rows_to_pool};

const LEVEL: f64 = 0.95;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AucDifference {
    pub auc_a: f64,
    pub auc_b: f64,
    /// a - b.
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub ci_level: f64,
    /// Two-sided p of "equal AUCs" (DeLong); None for the bootstrap interval.
    pub p_value: Option<f64>,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoldAucs {
    pub fold: usize,
    pub auc_a: f64,
    pub auc_b: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PerFoldComparison {
    pub folds: Vec<FoldAucs>,
    pub mean_a: f64,
    pub mean_b: f64,
    /// Paired t-test of the per-fold AUCs (None with fewer than two folds or equal differences).
    pub paired_t_p_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunComparison {
    pub run_a: String,
    pub run_b: String,
    pub class_names: Vec<String>,
    pub positive_class: Option<String>,
    /// Paired test images.
    pub n: usize,
    pub auc: AucDifference,
    pub balanced_accuracy_a: f64,
    pub balanced_accuracy_b: f64,
    pub mcc_a: f64,
    pub mcc_b: f64,
    pub mcnemar: McNemarResult,
    pub per_fold: Option<PerFoldComparison>,
}

pub(crate) struct RunTest {
    pub(crate) task: TaskInfo,
    pub(crate) class_names: Vec<String>,
    /// Test rows by image id.
    pub(crate) rows: BTreeMap<String, PredictionRow>,
    /// The rows are an external validation's fold ensemble: no folds to compare.
    pub(crate) ensemble: bool,
}

pub(crate) fn read_run(dir: &Path) -> Result<RunTest, EvalError> {
    let task = TaskInfo::read_json(&dir.join(TASK_FILE))?;
    let path = dir.join(PREDICTIONS_FILE);
    let predictions = Predictions::read_csv(&path)?;
    predictions
        .validate()
        .map_err(|e| EvalError::bad_file(&path, e.to_string()))?;
    let test: Vec<&PredictionRow> = predictions
        .rows
        .iter()
        .filter(|r| r.split == Split::Test)
        .collect();
    // An external validation's folder scores each image with every fold model: pair the fold
    // ensembles' predictions, as `evaluate` pools them.
    let (pooled, over) =
        rows_to_pool(&test).map_err(|e| EvalError::bad_file(&path, e.to_string()))?;
    let mut rows = BTreeMap::new();
    for row in pooled {
        let id = row.image_id.clone();
        if rows.insert(id.clone(), row).is_some() {
            return Err(EvalError::bad_file(
                &path,
                format!("image {id:?} is a test image twice; pairing needs one test row per image"),
            ));
        }
    }
    if rows.is_empty() {
        return Err(EvalError::bad_file(&path, "no rows with split = test"));
    }
    Ok(RunTest {
        task,
        class_names: predictions.class_names,
        rows,
        ensemble: over != PooledOver::OutOfFold,
    })
}

/// Two runs test the same images with the same labels, classes and positive class; the first
/// difference is an error naming `dir_b`'s file (`compare`, `ensemble`).
pub(crate) fn check_same_test_images(
    a: &RunTest,
    dir_a: &Path,
    b: &RunTest,
    dir_b: &Path,
) -> Result<(), EvalError> {
    let predictions_b = dir_b.join(PREDICTIONS_FILE);
    if a.class_names != b.class_names || a.task.positive_class != b.task.positive_class {
        return Err(EvalError::bad_file(
            &dir_b.join(TASK_FILE),
            format!(
                "classes {:?} (positive {:?}) differ from {:?} (positive {:?}) in {}",
                b.class_names,
                b.task.positive_class,
                a.class_names,
                a.task.positive_class,
                dir_a.display()
            ),
        ));
    }
    for (id, row_a) in &a.rows {
        match b.rows.get(id) {
            None => {
                return Err(EvalError::bad_file(
                    &predictions_b,
                    format!(
                        "test image {id:?} of {} is not a test image here: the runs must test the same images",
                        dir_a.display()
                    ),
                ));
            }
            Some(row_b) if row_b.label != row_a.label => {
                return Err(EvalError::bad_file(
                    &predictions_b,
                    format!(
                        "test image {id:?} is labelled {:?} here but {:?} in {}",
                        row_b.label,
                        row_a.label,
                        dir_a.display()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(id) = b.rows.keys().find(|id| !a.rows.contains_key(*id)) {
        return Err(EvalError::bad_file(
            &predictions_b,
            format!(
                "test image {id:?} is not a test image of {}: the runs must test the same images",
                dir_a.display()
            ),
        ));
    }
    Ok(())
}

/// Compare the test predictions of two run folders (see the module documentation).
pub fn compare_runs(dir_a: &Path, dir_b: &Path) -> Result<RunComparison, EvalError> {
    let a = read_run(dir_a)?;
    let b = read_run(dir_b)?;
    check_same_test_images(&a, dir_a, &b, dir_b)?;

    let k = a.class_names.len();
    let positive = a.task.positive_index().filter(|_| k == 2);
    let ids: Vec<&String> = a.rows.keys().collect();
    let cases = |run: &RunTest| {
        let rows: Vec<&PredictionRow> = ids.iter().map(|id| &run.rows[*id]).collect();
        Cases::new(&rows, &a.class_names, positive)
    };
    let (cases_a, cases_b) = (cases(&a), cases(&b));
    // Labels were checked equal image by image above.
    let labels = &cases_a.labels;
    let metrics = |cases: &Cases| -> Result<ClassificationMetrics, EvalError> {
        let cm = ConfusionMatrix::new(labels, &cases.predicted, k)?;
        Ok(ClassificationMetrics::from_confusion(&cm, &a.class_names))
    };
    let (metrics_a, metrics_b) = (metrics(&cases_a)?, metrics(&cases_b)?);
    let correct = |cases: &Cases| -> Vec<bool> {
        cases
            .predicted
            .iter()
            .zip(labels)
            .map(|(p, l)| p == l)
            .collect()
    };
    let mcnemar = mcnemar_from_correctness(&correct(&cases_a), &correct(&cases_b))?;
    let (scores_a, scores_b) = (&cases_a.scores, &cases_b.scores);

    let auc = match positive {
        Some(p) => {
            let (flags, column_a) = cases_a.positive_flags_and_scores(p, k);
            let (_, column_b) = cases_b.positive_flags_and_scores(p, k);
            let c = delong_paired(&flags, &column_a, &column_b, LEVEL)?;
            AucDifference {
                auc_a: c.auc_a,
                auc_b: c.auc_b,
                difference: c.difference,
                ci_low: c.ci_low,
                ci_high: c.ci_high,
                ci_level: c.ci_level,
                p_value: Some(c.p_value),
                method: c.method,
            }
        }
        None => {
            let subset = |s: &[f64], cases: &[usize]| -> (Vec<usize>, Vec<f64>) {
                let y = cases.iter().map(|&i| labels[i]).collect();
                let x = cases
                    .iter()
                    .flat_map(|&i| s[i * k..(i + 1) * k].iter().copied())
                    .collect();
                (y, x)
            };
            let difference = |cases: &[usize]| -> Result<f64, EvalError> {
                let (y, sa) = subset(scores_a, cases);
                let (_, sb) = subset(scores_b, cases);
                Ok(roc_auc_ovr_macro(&y, &sa, k)? - roc_auc_ovr_macro(&y, &sb, k)?)
            };
            let config = BootstrapConfig {
                n_resamples: 2000,
                level: LEVEL,
                seed: 0,
                method: CiMethod::Percentile,
            };
            let ci = stratified_bootstrap_ci(labels, &config, difference)?;
            let auc_a = roc_auc_ovr_macro(labels, scores_a, k)?;
            let auc_b = roc_auc_ovr_macro(labels, scores_b, k)?;
            AucDifference {
                auc_a,
                auc_b,
                difference: auc_a - auc_b,
                ci_low: ci.ci_low,
                ci_high: ci.ci_high,
                ci_level: LEVEL,
                p_value: None,
                method: "paired stratified bootstrap (one-vs-rest macro AUC)".into(),
            }
        }
    };

    Ok(RunComparison {
        run_a: dir_a.display().to_string(),
        run_b: dir_b.display().to_string(),
        class_names: a.class_names.clone(),
        positive_class: a.task.positive_class.clone(),
        n: ids.len(),
        auc,
        balanced_accuracy_a: metrics_a.balanced_accuracy,
        balanced_accuracy_b: metrics_b.balanced_accuracy,
        mcc_a: metrics_a.mcc,
        mcc_b: metrics_b.mcc,
        mcnemar,
        per_fold: if a.ensemble || b.ensemble {
            None
        } else {
            per_fold(&a, &b, &ids, positive)
        },
    })
}

/// Per-fold AUCs when both runs assign every image to the same fold.
fn per_fold(
    a: &RunTest,
    b: &RunTest,
    ids: &[&String],
    positive: Option<usize>,
) -> Option<PerFoldComparison> {
    if ids.iter().any(|id| a.rows[*id].fold != b.rows[*id].fold) {
        return None;
    }
    let mut members: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for id in ids {
        members.entry(a.rows[*id].fold).or_default().push(id);
    }
    let k = a.class_names.len();
    let auc_of = |run: &RunTest, fold_ids: &[&String]| -> Option<f64> {
        let rows: Vec<&PredictionRow> = fold_ids.iter().map(|id| &run.rows[*id]).collect();
        Cases::new(&rows, &a.class_names, positive).auc(positive, k)
    };
    let mut folds = Vec::new();
    for (&fold, fold_ids) in &members {
        folds.push(FoldAucs {
            fold,
            auc_a: auc_of(a, fold_ids)?,
            auc_b: auc_of(b, fold_ids)?,
        });
    }
    let column = |get: fn(&FoldAucs) -> f64| -> Vec<f64> { folds.iter().map(get).collect() };
    let (per_a, per_b) = (column(|f| f.auc_a), column(|f| f.auc_b));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Some(PerFoldComparison {
        mean_a: mean(&per_a),
        mean_b: mean(&per_b),
        paired_t_p_value: paired_t_test(&per_a, &per_b)
            .ok()
            .map(|t| t.p_value)
            .filter(|p| p.is_finite()),
        folds,
    })
}

/// Four decimals, or scientific notation where that would print 0.0000.
fn format_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

impl fmt::Display for RunComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "a: {}", self.run_a)?;
        writeln!(f, "b: {}", self.run_b)?;
        writeln!(f, "{} paired test images", self.n)?;
        let auc = &self.auc;
        writeln!(f, "{:<22} {:>8} {:>8} {:>9}", "", "a", "b", "a - b")?;
        writeln!(
            f,
            "{:<22} {:>8.4} {:>8.4} {:>9.4}  {:.0}% CI [{:.4}, {:.4}]{}  ({})",
            if self.positive_class.is_some() {
                "AUC (pooled)"
            } else {
                "macro AUC (pooled)"
            },
            auc.auc_a,
            auc.auc_b,
            auc.difference,
            auc.ci_level * 100.0,
            auc.ci_low,
            auc.ci_high,
            auc.p_value
                .map(|p| format!("  p = {}", format_p(p)))
                .unwrap_or_default(),
            auc.method
        )?;
        writeln!(
            f,
            "{:<22} {:>8.4} {:>8.4} {:>9.4}",
            "balanced accuracy",
            self.balanced_accuracy_a,
            self.balanced_accuracy_b,
            self.balanced_accuracy_a - self.balanced_accuracy_b
        )?;
        writeln!(
            f,
            "{:<22} {:>8.4} {:>8.4} {:>9.4}",
            "MCC",
            self.mcc_a,
            self.mcc_b,
            self.mcc_a - self.mcc_b
        )?;
        writeln!(
            f,
            "McNemar (exact): only a right {}, only b right {}, p = {}",
            self.mcnemar.only_a_correct,
            self.mcnemar.only_b_correct,
            format_p(self.mcnemar.p_value)
        )?;
        if let Some(per_fold) = &self.per_fold {
            let list = |get: fn(&FoldAucs) -> f64| -> String {
                per_fold
                    .folds
                    .iter()
                    .map(|fold| format!("{:.3}", get(fold)))
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            writeln!(
                f,
                "per-fold AUC a: {} (mean {:.4})",
                list(|x| x.auc_a),
                per_fold.mean_a
            )?;
            writeln!(
                f,
                "per-fold AUC b: {} (mean {:.4})",
                list(|x| x.auc_b),
                per_fold.mean_b
            )?;
            if let Some(p) = per_fold.paired_t_p_value {
                writeln!(f, "paired t-test over folds: p = {}", format_p(p))?;
            }
        } else {
            writeln!(f, "the runs' folds differ: no per-fold comparison")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictions::TaskKind;

    type Row = (String, usize, String, Vec<f64>);

    fn write_run(dir: &Path, classes: &[&str], positive: Option<&str>, rows: &[Row]) {
        std::fs::create_dir_all(dir).unwrap();
        let class_names: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
        TaskInfo {
            class_names: class_names.clone(),
            positive_class: positive.map(str::to_string),
            task: TaskKind::Classification,
        }
        .write_json(&dir.join(TASK_FILE))
        .unwrap();
        Predictions {
            class_names,
            rows: rows
                .iter()
                .map(|(id, fold, label, scores)| PredictionRow {
                    image_id: id.clone(),
                    fold: *fold,
                    split: Split::Test,
                    label: label.clone(),
                    source: None,
                    center: None,
                    scores: scores.clone(),
                })
                .collect(),
        }
        .write_csv(&dir.join(PREDICTIONS_FILE))
        .unwrap();
    }

    /// Ten binary cases; run a ranks perfectly, run b with two swaps. Rows of b are written in
    /// another order, which pairing by id must not mind.
    fn binary_pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let labels = [
            "neg", "neg", "neg", "neg", "neg", "pos", "pos", "pos", "pos", "pos",
        ];
        let a_scores = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95];
        let b_scores = [0.1, 0.65, 0.3, 0.35, 0.4, 0.6, 0.2, 0.8, 0.9, 0.95];
        let rows = |scores: &[f64]| -> Vec<Row> {
            (0..10)
                .map(|i| {
                    let label = labels[i].to_string();
                    (
                        format!("img{i}"),
                        i % 2,
                        label,
                        vec![1.0 - scores[i], scores[i]],
                    )
                })
                .collect()
        };
        let (run_a, run_b) = (dir.join("a"), dir.join("b"));
        let mut b_rows = rows(&b_scores);
        b_rows.reverse();
        write_run(&run_a, &["neg", "pos"], Some("pos"), &rows(&a_scores));
        write_run(&run_b, &["neg", "pos"], Some("pos"), &b_rows);
        (run_a, run_b)
    }

    #[test]
    fn binary_runs_are_paired_by_image_and_compared_with_delong() {
        let dir = tempfile::tempdir().unwrap();
        let (run_a, run_b) = binary_pair(dir.path());
        let c = compare_runs(&run_a, &run_b).unwrap();
        assert_eq!(c.n, 10);
        // b by hand, 25 positive-negative pairs: img5 (pos, 0.6) loses to img1 (neg, 0.65);
        // img6 (pos, 0.2) loses to 0.3, 0.35, 0.4 and 0.65; 20 of 25 concordant -> AUC 0.8.
        assert!((c.auc.auc_a - 1.0).abs() < 1e-12);
        assert!((c.auc.auc_b - 0.8).abs() < 1e-12, "{}", c.auc.auc_b);
        assert!((c.auc.difference - 0.2).abs() < 1e-12);
        assert!(c.auc.p_value.is_some());
        // Decisions at 0.5: a all right; b wrong on img1 and img6.
        assert_eq!(c.mcnemar.only_a_correct, 2);
        assert_eq!(c.mcnemar.only_b_correct, 0);
        assert!((c.balanced_accuracy_a - 1.0).abs() < 1e-12);
        assert!((c.balanced_accuracy_b - 0.8).abs() < 1e-12);
        let per_fold = c.per_fold.expect("same folds");
        assert_eq!(per_fold.folds.len(), 2);
        assert!((per_fold.mean_a - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_external_validation_enters_as_its_fold_ensemble() {
        let dir = tempfile::tempdir().unwrap();
        let (run_a, run_b) = binary_pair(dir.path());
        let text = std::fs::read_to_string(run_b.join(PREDICTIONS_FILE)).unwrap();
        let mut external: Vec<Row> = Vec::new();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let p: f64 = cells[5].parse().unwrap();
            for (model, shift) in [(0, -0.01), (1, 0.01)] {
                let q = p + shift;
                external.push((cells[0].into(), model, cells[3].into(), vec![1.0 - q, q]));
            }
        }
        let run_e = dir.path().join("external");
        write_run(&run_e, &["neg", "pos"], Some("pos"), &external);
        let c = compare_runs(&run_a, &run_e).unwrap();
        assert_eq!(c.n, 10);
        assert!((c.auc.auc_b - 0.8).abs() < 1e-12, "{}", c.auc.auc_b);
        assert!(c.per_fold.is_none(), "an ensemble has no folds to pair");
    }

    #[test]
    fn runs_on_different_test_images_are_refused_naming_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let (run_a, run_b) = binary_pair(dir.path());
        let text = std::fs::read_to_string(run_b.join(PREDICTIONS_FILE)).unwrap();
        std::fs::write(
            run_b.join(PREDICTIONS_FILE),
            text.replace("img3,", "img33,"),
        )
        .unwrap();
        let err = compare_runs(&run_a, &run_b).unwrap_err().to_string();
        assert!(
            err.contains("img3") && err.contains("predictions.csv"),
            "{err}"
        );
    }

    #[test]
    fn multiclass_runs_get_a_bootstrap_interval_of_the_macro_auc_difference() {
        let dir = tempfile::tempdir().unwrap();
        let classes = ["x", "y", "z"];
        let mut rows_a = Vec::new();
        let mut rows_b = Vec::new();
        for i in 0..30 {
            let label = i % 3;
            let mut good = vec![0.1; 3];
            good[label] = 0.8;
            // b is right on two thirds of the images only.
            let mut poor = vec![0.1; 3];
            poor[if i % 9 < 6 { label } else { (label + 1) % 3 }] = 0.8;
            let name = classes[label].to_string();
            rows_a.push((format!("img{i}"), i % 5, name.clone(), good));
            rows_b.push((format!("img{i}"), (i + 1) % 5, name, poor));
        }
        let (run_a, run_b) = (dir.path().join("a"), dir.path().join("b"));
        write_run(&run_a, &classes, None, &rows_a);
        write_run(&run_b, &classes, None, &rows_b);
        let c = compare_runs(&run_a, &run_b).unwrap();
        assert!((c.auc.auc_a - 1.0).abs() < 1e-12);
        assert!(c.auc.difference > 0.1);
        assert!(c.auc.ci_low > 0.0 && c.auc.ci_low <= c.auc.difference);
        assert!(c.auc.ci_high >= c.auc.difference);
        assert_eq!(c.auc.p_value, None);
        assert!(c.per_fold.is_none(), "fold assignments differ");
    }
}
