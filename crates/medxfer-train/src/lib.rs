//! Training: the run engine (run folder, epoch loop, checkpoints and resume) and its
//! supervised tasks (classification, segmentation), transfer strategies, feature caching.

mod atomic_file;
pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod encoder_file;
pub mod engine;
mod error;
pub mod external;
pub mod fold;
pub mod frozen_features;
mod json_float;
pub mod model_setup;
pub mod normalisation;
pub mod predict;
pub mod run;
pub mod run_folder;
pub mod schedule;
pub mod scoring;
pub mod segmentation;
mod split_config;
pub mod stage_rates;
pub mod strategy;

pub use config::TrainConfig;
pub use error::TrainError;
