//! Classical baselines for medxfer: k-NN, logistic regression (L2 or elastic net) and support
//! vector machines (linear or RBF kernel), on any feature matrix (downsampled pixels, frozen
//! backbone features), with hyperparameters chosen by nested cross-validation.
//!
//! The crate has no deep-learning dependency: features come in as a [`Matrix`], class
//! probabilities go out, and the caller writes them as a run's predictions file.

mod error;
pub mod folds;
pub mod knn;
pub mod logistic;
mod matrix;
pub mod model;
pub mod nested;
pub mod params;
pub mod platt;
pub mod standardise;
pub mod svm;

pub use error::BaselineError;
pub use matrix::Matrix;
pub use model::{FittedModel, fit};
pub use nested::{CandidateScore, FoldResult, NestedCvOptions, OuterFold, nested_cv};
pub use params::{Hyperparams, Kernel, KnnParams, LogisticParams, ModelKind, SvmParams};
