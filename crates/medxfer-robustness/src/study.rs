//! Running a finished classification run's fold models over perturbed copies of their own
//! test images. Each fold model scores only the images its fold held out (the run's
//! out-of-fold test rows in `predictions.csv`), so the pooled scores are out-of-fold exactly
//! as in the run's own evaluation, once per condition of the suite.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::softmax;
use medxfer_atomic::run_files::{
    CONFIG, FOLD_PREFIX, MODEL, PREDICTIONS, TASK, fold_files, fold_of,
};
use medxfer_data::preprocess::prepare_image;
use medxfer_data::{Dataset, ImageCache, PreparedImage, PreprocessSpec};
use medxfer_eval::predictions::{Predictions, Split, TaskInfo, TaskKind};
use medxfer_events::{Reporter, TaskKind as ProgressKind};
use medxfer_models::Classifier;
use medxfer_train::TrainConfig;
use medxfer_train::batches::{InputSpec, image_batch, mix_seed};
use medxfer_train::model_setup::Architecture;
use medxfer_train::normalisation::Normalisation;
use medxfer_train::run::{input_spec, load_dataset, resolve_device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::RobustnessError;
use crate::bbox::{crop, crop_region, image_and_box, require_box_source};
use crate::corruption::Corruption;
use crate::suite::{Condition, Perturbation, Suite, conditions};

/// Images perturbed and scored together: bounds the memory a condition's copies take.
const CHUNK: usize = 32;

/// How a study perturbs.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySettings {
    pub suite: Suite,
    /// Corruption suite: the corruptions to apply (empty: all six).
    pub corruptions: Vec<Corruption>,
    /// Seeds every random shift, scale and noise draw (with the image's id and the condition).
    pub seed: u64,
    /// Bbox suite: context kept around the box on each side, as a fraction of its side.
    pub margin: f64,
}

/// One out-of-fold test image of the run.
#[derive(Debug, Clone)]
struct TestImage {
    /// Index into the run's dataset.
    sample: usize,
    fold: usize,
    positive: bool,
    /// The positive class's probability in `predictions.csv`.
    recorded: f64,
}

/// A finished binary classification run, ready to be studied.
pub struct StudyRun {
    run_dir: PathBuf,
    positive_class: String,
    /// The positive class's column in the models' output (the run's class order).
    positive: usize,
    models: Vec<(usize, Classifier)>,
    dataset: Dataset,
    tests: Vec<TestImage>,
    input: InputSpec,
    spec: PreprocessSpec,
    device: Device,
}

/// Every condition's positive-class probabilities, in the order of the test images.
#[derive(Debug, Clone)]
pub struct StudyScores {
    pub conditions: Vec<Condition>,
    pub image_ids: Vec<String>,
    pub is_positive: Vec<bool>,
    /// `scores[c][i]`: condition `c`, image `i`.
    pub scores: Vec<Vec<f64>>,
    /// The probabilities `predictions.csv` recorded for the unperturbed images.
    pub recorded: Vec<f64>,
    pub models: usize,
    pub positive_class: String,
}

impl StudyScores {
    /// Largest gap between the unperturbed images' scores now and as the run recorded them.
    pub fn largest_gap_from_recorded(&self) -> f64 {
        self.scores[0]
            .iter()
            .zip(&self.recorded)
            .fold(0.0, |m, (a, b)| m.max((a - b).abs()))
    }
}

