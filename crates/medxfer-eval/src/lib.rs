//! medxfer-eval: classification, ranking, calibration and segmentation metrics, and the
//! statistics the papers report (DeLong, bootstrap, paired tests, multiplicity adjustment).
//! No deep-learning dependency.
//!
//! Convention throughout: a higher score means the positive class; nothing flips direction.

pub mod atomic_write;
pub mod auc;
pub mod confusion;
mod error;
mod input_checks;
pub mod predictions;
mod ranking;

pub use error::EvalError;
