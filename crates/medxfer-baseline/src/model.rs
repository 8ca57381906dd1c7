//! A fitted baseline: the standardiser fitted on its training rows and one of the models, with
//! ranking scores (for AUC) and class probabilities.

use crate::knn::Knn;
use crate::logistic::Logistic;
use crate::platt::Platt;
use crate::standardise::Standardiser;
use crate::svm::Svm;
use crate::{BaselineError, Hyperparams, Matrix};

#[derive(Debug, Clone)]
pub enum FittedModel {
    Knn {
        standardiser: Standardiser,
        model: Knn,
    },
    Logistic {
        standardiser: Standardiser,
        model: Logistic,
    },
    /// `platt` holds one calibration per machine once [`FittedModel::set_platt`] gave them.
    Svm {
        standardiser: Standardiser,
        model: Svm,
        platt: Vec<Platt>,
    },
}

/// Standardise on `x`, then fit the model `params` describes to `labels` (`0..n_classes`).
pub fn fit(
    params: &Hyperparams,
    x: &Matrix,
    labels: &[usize],
    n_classes: usize,
) -> Result<FittedModel, BaselineError> {
    fit_from(params, x, labels, n_classes, None)
}

/// As [`fit`]; a logistic model warm-starts from `previous` when it is one of the same shape
/// (the neighbouring C of a grid on the same rows converges in fewer steps).
pub fn fit_from(
    params: &Hyperparams,
    x: &Matrix,
    labels: &[usize],
    n_classes: usize,
    previous: Option<&FittedModel>,
) -> Result<FittedModel, BaselineError> {
    params.check()?;
    if labels.len() != x.rows() {
        return Err(BaselineError::data(format!(
            "{} feature rows but {} labels",
            x.rows(),
            labels.len()
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= n_classes) {
        return Err(BaselineError::data(format!(
            "label {bad} is out of range for {n_classes} classes"
        )));
    }
    let standardiser = Standardiser::fit(x);
    let z = standardiser.transform(x);
    Ok(match params {
        Hyperparams::Knn(p) => FittedModel::Knn {
            model: Knn::fit(p, &z, labels, n_classes)?,
            standardiser,
        },
        Hyperparams::Logistic(p) => {
            let init = match previous {
                Some(FittedModel::Logistic { model, .. }) => Some(model),
                _ => None,
            };
            FittedModel::Logistic {
                model: Logistic::fit(p, &z, labels, n_classes, init)?,
                standardiser,
            }
        }
        Hyperparams::Svm(p) => FittedModel::Svm {
            model: Svm::fit(p, &z, labels, n_classes)?,
            standardiser,
            platt: Vec::new(),
        },
    })
}

impl FittedModel {
    fn standardised(&self, x: &Matrix) -> Matrix {
        match self {
            FittedModel::Knn { standardiser, .. }
            | FittedModel::Logistic { standardiser, .. }
            | FittedModel::Svm { standardiser, .. } => standardiser.transform(x),
        }
    }

    /// Row-major `rows x n_classes` scores that rank rows by class: probabilities for k-NN and
    /// logistic regression, decision values for SVMs (see [`Svm::decision_scores`]).
    pub fn ranking_scores(&self, x: &Matrix) -> Vec<f64> {
        let z = self.standardised(x);
        match self {
            FittedModel::Knn { model, .. } => model.predict_proba(&z),
            FittedModel::Logistic { model, .. } => model.predict_proba(&z),
            FittedModel::Svm { model, .. } => model.decision_scores(&z),
        }
    }

    /// Whether the solver reached its tolerance within its step budget (k-NN has no solver).
    pub fn converged(&self) -> bool {
        match self {
            FittedModel::Knn { .. } => true,
            FittedModel::Logistic { model, .. } => model.converged,
            FittedModel::Svm { model, .. } => model.machines().iter().all(|m| m.converged),
        }
    }

    /// Whether probabilities need [`FittedModel::set_platt`] first (SVMs).
    pub fn needs_calibration(&self) -> bool {
        matches!(self, FittedModel::Svm { .. })
    }

    /// Give an SVM its Platt calibrations (one per machine: one for two classes).
    pub fn set_platt(&mut self, calibrations: Vec<Platt>) {
        if let FittedModel::Svm { platt, .. } = self {
            *platt = calibrations;
        }
    }

    /// Row-major `rows x n_classes` probabilities. An SVM's are its Platt-scaled decision
    /// values (one-vs-rest: normalised to sum to one); without calibrations it is an error.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>, BaselineError> {
        let FittedModel::Svm { model, platt, .. } = self else {
            return Ok(self.ranking_scores(x));
        };
        if platt.len() != model.machines().len() {
            return Err(BaselineError::data(
                "SVM probabilities need a Platt calibration per machine",
            ));
        }
        let scores = self.ranking_scores(x);
        let n_classes = scores.len() / x.rows().max(1);
        let mut out = Vec::with_capacity(scores.len());
        for row in scores.chunks(n_classes.max(1)) {
            if n_classes == 2 {
                let p = platt[0].probability(row[1]);
                out.extend([1.0 - p, p]);
            } else {
                let p: Vec<f64> = row
                    .iter()
                    .zip(platt)
                    .map(|(d, c)| c.probability(*d))
                    .collect();
                let sum: f64 = p.iter().sum();
                out.extend(p.iter().map(|v| v / sum.max(f64::MIN_POSITIVE)));
            }
        }
        Ok(out)
    }
}