impl StudyRun {
    /// Load the run's fold models, its data and its out-of-fold test rows.
    pub fn open(run_dir: &Path) -> Result<Self, RobustnessError> {
        let (config, task, positive) = read_run(run_dir)?;
        config.data.apply_decode_limits();
        let device = resolve_device(config.device()?)?;
        let architecture = Architecture {
            backbone: config.model.backbone,
            in_channels: config.model.in_channels,
            head: config.model.head.clone(),
            num_classes: task.class_names.len(),
        };
        let models = fold_model_paths(run_dir)?
            .into_iter()
            .map(|(fold, path)| Ok((fold, architecture.load(&path, &device)?.valid())))
            .collect::<Result<Vec<_>, RobustnessError>>()?;
        let dataset = load_dataset(&config)?;
        let tests = test_images(run_dir, &dataset, &task, positive)?;
        if let Some(t) = tests
            .iter()
            .find(|t| !models.iter().any(|(f, _)| *f == t.fold))
        {
            return Err(RobustnessError::run(
                run_dir,
                format!(
                    "fold {} has test images but no model ({FOLD_PREFIX}{}/{MODEL})",
                    t.fold, t.fold
                ),
            ));
        }
        let normalisation = Normalisation::read(run_dir, &config)?;
        Ok(StudyRun {
            run_dir: run_dir.to_path_buf(),
            positive_class: task.class_names[positive].clone(),
            positive,
            models,
            dataset,
            tests,
            input: input_spec(&config, normalisation),
            spec: PreprocessSpec {
                size: config.data.image_size,
                channels: 1,
            },
            device,
        })
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn num_images(&self) -> usize {
        self.tests.len()
    }

    /// Score every condition of the suite; progress is one step per chunk of images.
    pub fn run(
        &self,
        settings: &StudySettings,
        events: &dyn Reporter,
    ) -> Result<StudyScores, RobustnessError> {
        if settings.suite == Suite::Bbox {
            for t in &self.tests {
                require_box_source(&self.dataset.samples[t.sample])?;
            }
        }
        let conditions = conditions(settings.suite, &settings.corruptions);
        let mut scores = vec![vec![f64::NAN; self.tests.len()]; conditions.len()];
        let chunks: Vec<(usize, Vec<usize>)> = self.fold_chunks();
        let progress = events.task(
            format!(
                "{} suite: {} images x {} conditions",
                settings.suite.name(),
                self.tests.len(),
                conditions.len()
            ),
            chunks.len(),
            ProgressKind::Work,
        );
        for (model, members) in &chunks {
            let (fold, classifier) = &self.models[*model];
            let variants = self.perturb(members, &conditions, settings)?;
            for (c, images) in variants.into_iter().enumerate() {
                let probabilities = self.positive_probabilities(classifier, images);
                for (&i, p) in members.iter().zip(probabilities) {
                    scores[c][i] = p;
                }
            }
            progress.step(Some(format!("fold {fold}")));
        }
        drop(progress);
        Ok(StudyScores {
            conditions,
            image_ids: self
                .tests
                .iter()
                .map(|t| self.dataset.samples[t.sample].id.clone())
                .collect(),
            is_positive: self.tests.iter().map(|t| t.positive).collect(),
            scores,
            recorded: self.tests.iter().map(|t| t.recorded).collect(),
            models: self.models.len(),
            positive_class: self.positive_class.clone(),
        })
    }

    /// (index of the fold's model, test images of the fold) in chunks of at most [`CHUNK`].
    fn fold_chunks(&self) -> Vec<(usize, Vec<usize>)> {
        let mut out = Vec::new();
        for (m, (fold, _)) in self.models.iter().enumerate() {
            let members: Vec<usize> = (0..self.tests.len())
                .filter(|&i| self.tests[i].fold == *fold)
                .collect();
            out.extend(members.chunks(CHUNK).map(|c| (m, c.to_vec())));
        }
        out
    }

    /// For each condition, the perturbed, preprocessed copies of the test images `members`.
    fn perturb(
        &self,
        members: &[usize],
        conditions: &[Condition],
        settings: &StudySettings,
    ) -> Result<Vec<Vec<PreparedImage>>, RobustnessError> {
        let mut out = vec![Vec::with_capacity(members.len()); conditions.len()];
        match settings.suite {
            Suite::Bbox => {
                for &i in members {
                    let sample = &self.dataset.samples[self.tests[i].sample];
                    let (image, lesion) = image_and_box(sample)?;
                    for (c, condition) in conditions.iter().enumerate() {
                        let prepared = match condition.perturbation {
                            Perturbation::BboxCrop => {
                                let mut rng = condition_rng(settings.seed, &sample.id, condition);
                                let region = crop_region(
                                    &lesion,
                                    image.width,
                                    image.height,
                                    settings.margin,
                                    condition.parameter,
                                    &mut rng,
                                );
                                prepare_image(&crop(&image, region), &self.spec)
                            }
                            _ => prepare_image(&image, &self.spec),
                        };
                        out[c].push(prepared);
                    }
                }
            }
            Suite::Corruptions => {
                let images = self.prepared(members)?;
                for (&i, image) in members.iter().zip(&images) {
                    let id = &self.dataset.samples[self.tests[i].sample].id;
                    for (c, condition) in conditions.iter().enumerate() {
                        let mut rng = condition_rng(settings.seed, id, condition);
                        let prepared = match condition.perturbation {
                            Perturbation::Corruption(k) => {
                                k.apply(image, condition.level, &mut rng)?
                            }
                            _ => image.clone(),
                        };
                        out[c].push(prepared);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The test images `members` decoded and preprocessed as in training (any source).
    fn prepared(&self, members: &[usize]) -> Result<Vec<PreparedImage>, RobustnessError> {
        let subset = Dataset {
            class_names: self.dataset.class_names.clone(),
            samples: members
                .iter()
                .map(|&i| self.dataset.samples[self.tests[i].sample].clone())
                .collect(),
        };
        let cache = ImageCache::build(&subset, &self.spec, None)?;
        Ok((0..cache.len()).map(|i| cache.get(i).clone()).collect())
    }

    /// The model's positive-class probability for each image.
    fn positive_probabilities(&self, model: &Classifier, images: Vec<PreparedImage>) -> Vec<f64> {
        let n = images.len();
        let cache = ImageCache::from_images(self.spec, images);
        let indices: Vec<usize> = (0..n).collect();
        let x = image_batch(&cache, &indices, &self.input, None, &self.device);
        let probabilities = softmax(model.forward(x), 1).into_data();
        let values: Vec<f32> = probabilities.iter::<f32>().collect();
        let k = values.len() / n.max(1);
        let positive = self.positive;
        (0..n)
            .map(|i| f64::from(values[i * k + positive]))
            .collect()
    }
}

/// The random stream of one image under one condition: the same draws whichever fold, chunk
/// or order the image comes in.
fn condition_rng(seed: u64, image_id: &str, condition: &Condition) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix_seed(&[
        seed,
        fnv1a(image_id.as_bytes()),
        condition.perturbation.seed_code(),
        condition.level as u64,
    ]))
}

/// FNV-1a: a stable 64-bit hash of an image id (std's hasher may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The run's configuration, task and positive class, refusing runs a study cannot use.
fn read_run(run_dir: &Path) -> Result<(TrainConfig, TaskInfo, usize), RobustnessError> {
    if !run_dir.join(CONFIG).is_file() {
        return Err(RobustnessError::run(
            run_dir,
            format!("not a medxfer run folder (no {CONFIG})"),
        ));
    }
    if !run_dir.join(TASK).is_file() || !run_dir.join(PREDICTIONS).is_file() {
        return Err(RobustnessError::run(
            run_dir,
            format!(
                "this run is unfinished (no {TASK} or {PREDICTIONS} yet): finish it with `medxfer train` without --fold"
            ),
        ));
    }
    let config = TrainConfig::load(&run_dir.join(CONFIG), &[])?;
    let task = TaskInfo::read_json(&run_dir.join(TASK))?;
    if task.task != TaskKind::Classification {
        return Err(RobustnessError::run(
            run_dir,
            "a segmentation run: robustness studies need a classification run",
        ));
    }
    let positive = match (task.class_names.len(), task.positive_index()) {
        (2, Some(p)) => p,
        _ => {
            return Err(RobustnessError::run(
                run_dir,
                format!(
                    "robustness is scored by the AUC of a binary run with a positive class; this run has classes {} and positive class {:?}",
                    task.class_names.join(", "),
                    task.positive_class
                ),
            ));
        }
    };
    Ok((config, task, positive))
}

/// Every `fold_K/model.bpk` of the run with its fold number, in fold order.
fn fold_model_paths(run_dir: &Path) -> Result<Vec<(usize, PathBuf)>, RobustnessError> {
    let models: Vec<(usize, PathBuf)> = fold_files(run_dir, MODEL)
        .map_err(|e| RobustnessError::io(run_dir, e))?
        .into_iter()
        .filter_map(|model| Some((fold_of(&model)?, model)))
        .collect();
    if models.is_empty() {
        return Err(RobustnessError::run(
            run_dir,
            format!("no finished fold model ({FOLD_PREFIX}K/{MODEL})"),
        ));
    }
    Ok(models)
}

/// The run's out-of-fold test rows, each matched to its sample in the run's data.
fn test_images(
    run_dir: &Path,
    dataset: &Dataset,
    task: &TaskInfo,
    positive: usize,
) -> Result<Vec<TestImage>, RobustnessError> {
    let predictions = Predictions::read_csv(&run_dir.join(PREDICTIONS))?;
    let by_id: HashMap<&str, usize> = dataset
        .samples
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut tests = Vec::new();
    for row in predictions.rows.iter().filter(|r| r.split == Split::Test) {
        let Some(&sample) = by_id.get(row.image_id.as_str()) else {
            return Err(RobustnessError::run(
                run_dir.join(PREDICTIONS),
                format!(
                    "test image {:?} is not in the run's data any more",
                    row.image_id
                ),
            ));
        };
        tests.push(TestImage {
            sample,
            fold: row.fold,
            positive: row.label == task.class_names[positive],
            recorded: row.scores.get(positive).copied().unwrap_or(f64::NAN),
        });
    }
    if tests.is_empty() {
        return Err(RobustnessError::run(
            run_dir.join(PREDICTIONS),
            "has no test rows",
        ));
    }
    Ok(tests)
}
