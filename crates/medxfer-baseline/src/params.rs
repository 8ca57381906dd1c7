//! Hyperparameters: one validated type per model (its `check` names the offending value), the
//! model kinds, and the grids nested cross-validation searches.

use serde::{Deserialize, Serialize};

use crate::BaselineError;

/// Which classical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// k nearest neighbours, Euclidean on standardised features.
    Knn,
    /// Logistic regression with an L2 penalty.
    Logistic,
    /// Logistic regression with an elastic-net (L1 + L2) penalty.
    ElasticNet,
    /// Support vector machine with a linear kernel.
    SvmLinear,
    /// Support vector machine with an RBF kernel.
    SvmRbf,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Knn => "knn",
            ModelKind::Logistic => "logistic",
            ModelKind::ElasticNet => "elastic-net",
            ModelKind::SvmLinear => "svm-linear",
            ModelKind::SvmRbf => "svm-rbf",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KnnParams {
    /// Neighbours whose class fractions are the probabilities.
    pub k: usize,
}

/// Penalised logistic regression, scikit-learn's parametrisation: minimise
/// `C * sum(loss) + (1 - l1_ratio) / 2 * |W|^2 + l1_ratio * |W|_1` (intercepts unpenalised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// Inverse penalty strength.
    pub c: f64,
    /// 0: pure L2; 1: pure L1.
    pub l1_ratio: f64,
    /// Converged when no coefficient moves more than `tol` (relative to the largest) in a step.
    pub tol: f64,
    pub max_iter: usize,
}

impl LogisticParams {
    /// Defaults for the search: convergence within 1e-6, at most 5000 proximal-gradient steps.
    pub fn new(c: f64, l1_ratio: f64) -> Self {
        LogisticParams {
            c,
            l1_ratio,
            tol: 1e-6,
            max_iter: 5000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kernel {
    Linear,
    /// `exp(-gamma * |x - y|^2)`.
    Rbf {
        gamma: f64,
    },
}

/// C-SVC as libsvm solves it (SMO, second-order working-set selection, bias term).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SvmParams {
    pub c: f64,
    pub kernel: Kernel,
    /// libsvm's stopping tolerance on the KKT violation (its `eps`, scikit-learn's `tol`).
    pub tol: f64,
    pub max_iter: usize,
}

impl SvmParams {
    /// libsvm's default tolerance 1e-3; at most 10^7 SMO steps.
    pub fn new(c: f64, kernel: Kernel) -> Self {
        SvmParams {
            c,
            kernel,
            tol: 1e-3,
            max_iter: 10_000_000,
        }
    }
}

/// One point of a model's hyperparameter grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Hyperparams {
    Knn(KnnParams),
    Logistic(LogisticParams),
    Svm(SvmParams),
}

fn positive_finite(name: &'static str, value: f64) -> Result<(), BaselineError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(BaselineError::params(
            name,
            format!("must be a positive finite number, got {value}"),
        ))
    }
}

impl KnnParams {
    pub fn check(&self) -> Result<(), BaselineError> {
        if self.k == 0 {
            return Err(BaselineError::params("k", "must be at least 1, got 0"));
        }
        Ok(())
    }
}

impl LogisticParams {
    pub fn check(&self) -> Result<(), BaselineError> {
        positive_finite("C", self.c)?;
        positive_finite("tol", self.tol)?;
        if !(0.0..=1.0).contains(&self.l1_ratio) {
            return Err(BaselineError::params(
                "l1_ratio",
                format!("must lie in [0, 1], got {}", self.l1_ratio),
            ));
        }
        if self.max_iter == 0 {
            return Err(BaselineError::params("max_iter", "must be at least 1"));
        }
        Ok(())
    }
}

impl SvmParams {
    pub fn check(&self) -> Result<(), BaselineError> {
        positive_finite("C", self.c)?;
        positive_finite("tol", self.tol)?;
        if let Kernel::Rbf { gamma } = self.kernel {
            positive_finite("gamma", gamma)?;
        }
        if self.max_iter == 0 {
            return Err(BaselineError::params("max_iter", "must be at least 1"));
        }
        Ok(())
    }
}

