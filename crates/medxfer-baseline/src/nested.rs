//! Nested cross-validation: for each outer fold, an inner stratified (patient-grouped) k-fold
//! CV on the fold's training rows scores every point of the model's grid by mean AUC (binary:
//! the positive class's score; more classes: macro one-vs-rest AUC); the best point is refit on
//! all training rows and scores the outer test rows. An SVM's Platt calibration is fitted on
//! the chosen point's inner-CV decision values, as scikit-learn's `SVC(probability=True)`
//! calibrates on internal CV.

use medxfer_eval::auc::{roc_auc, roc_auc_ovr_macro};
use medxfer_events::{Reporter, TaskKind};
use serde::Serialize;

use crate::folds::stratified_group_kfold;
use crate::model::{FittedModel, fit_from};
use crate::params::grid;
use crate::platt::Platt;
use crate::{BaselineError, Hyperparams, Matrix, ModelKind};

/// The labelled rows nested CV runs on.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    pub x: &'a Matrix,
    /// Class index per row.
    pub labels: &'a [usize],
    pub n_classes: usize,
    /// The positive class of a binary task (its score ranks rows for AUC).
    pub positive: usize,
    /// Patient id per row; rows of a patient stay in one inner fold.
    pub groups: Option<&'a [String]>,
}

