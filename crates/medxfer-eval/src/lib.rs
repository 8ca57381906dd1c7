//! medxfer-eval: classification, ranking, calibration and segmentation metrics, and the
//! statistics the papers report (DeLong, bootstrap, paired tests, multiplicity adjustment).
//! No deep-learning dependency.
//!
//! Convention throughout: a higher score means the positive class; nothing flips direction.

pub mod atomic_write;
pub mod auc;
pub mod benchmark;
pub mod bootstrap;
pub mod calibration;
pub mod classification;
pub mod confusion;
pub mod curves;
pub mod delong;
pub mod distance_transform;
mod error;
pub mod friedman;
mod input_checks;
pub mod mask_io;
pub mod mcnemar;
pub mod multiplicity;
pub mod paired_t;
pub mod predictions;
mod ranking;
pub mod report;
mod report_breakdown;
mod report_calibration;
pub mod run_comparison;
pub mod run_ensemble;
pub mod score_reports;
pub mod score_table;
pub mod segmentation;
mod segmentation_aggregate;
mod segmentation_display;
pub mod segmentation_run;
pub mod segmentations;
pub mod special;
pub mod threshold;
pub mod wilcoxon;

pub use error::EvalError;
