//! medxfer-robustness: how a finished classification run's AUC holds up when its test images
//! are perturbed. The bounding-box suite crops around the lesion with seeded random shifts
//! and scale changes of increasing strength (paper 002's study design); the corruption suite
//! adds noise, speckle, blur, contrast, gamma and JPEG at five severities. Each fold model
//! scores its own out-of-fold test images under every condition; the pooled AUC gets its
//! DeLong CI and a paired DeLong test against the unperturbed images (medxfer-eval), written
//! as CSV, JSON and a PNG plot.

pub mod bbox;
pub mod corruption;
mod error;
pub mod plot;
pub mod results;
pub mod study;
pub mod suite;

pub use error::RobustnessError;
pub use results::{ConditionAuc, RobustnessReport};
pub use study::{StudyRun, StudyScores, StudySettings};
pub use suite::{Condition, Perturbation, Suite};