impl Hyperparams {
    pub fn check(&self) -> Result<(), BaselineError> {
        match self {
            Hyperparams::Knn(p) => p.check(),
            Hyperparams::Logistic(p) => p.check(),
            Hyperparams::Svm(p) => p.check(),
        }
    }
}

/// k for k-NN (BUSI's frozen ImageNet features chose the largest k when the grid ended at 41,
/// and again at 81). A k above the training rows is skipped.
pub const KNN_GRID: [usize; 8] = [1, 3, 5, 11, 21, 41, 81, 161];
/// C for logistic regression, elastic net and SVMs: down to 1e-4 because on a thousand
/// pixels of a few hundred images the strongest penalties win (BUSI at 32 px chose 0.01, then
/// the smallest point, when the grid started there).
pub const C_GRID: [f64; 7] = [1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0];
/// The elastic net's L1 share.
pub const L1_RATIO_GRID: [f64; 3] = [0.1, 0.5, 0.9];
/// RBF gamma as multiples of 1 / n_features (scikit-learn's `gamma="scale"` on standardised
/// features).
pub const GAMMA_FACTORS: [f64; 3] = [0.1, 1.0, 10.0];

/// The grid nested CV searches for `kind` on `n_features` standardised features. Among points
/// with the same inner-CV score the first listed wins; C grows from strong to weak
/// regularisation, so ties go to the stronger penalty.
pub fn grid(kind: ModelKind, n_features: usize) -> Vec<Hyperparams> {
    let scale = 1.0 / n_features.max(1) as f64;
    match kind {
        ModelKind::Knn => KNN_GRID
            .iter()
            .map(|&k| Hyperparams::Knn(KnnParams { k }))
            .collect(),
        ModelKind::Logistic => C_GRID
            .iter()
            .map(|&c| Hyperparams::Logistic(LogisticParams::new(c, 0.0)))
            .collect(),
        ModelKind::ElasticNet => L1_RATIO_GRID
            .iter()
            .flat_map(|&r| {
                C_GRID
                    .iter()
                    .map(move |&c| Hyperparams::Logistic(LogisticParams::new(c, r)))
            })
            .collect(),
        ModelKind::SvmLinear => C_GRID
            .iter()
            .map(|&c| Hyperparams::Svm(SvmParams::new(c, Kernel::Linear)))
            .collect(),
        ModelKind::SvmRbf => GAMMA_FACTORS
            .iter()
            .flat_map(|&g| {
                C_GRID.iter().map(move |&c| {
                    Hyperparams::Svm(SvmParams::new(c, Kernel::Rbf { gamma: g * scale }))
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_domain_hyperparameters_are_errors_naming_them() {
        assert!(KnnParams { k: 0 }.check().is_err());
        let bad_c = LogisticParams::new(0.0, 0.0).check().unwrap_err();
        assert!(bad_c.to_string().contains("C"), "{bad_c}");
        let bad_ratio = LogisticParams::new(1.0, 1.5).check().unwrap_err();
        assert!(bad_ratio.to_string().contains("l1_ratio"), "{bad_ratio}");
        let bad_gamma = SvmParams::new(1.0, Kernel::Rbf { gamma: -1.0 })
            .check()
            .unwrap_err();
        assert!(bad_gamma.to_string().contains("gamma"), "{bad_gamma}");
        assert!(SvmParams::new(f64::NAN, Kernel::Linear).check().is_err());
        for kind in [
            ModelKind::Knn,
            ModelKind::Logistic,
            ModelKind::ElasticNet,
            ModelKind::SvmLinear,
            ModelKind::SvmRbf,
        ] {
            assert!(grid(kind, 10).iter().all(|p| p.check().is_ok()), "{kind}");
        }
    }
}
