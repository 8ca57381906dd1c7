//! Classifying new images with a finished run: every fold's best model scores the image and
//! the probabilities are averaged (a cross-validation ensemble).

use std::path::{Path, PathBuf};

use crate::normalisation::Normalisation;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use medxfer_data::cache::ImageCache;
use medxfer_data::decode::decode_luma_file;
use medxfer_data::preprocess::{PreprocessSpec, prepare_image};
use medxfer_eval::predictions::TaskInfo;

use crate::TrainError;
use crate::batches::{InputSpec, image_batch};
use crate::config::TrainConfig;
use crate::model_setup::Architecture;
use crate::run::resolve_device;
use medxfer_atomic::run_files::{CONFIG, FOLD_PREFIX, MODEL, PREDICTIONS, TASK};

/// The ensemble's class probabilities for one image.
#[derive(Debug, Clone)]
pub struct ImagePrediction {
    pub path: PathBuf,
    pub probabilities: Vec<f64>,
    pub predicted_class: String,
}

pub struct RunPredictor {
    pub class_names: Vec<String>,
    models: Vec<medxfer_models::Classifier>,
    input: InputSpec,
    image_size: u32,
    device: Device,
}

/// A run folder `predict` can use: a medxfer run whose folds have all been trained and
/// assembled (its task file is written last, by the run without `--fold`).
fn check_finished(run_dir: &Path) -> Result<(), TrainError> {
    let unusable = |message: String| TrainError::Checkpoint {
        path: run_dir.to_path_buf(),
        message,
    };
    if !run_dir.is_dir() {
        return Err(unusable("no such run folder".into()));
    }
    if !run_dir.join(CONFIG).exists() {
        return Err(unusable(format!("not a medxfer run folder (no {CONFIG})")));
    }
    if !run_dir.join(TASK).exists() || !run_dir.join(PREDICTIONS).exists() {
        return Err(unusable(format!(
            "this run is unfinished (no {TASK} yet): run `medxfer train --config {}` without --fold to finish it",
            run_dir.join(CONFIG).display()
        )));
    }
    Ok(())
}

impl RunPredictor {
    /// Load every finished fold model of the run in `run_dir`.
    pub fn open(run_dir: &Path) -> Result<Self, TrainError> {
        check_finished(run_dir)?;
        let config = TrainConfig::load(&run_dir.join(CONFIG), &[])?;
        config.data.apply_decode_limits();
        let task = TaskInfo::read_json(&run_dir.join(TASK))?;
        let device = resolve_device(config.device()?)?;
        let architecture = Architecture {
            backbone: config.model.backbone,
            in_channels: config.model.in_channels,
            head: config.model.head.clone(),
            num_classes: task.class_names.len(),
        };
        let mut fold_dirs: Vec<PathBuf> = std::fs::read_dir(run_dir)
            .map_err(|e| TrainError::io(run_dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(FOLD_PREFIX))
                    && p.join(MODEL).exists()
            })
            .collect();
        fold_dirs.sort();
        if fold_dirs.is_empty() {
            return Err(TrainError::Checkpoint {
                path: run_dir.to_path_buf(),
                message: "no finished fold model (fold_*/model.bpk): has training completed?"
                    .into(),
            });
        }
        let models = fold_dirs
            .iter()
            .map(|d| {
                architecture
                    .load(&d.join(MODEL), &device)
                    .map(|m| m.valid())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Normalisation { mean, std, .. } = Normalisation::read(run_dir, &config)?;
        Ok(RunPredictor {
            class_names: task.class_names,
            models,
            input: InputSpec {
                size: config.data.image_size as usize,
                channels: config.model.in_channels,
                mean,
                std,
            },
            image_size: config.data.image_size,
            device,
        })
    }

    pub fn num_models(&self) -> usize {
        self.models.len()
    }

    /// Decode, preprocess exactly as in training, and score the images.
    pub fn predict(&self, paths: &[PathBuf]) -> Result<Vec<ImagePrediction>, TrainError> {
        let spec = PreprocessSpec {
            size: self.image_size,
            channels: 1,
        };
        let images = paths
            .iter()
            .map(|p| decode_luma_file(p).map(|img| prepare_image(&img, &spec)))
            .collect::<Result<Vec<_>, _>>()?;
        let cache = ImageCache::from_images(spec, images);
        let indices: Vec<usize> = (0..paths.len()).collect();
        let k = self.class_names.len();
        let mut sums = vec![0f64; paths.len() * k];
        for chunk in indices.chunks(32) {
            let x = image_batch(&cache, chunk, &self.input, None, &self.device);
            for model in &self.models {
                let probs: Vec<f32> = softmax(model.forward(x.clone()), 1)
                    .into_data()
                    .iter::<f32>()
                    .collect();
                for (j, p) in probs.iter().enumerate() {
                    sums[chunk[0] * k + j] += *p as f64;
                }
            }
        }
        let m = self.models.len() as f64;
        Ok(paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let probabilities: Vec<f64> =
                    sums[i * k..(i + 1) * k].iter().map(|s| s / m).collect();
                let best = crate::scoring::argmax(&probabilities);
                ImagePrediction {
                    path: path.clone(),
                    predicted_class: self.class_names[best].clone(),
                    probabilities,
                }
            })
            .collect())
    }
}
