//! Reports over finished runs. `study_table` lays several arms of a study side by side, as
//! papers do (e.g. paper 003's Table 6.1: initialisations as rows, linear probe and fine-tuning
//! as column groups, each cell a mean ± sd over cross-validation folds). `segmentation_gallery`
//! draws a segmentation run's best, middle and worst test images; `reliability_diagram` a binary
//! run's calibration; `canvas` is the small
//! drawing surface report pictures share; `plot` draws line and scatter charts on it and `tsne`
//! lays feature vectors out in 2-D for them.

pub mod arm_scores;
pub mod canvas;
pub mod error;
pub mod plot;
pub mod reliability_diagram;
pub mod segmentation_gallery;
pub mod study_table;
pub mod tsne;

pub use error::ReportError;