/// One outer fold: rows the model may learn from (hyperparameters included) and test rows.
#[derive(Debug, Clone)]
pub struct OuterFold {
    pub fold: usize,
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
pub struct NestedCvOptions {
    pub kind: ModelKind,
    /// Inner folds (3 by default).
    pub inner_folds: usize,
    pub seed: u64,
}

/// A grid point's inner-CV result. `mean_auc` is None when no inner fold could score it
/// (e.g. k-NN with more neighbours than inner training rows).
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScore {
    pub params: Hyperparams,
    pub mean_auc: Option<f64>,
    pub fold_aucs: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    pub fold: usize,
    pub n_train: usize,
    pub n_test: usize,
    pub chosen: Hyperparams,
    pub inner_auc: f64,
    /// Whether the refit on all training rows reached the solver's tolerance.
    pub converged: bool,
    pub candidates: Vec<CandidateScore>,
    /// SVMs: the Platt calibrations (one per machine) from inner-CV decision values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platt: Option<Vec<Platt>>,
    /// Dataset rows of the test images (the predictions file names them).
    #[serde(skip)]
    pub test: Vec<usize>,
    /// Row-major `test.len() x n_classes` probabilities.
    #[serde(skip)]
    pub test_probs: Vec<f64>,
    pub seconds: f64,
}

/// Run nested CV over `folds`; reports one line per outer fold.
pub fn nested_cv(
    data: &Labelled,
    folds: &[OuterFold],
    options: &NestedCvOptions,
    events: &dyn Reporter,
) -> Result<Vec<FoldResult>, BaselineError> {
    check_rows(data, folds)?;
    let bar = events.task(
        format!("{} nested CV", options.kind),
        folds.len(),
        TaskKind::Work,
    );
    let mut results = Vec::with_capacity(folds.len());
    for fold in folds {
        let result = outer_fold(data, fold, options)?;
        let chosen = describe(&result.chosen);
        events.note(format!(
            "fold {}: inner {}-fold CV chose {chosen} (mean AUC {:.4}) in {:.1}s",
            fold.fold, options.inner_folds, result.inner_auc, result.seconds
        ));
        if !result.converged {
            events.warn(format!(
                "fold {}: the refit with {chosen} stopped at its step limit before reaching its tolerance",
                fold.fold
            ));
        }
        bar.step(None);
        results.push(result);
    }
    Ok(results)
}

/// A short description of a grid point for progress lines.
fn describe(params: &Hyperparams) -> String {
    match params {
        Hyperparams::Knn(p) => format!("k = {}", p.k),
        Hyperparams::Logistic(p) => format!("C = {}, l1_ratio = {}", p.c, p.l1_ratio),
        Hyperparams::Svm(p) => match p.kernel {
            crate::Kernel::Linear => format!("C = {}", p.c),
            crate::Kernel::Rbf { gamma } => format!("C = {}, gamma = {gamma:.3e}", p.c),
        },
    }
}

fn check_rows(data: &Labelled, folds: &[OuterFold]) -> Result<(), BaselineError> {
    if data.labels.len() != data.x.rows() {
        return Err(BaselineError::data(format!(
            "{} feature rows but {} labels",
            data.x.rows(),
            data.labels.len()
        )));
    }
    let n = data.x.rows();
    for fold in folds {
        if let Some(&bad) = fold.train.iter().chain(&fold.test).find(|&&i| i >= n) {
            return Err(BaselineError::data(format!(
                "fold {} names row {bad} of {n}",
                fold.fold
            )));
        }
        if fold.train.is_empty() || fold.test.is_empty() {
            return Err(BaselineError::data(format!(
                "fold {} has {} training and {} test rows; both must be non-empty",
                fold.fold,
                fold.train.len(),
                fold.test.len()
            )));
        }
    }
    Ok(())
}

/// Inner-CV scores of every grid point (with the chosen point's out-of-fold scores), then the
/// refit on all training rows.
fn outer_fold(
    data: &Labelled,
    fold: &OuterFold,
    options: &NestedCvOptions,
) -> Result<FoldResult, BaselineError> {
    let started = std::time::Instant::now();
    let seed = options.seed.wrapping_add(fold.fold as u64);
    let parts = stratified_group_kfold(
        &fold.train,
        data.labels,
        data.groups,
        options.inner_folds,
        seed,
    )?;
    let points = grid(options.kind, data.x.cols());
    let inner = InnerCv::run(data, &fold.train, &parts, &points)?;
    let best = inner.best()?;
    let train_x = data.x.select(&fold.train);
    let train_y: Vec<usize> = fold.train.iter().map(|&i| data.labels[i]).collect();
    let mut model = fit_from(&points[best], &train_x, &train_y, data.n_classes, None)?;
    let platt = if model.needs_calibration() {
        let calibrations = inner.platt(best, data)?;
        model.set_platt(calibrations.clone());
        Some(calibrations)
    } else {
        None
    };
    let test_probs = model.predict_proba(&data.x.select(&fold.test))?;
    Ok(FoldResult {
        fold: fold.fold,
        n_train: fold.train.len(),
        n_test: fold.test.len(),
        chosen: points[best],
        inner_auc: inner.candidates[best].mean_auc.unwrap_or(f64::NAN),
        converged: model.converged(),
        candidates: inner.candidates,
        platt,
        test: fold.test.clone(),
        test_probs,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every grid point's scores on every inner test part.
struct InnerCv {
    candidates: Vec<CandidateScore>,
    /// Per grid point: the inner test rows (all parts in order) and their ranking scores.
    out_of_fold: Vec<(Vec<usize>, Vec<f64>)>,
}

impl InnerCv {
    fn run(
        data: &Labelled,
        train: &[usize],
        parts: &[Vec<usize>],
        points: &[Hyperparams],
    ) -> Result<Self, BaselineError> {
        let mut fold_aucs = vec![Vec::with_capacity(parts.len()); points.len()];
        let mut out_of_fold = vec![(Vec::new(), Vec::new()); points.len()];
        for part in parts {
            let inner_train: Vec<usize> = train
                .iter()
                .copied()
                .filter(|i| part.binary_search(i).is_err())
                .collect();
            let x = data.x.select(&inner_train);
            let y: Vec<usize> = inner_train.iter().map(|&i| data.labels[i]).collect();
            let test_x = data.x.select(part);
            let test_y: Vec<usize> = part.iter().map(|&i| data.labels[i]).collect();
            let mut previous: Option<FittedModel> = None;
            for (p, params) in points.iter().enumerate() {
                let fitted = match fit_from(params, &x, &y, data.n_classes, previous.as_ref()) {
                    Ok(model) => model,
                    // A grid point this part cannot fit (too few rows for k, one class only).
                    Err(BaselineError::InvalidParams { .. } | BaselineError::Data(_)) => {
                        fold_aucs[p].push(None);
                        continue;
                    }
                    Err(other) => return Err(other),
                };
                let scores = fitted.ranking_scores(&test_x);
                fold_aucs[p].push(auc(data, &test_y, &scores));
                out_of_fold[p].0.extend_from_slice(part);
                out_of_fold[p].1.extend_from_slice(&scores);
                if same_l1_ratio(params, points.get(p + 1)) {
                    previous = Some(fitted);
                } else {
                    previous = None;
                }
            }
        }
        let candidates = points
            .iter()
            .zip(fold_aucs)
            .map(|(params, aucs)| {
                let scored: Vec<f64> = aucs.iter().flatten().copied().collect();
                let mean_auc =
                    (!scored.is_empty()).then(|| scored.iter().sum::<f64>() / scored.len() as f64);
                CandidateScore {
                    params: *params,
                    mean_auc,
                    fold_aucs: aucs,
                }
            })
            .collect();
        Ok(InnerCv {
            candidates,
            out_of_fold,
        })
    }

    /// The first grid point with the highest mean inner AUC.
    fn best(&self) -> Result<usize, BaselineError> {
        let mut best: Option<(usize, f64)> = None;
        for (p, candidate) in self.candidates.iter().enumerate() {
            if let Some(score) = candidate.mean_auc
                && best.is_none_or(|(_, b)| score > b)
            {
                best = Some((p, score));
            }
        }
        best.map(|(p, _)| p).ok_or_else(|| {
            BaselineError::data(
                "no hyperparameter of the grid could be scored by inner cross-validation (too few rows, or a class missing from every inner fold)",
            )
        })
    }

    /// Platt calibrations of grid point `p` from its out-of-fold decision values: one for two
    /// classes (class 1 positive), else one per class against the rest.
    fn platt(&self, p: usize, data: &Labelled) -> Result<Vec<Platt>, BaselineError> {
        let (rows, scores) = &self.out_of_fold[p];
        let k = data.n_classes;
        let classes: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
        classes
            .iter()
            .map(|&class| {
                let decision: Vec<f64> = (0..rows.len()).map(|r| scores[r * k + class]).collect();
                let positive: Vec<bool> = rows.iter().map(|&i| data.labels[i] == class).collect();
                Platt::fit(&decision, &positive)
            })
            .collect()
    }
}

/// Warm starts only make sense along C at a fixed penalty mix.
fn same_l1_ratio(params: &Hyperparams, next: Option<&Hyperparams>) -> bool {
    matches!(
        (params, next),
        (Hyperparams::Logistic(a), Some(Hyperparams::Logistic(b))) if a.l1_ratio == b.l1_ratio
    )
}

/// Binary AUC of the positive class's score, or macro one-vs-rest AUC; None when undefined
/// (a class absent from the part).
fn auc(data: &Labelled, labels: &[usize], scores: &[f64]) -> Option<f64> {
    let k = data.n_classes;
    if k == 2 {
        let positive: Vec<bool> = labels.iter().map(|&l| l == data.positive).collect();
        let column: Vec<f64> = (0..labels.len())
            .map(|r| scores[r * k + data.positive])
            .collect();
        roc_auc(&positive, &column).ok()
    } else {
        roc_auc_ovr_macro(labels, scores, k).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medxfer_events::Silent;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One informative feature (class = sign) with `flip` of the labels flipped at random.
    fn noisy_line(n: usize, flip: f64, seed: u64) -> (Matrix, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..n {
            let v: f64 = rng.random_range(-1.0..1.0);
            let class = usize::from(v > 0.0);
            let flipped = rng.random_bool(flip);
            values.push(v);
            labels.push(if flipped { 1 - class } else { class });
        }
        (Matrix::new(n, 1, values).unwrap(), labels)
    }

    fn two_folds(n: usize) -> Vec<OuterFold> {
        (0..2)
            .map(|f| OuterFold {
                fold: f,
                train: (0..n).filter(|i| i % 2 != f).collect(),
                test: (0..n).filter(|i| i % 2 == f).collect(),
            })
            .collect()
    }

    #[test]
    fn knn_on_noisy_labels_chooses_more_than_one_neighbour() {
        let (x, labels) = noisy_line(300, 0.25, 3);
        let data = Labelled {
            x: &x,
            labels: &labels,
            n_classes: 2,
            positive: 1,
            groups: None,
        };
        let options = NestedCvOptions {
            kind: ModelKind::Knn,
            inner_folds: 3,
            seed: 1,
        };
        let results = nested_cv(&data, &two_folds(300), &options, &Silent).unwrap();
        for result in &results {
            let Hyperparams::Knn(chosen) = result.chosen else {
                panic!("{:?}", result.chosen)
            };
            // With a quarter of the labels wrong, one neighbour copies the noise; averaging
            // many neighbours recovers the sign of the feature.
            assert!(chosen.k >= 11, "fold {}: k = {}", result.fold, chosen.k);
            assert_eq!(result.test_probs.len(), 2 * result.test.len());
            assert_eq!(result.candidates.len(), crate::params::KNN_GRID.len());
        }
    }

    #[test]
    fn every_model_ranks_clean_test_rows_well_and_svm_probabilities_are_calibrated() {
        let (x, labels) = noisy_line(120, 0.0, 5);
        let data = Labelled {
            x: &x,
            labels: &labels,
            n_classes: 2,
            positive: 1,
            groups: None,
        };
        for kind in [
            ModelKind::Knn,
            ModelKind::Logistic,
            ModelKind::ElasticNet,
            ModelKind::SvmLinear,
            ModelKind::SvmRbf,
        ] {
            let options = NestedCvOptions {
                kind,
                inner_folds: 3,
                seed: 9,
            };
            let results = nested_cv(&data, &two_folds(120), &options, &Silent).unwrap();
            for result in &results {
                let truth: Vec<bool> = result.test.iter().map(|&i| labels[i] == 1).collect();
                let p1: Vec<f64> = result.test_probs.chunks(2).map(|r| r[1]).collect();
                let auc = roc_auc(&truth, &p1).unwrap();
                assert!(auc > 0.97, "{kind} fold {}: AUC {auc}", result.fold);
                assert!(p1.iter().all(|p| (0.0..=1.0).contains(p)));
                assert!(result.converged, "{kind} fold {}", result.fold);
                assert_eq!(
                    result.platt.is_some(),
                    matches!(kind, ModelKind::SvmLinear | ModelKind::SvmRbf)
                );
            }
        }
    }

    #[test]
    fn three_classes_get_one_vs_rest_machines_and_probabilities_that_sum_to_one() {
        // Three bands of one feature, with patients of two rows each.
        let n = 90;
        let values: Vec<f64> = (0..n)
            .map(|i| (i % 3) as f64 * 3.0 + (i as f64 * 0.37).sin())
            .collect();
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let groups: Vec<String> = (0..n).map(|i| format!("p{}", i / 6 * 3 + i % 3)).collect();
        let x = Matrix::new(n, 1, values).unwrap();
        let data = Labelled {
            x: &x,
            labels: &labels,
            n_classes: 3,
            positive: 0,
            groups: Some(&groups),
        };
        for kind in [ModelKind::SvmRbf, ModelKind::Logistic] {
            let options = NestedCvOptions {
                kind,
                inner_folds: 3,
                seed: 2,
            };
            let results = nested_cv(&data, &two_folds(n), &options, &Silent).unwrap();
            for result in &results {
                assert_eq!(
                    result.platt.as_ref().map(Vec::len),
                    (kind == ModelKind::SvmRbf).then_some(3)
                );
                let truth: Vec<usize> = result.test.iter().map(|&i| labels[i]).collect();
                for row in result.test_probs.chunks(3) {
                    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{row:?}");
                }
                let auc = roc_auc_ovr_macro(&truth, &result.test_probs, 3).unwrap();
                assert!(auc > 0.95, "{kind} fold {}: macro AUC {auc}", result.fold);
            }
        }
    }

    #[test]
    fn a_fold_naming_a_missing_row_is_an_error() {
        let (x, labels) = noisy_line(10, 0.0, 1);
        let data = Labelled {
            x: &x,
            labels: &labels,
            n_classes: 2,
            positive: 1,
            groups: None,
        };
        let folds = [OuterFold {
            fold: 0,
            train: vec![0, 1, 2],
            test: vec![42],
        }];
        let options = NestedCvOptions {
            kind: ModelKind::Knn,
            inner_folds: 3,
            seed: 0,
        };
        let err = nested_cv(&data, &folds, &options, &Silent).unwrap_err();
        assert!(err.to_string().contains("row 42"), "{err}");
    }
}
