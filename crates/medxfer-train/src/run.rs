//! A whole training run: data, splits, one model per fold, the predictions file and the run
//! record. Re-running the same config on the same folder resumes where it stopped.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use medxfer_data::augment::Augmenter;
use medxfer_data::cache::ImageCache;
use medxfer_data::dataset::{Dataset, SplitName};
use medxfer_data::preprocess::PreprocessSpec;
use medxfer_data::split::{stratified_holdout, stratified_kfold, stratified_split};
use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskInfo, TaskKind};
use serde::Serialize;

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::batches::InputSpec;
use crate::config::{DeviceChoice, SplitConfig, TrainConfig};
use crate::fold::{FoldIndices, RunContext, train_fold};
use crate::model_setup::Architecture;
use crate::normalisation::{Normalisation, input_normalisation};
use crate::run_folder::{DataFingerprint, RunFolder};
use crate::segmentation::config::TaskChoice;
use medxfer_atomic::run_files::{PREDICTIONS, RUN_RECORD, TASK, fold_dir_name};
use medxfer_events::Reporter;

/// What a run produced.
#[derive(Debug)]
pub enum RunSummary {
    /// Every fold is trained; predictions, task and run record are written.
    Complete {
        out_dir: PathBuf,
        fold_seconds: Vec<f64>,
    },
    /// Only the requested folds were trained (e.g. one process per fold); running again
    /// without a fold selection assembles the predictions from the finished folds.
    Partial {
        out_dir: PathBuf,
        trained: Vec<usize>,
    },
}

/// How to run: which folds to train, and whether a resume may see changed data.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Train only these folds (empty: all of them).
    pub only_folds: Vec<usize>,
    /// Resume even when the images differ from those the run started on.
    pub allow_data_change: bool,
}

/// Facts about the run kept beside its outputs (`run.json`).
#[derive(Debug, Serialize)]
struct RunRecord<'a> {
    seed: u64,
    code_version: &'static str,
    data_manifest_sha256: &'a str,
    class_names: &'a [String],
    class_counts: Vec<usize>,
    positive_class: Option<&'a str>,
    device: &'a str,
    threads: usize,
    image_size: u32,
    exact_duplicates: &'a [String],
    folds: Vec<FoldRecord>,
}

/// A fold's sizes and training wall time, in `run.json`.
#[derive(Debug, Serialize)]
pub struct FoldRecord {
    fold: usize,
    n_train: usize,
    n_val: usize,
    n_test: usize,
    seconds: f64,
}

impl FoldRecord {
    pub fn of(fold: &FoldIndices, seconds: f64) -> Self {
        FoldRecord {
            fold: fold.fold,
            n_train: fold.train.len(),
            n_val: fold.val.len(),
            n_test: fold.test.len(),
            seconds,
        }
    }
}

pub const CODE_VERSION: &str = env!("MEDXFER_CODE_VERSION");

/// Resolve the device a config asks for.
pub fn resolve_device(choice: DeviceChoice) -> Result<Device, TrainError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda(index) => Ok(Device::cuda(index)),
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda(_) => Err(TrainError::invalid(
            "device",
            "this medxfer was built without CUDA; rebuild with `--features cuda`",
        )),
    }
}

/// Decode (or load from the cache) and preprocess every image at the run's size, saying how
/// many of each class and how long it took.
pub fn decode_images(
    config: &TrainConfig,
    dataset: &Dataset,
    events: &dyn Reporter,
) -> Result<ImageCache, TrainError> {
    let started = Instant::now();
    let cache = ImageCache::build(
        dataset,
        &PreprocessSpec {
            size: config.data.image_size,
            channels: 1,
        },
        config.data.cache_dir.as_deref(),
    )?;
    events.note(format!(
        "data: {} images ({}) decoded/loaded in {:.1}s",
        dataset.len(),
        dataset
            .class_names
            .iter()
            .zip(dataset.class_counts())
            .map(|(n, c)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    ));
    Ok(cache)
}

/// The dataset a config describes, classes filtered and ordered.
pub fn load_dataset(config: &TrainConfig) -> Result<Dataset, TrainError> {
    let dataset = Dataset::load(&config.data.source)?;
    let dataset = if config.data.classes.is_empty() {
        dataset
    } else {
        dataset.select_classes(&config.data.classes)?
    };
    if config.task == TaskChoice::Classification
        && dataset.class_names.len() == 2
        && config.data.positive.is_none()
    {
        return Err(TrainError::invalid(
            "data.positive",
            format!(
                "two classes ({}): name the positive class, e.g. positive = \"{}\"",
                dataset.class_names.join(", "),
                dataset.class_names[1]
            ),
        ));
    }
    Ok(dataset)
}

/// Train (or resume) the run a config describes. Everything is checked (data, folds,
/// encoders, masks) before the run folder is claimed, so a failed start leaves no folder.
pub fn run(
    config: &TrainConfig,
    options: &RunOptions,
    events: &dyn Reporter,
) -> Result<RunSummary, TrainError> {
    let prepared = PreparedRun::new(config, options, events)?;
    match config.task {
        TaskChoice::Classification => run_classification(config, options, prepared, events),
        TaskChoice::Segmentation => crate::segmentation::run(config, options, prepared, events),
    }
}

/// The folds a config's split makes (file lists only: no image is decoded), e.g. to hand
/// them to separate `--fold` processes.
pub fn fold_numbers(config: &TrainConfig) -> Result<Vec<usize>, TrainError> {
    let dataset = load_dataset(config)?;
    let labels = dataset.labels();
    let folds = make_folds(config, &dataset, &labels)?;
    Ok(folds.iter().map(|fold| fold.fold).collect())
}

/// What every task's run needs, loaded and checked before the run folder is claimed.
pub struct PreparedRun {
    pub dataset: Dataset,
    pub labels: Vec<usize>,
    pub positive: Option<usize>,
    manifest: String,
    pub cache: ImageCache,
    pub folds: Vec<FoldIndices>,
    /// The folds this process trains (`--fold`, or all).
    pub fold_numbers: Vec<usize>,
    duplicates: Vec<String>,
    normalisation: Normalisation,
    /// The training device (autodiff enabled).
    pub device: Device,
}

impl PreparedRun {
    fn new(
        config: &TrainConfig,
        options: &RunOptions,
        events: &dyn Reporter,
    ) -> Result<Self, TrainError> {
        config.data.apply_decode_limits();
        let dataset = load_dataset(config)?;
        let labels = dataset.labels();
        let positive = match config.task {
            TaskChoice::Classification => {
                dataset.positive_class(config.data.positive.as_deref())?
            }
            TaskChoice::Segmentation => None,
        };
        let manifest = medxfer_data::manifest::manifest_hash(&dataset)?;
        let cache = decode_images(config, &dataset, events)?;
        let folds = make_folds(config, &dataset, &labels)?;
        let fold_numbers = selected_folds(&folds, &options.only_folds)?;
        check_validation_splits(&folds, &labels, &dataset.class_names, config.task, events)?;
        let duplicates = report_duplicates(&dataset, &cache, &folds, events)?;
        // A `--fold` process needs only its own folds' encoders, so fine-tuning can start
        // while the other folds still pretrain; the assembling run checks all of them.
        let normalisation = input_normalisation(config, &fold_numbers, events)?;
        let device = resolve_device(config.device()?)?.autodiff();
        Ok(PreparedRun {
            dataset,
            labels,
            positive,
            manifest,
            cache,
            folds,
            fold_numbers,
            duplicates,
            normalisation,
            device,
        })
    }

    /// Claim the run folder (see [`RunFolder::claim`]) and record the input normalisation. A
    /// `--fold` process then holds only its folds' locks, so several can share the run.
    pub fn claim(
        &self,
        config: &TrainConfig,
        options: &RunOptions,
        events: &dyn Reporter,
    ) -> Result<(RunFolder, Normalisation), TrainError> {
        let mut folder = RunFolder::claim_for(
            config,
            &DataFingerprint {
                sha256: self.manifest.clone(),
                images: self.dataset.len(),
            },
            options.allow_data_change,
            events,
        )?;
        self.normalisation.write(folder.path())?;
        if !options.only_folds.is_empty() {
            folder.release_to_fold_locks();
        }
        let Normalisation { mean, std, source } = &self.normalisation;
        events.note(format!(
            "input normalisation: mean {mean:?}, std {std:?} ({source})"
        ));
        Ok((folder, self.normalisation.clone()))
    }

    /// Write `run.json` (provenance and per-fold wall times) once every fold is done.
    pub fn write_record(
        &self,
        config: &TrainConfig,
        folds: Vec<FoldRecord>,
        out_dir: &Path,
    ) -> Result<RunSummary, TrainError> {
        let record = RunRecord {
            seed: config.seed,
            code_version: CODE_VERSION,
            data_manifest_sha256: &self.manifest,
            class_names: &self.dataset.class_names,
            class_counts: self.dataset.class_counts(),
            positive_class: config.data.positive.as_deref(),
            device: &config.device,
            threads: rayon::current_num_threads(),
            image_size: config.data.image_size,
            exact_duplicates: &self.duplicates,
            folds,
        };
        let text =
            serde_json::to_string_pretty(&record).map_err(|e| TrainError::Other(e.to_string()))?;
        write_atomic(&out_dir.join(RUN_RECORD), text.as_bytes())?;
        Ok(RunSummary::Complete {
            out_dir: out_dir.to_path_buf(),
            fold_seconds: record.folds.iter().map(|f| f.seconds).collect(),
        })
    }
}

/// What the network is fed: the configured size and channels, normalised as recorded.
pub fn input_spec(config: &TrainConfig, normalisation: Normalisation) -> InputSpec {
    InputSpec {
        size: config.data.image_size as usize,
        channels: config.model.in_channels,
        mean: normalisation.mean,
        std: normalisation.std,
    }
}

/// The configured augmentations, or None when they change nothing.
pub fn augmenter(config: &TrainConfig) -> Result<Option<Augmenter>, TrainError> {
    Ok((!config.augment.is_identity())
        .then(|| Augmenter::new(config.augment))
        .transpose()?)
}

fn run_classification(
    config: &TrainConfig,
    options: &RunOptions,
    prepared: PreparedRun,
    events: &dyn Reporter,
) -> Result<RunSummary, TrainError> {
    let (folder, normalisation) = prepared.claim(config, options, events)?;
    let out_dir = folder.path().to_path_buf();
    let num_classes = prepared.dataset.class_names.len();
    let ctx = RunContext {
        config,
        cache: &prepared.cache,
        labels: &prepared.labels,
        num_classes,
        positive: prepared.positive,
        input: input_spec(config, normalisation),
        augmenter: augmenter(config)?,
        architecture: Architecture {
            backbone: config.model.backbone,
            in_channels: config.model.in_channels,
            head: config.model.head.clone(),
            num_classes,
        },
        device: prepared.device.clone(),
        events,
    };
    if !options.only_folds.is_empty() {
        for fold in prepared
            .folds
            .iter()
            .filter(|f| prepared.fold_numbers.contains(&f.fold))
        {
            train_fold(&ctx, fold, &out_dir.join(fold_dir_name(fold.fold)))?;
        }
        return Ok(RunSummary::Partial {
            out_dir,
            trained: prepared.fold_numbers.clone(),
        });
    }
    let fold_records = train_all_folds(&ctx, &prepared.dataset, &prepared.folds, &out_dir)?;
    prepared.write_record(config, fold_records, &out_dir)
}

/// The folds `--fold` selects (all when none is given); an unknown fold is an error.
fn selected_folds(folds: &[FoldIndices], only: &[usize]) -> Result<Vec<usize>, TrainError> {
    if let Some(&missing) = only.iter().find(|&&k| !folds.iter().any(|f| f.fold == k)) {
        return Err(TrainError::invalid(
            "--fold",
            format!(
                "fold {missing} does not exist: this split has folds 0 to {}",
                folds.len().saturating_sub(1)
            ),
        ));
    }
    Ok(if only.is_empty() {
        folds.iter().map(|fold| fold.fold).collect()
    } else {
        only.to_vec()
    })
}

/// The best epoch is chosen on the validation split: without images it cannot be chosen (an
/// error); with one class AUC is undefined and the validation loss decides (a warning).
fn check_validation_splits(
    folds: &[FoldIndices],
    labels: &[usize],
    class_names: &[String],
    task: TaskChoice,
    events: &dyn Reporter,
) -> Result<(), TrainError> {
    for fold in folds {
        let Some(&first) = fold.val.first() else {
            return Err(TrainError::invalid(
                "split.val_fraction",
                format!(
                    "fold {} has no validation images ({} training images): raise val_fraction or use more data",
                    fold.fold,
                    fold.train.len()
                ),
            ));
        };
        // Dice is defined on any validation split; AUC needs two classes.
        if task == TaskChoice::Classification
            && fold.val.iter().all(|&i| labels[i] == labels[first])
        {
            events.warn(format!(
                "fold {}: the validation split has {} image(s), all {}: validation AUC is undefined, so the best epoch is chosen by the lowest validation loss; a larger val_fraction gives a sounder choice",
                fold.fold,
                fold.val.len(),
                class_names[labels[first]]
            ));
        }
    }
    Ok(())
}

/// Train (or reuse) every fold and write the predictions file and the task description.
fn train_all_folds(
    ctx: &RunContext,
    dataset: &Dataset,
    folds: &[FoldIndices],
    out_dir: &Path,
) -> Result<Vec<FoldRecord>, TrainError> {
    let mut predictions = Predictions {
        class_names: dataset.class_names.clone(),
        rows: Vec::new(),
    };
    let mut fold_records = Vec::new();
    let k = ctx.num_classes;
    for fold in folds {
        ctx.events.note(format!(
            "fold {}: {} train / {} val / {} test",
            fold.fold,
            fold.train.len(),
            fold.val.len(),
            fold.test.len()
        ));
        let outcome = train_fold(ctx, fold, &out_dir.join(fold_dir_name(fold.fold)))?;
        for (split, indices, probs) in [
            (Split::Val, &fold.val, &outcome.val_probs),
            (Split::Test, &fold.test, &outcome.test_probs),
        ] {
            for (row, &i) in indices.iter().enumerate() {
                let sample = &dataset.samples[i];
                predictions.rows.push(PredictionRow {
                    image_id: sample.id.clone(),
                    fold: fold.fold,
                    split,
                    label: dataset.class_names[ctx.labels[i]].clone(),
                    source: sample.origin.clone(),
                    center: sample.center.clone(),
                    scores: probs[row * k..(row + 1) * k]
                        .iter()
                        .map(|&p| p as f64)
                        .collect(),
                });
            }
        }
        fold_records.push(FoldRecord::of(fold, outcome.seconds));
    }
    predictions.write_csv(&out_dir.join(PREDICTIONS))?;
    TaskInfo {
        class_names: dataset.class_names.clone(),
        positive_class: ctx.config.data.positive.clone(),
        task: TaskKind::Classification,
    }
    .write_json(&out_dir.join(TASK))?;
    Ok(fold_records)
}

/// Warn about identical images: with conflicting labels, or landing in different test folds
/// (a leak between training and test data).
fn report_duplicates(
    dataset: &Dataset,
    cache: &ImageCache,
    folds: &[FoldIndices],
    events: &dyn Reporter,
) -> Result<Vec<String>, TrainError> {
    let groups = medxfer_data::duplicates::find_exact_duplicates(dataset, cache)?;
    let mut test_fold = vec![usize::MAX; dataset.len()];
    for fold in folds {
        for &i in &fold.test {
            test_fold[i] = fold.fold;
        }
    }
    let mut lines = Vec::new();
    for group in &groups {
        let line = match group.warning() {
            Some(w) if group.crosses_parts(&test_fold) => {
                format!("{w}; they fall in different test folds")
            }
            Some(w) => w,
            None if group.crosses_parts(&test_fold) => {
                format!(
                    "exact duplicate images fall in different test folds (train/test leak): {group}"
                )
            }
            None => format!("exact duplicate images: {group}"),
        };
        events.warn(line.clone());
        lines.push(line);
    }
    Ok(lines)
}

/// Each fold's training part split (stratified, patient-grouped) into training and validation.
fn with_validation(
    folds: Vec<medxfer_data::Fold>,
    labels: &[usize],
    groups: Option<&[String]>,
    val_fraction: f64,
    seed: u64,
) -> Vec<FoldIndices> {
    folds
        .into_iter()
        .enumerate()
        .map(|(k, fold)| {
            let (train, val) = stratified_holdout(
                &fold.train,
                labels,
                groups,
                val_fraction,
                seed.wrapping_add(k as u64),
            );
            FoldIndices {
                fold: k,
                train,
                val,
                test: fold.test,
            }
        })
        .collect()
}

/// What splits stratify on: the class, or in a multi-source dataset the (source, class)
/// pair, so every fold holds each source's classes in the same proportions.
fn strata(dataset: &Dataset, labels: &[usize]) -> Vec<usize> {
    let num_classes = labels.iter().max().map_or(1, |&m| m + 1);
    match dataset.origins() {
        Some((_, origin)) => origin
            .iter()
            .zip(labels)
            .map(|(&o, &label)| o * num_classes + label)
            .collect(),
        None => labels.to_vec(),
    }
}

pub fn make_folds(
    config: &TrainConfig,
    dataset: &Dataset,
    labels: &[usize],
) -> Result<Vec<FoldIndices>, TrainError> {
    let groups = dataset.groups();
    let groups = groups.as_deref();
    let seed = config.seed;
    let strata = strata(dataset, labels);
    let labels = strata.as_slice();
    match &config.split {
        SplitConfig::Kfold {
            folds,
            val_fraction,
        } => {
            let kfold = stratified_kfold(labels, groups, *folds, seed)?;
            Ok(with_validation(kfold, labels, groups, *val_fraction, seed))
        }
        SplitConfig::DatasetFolds { val_fraction } => {
            let folds = medxfer_data::predefined_kfold(dataset)?;
            Ok(with_validation(folds, labels, groups, *val_fraction, seed))
        }
        SplitConfig::LeaveOneGroupOut { by, val_fraction } => {
            let (folds, _) = medxfer_data::leave_one_group_out(dataset, *by)?;
            Ok(with_validation(folds, labels, groups, *val_fraction, seed))
        }
        SplitConfig::Holdout {
            val_fraction,
            test_fraction,
        } => {
            let s = stratified_split(
                labels,
                groups,
                [
                    1.0 - val_fraction - test_fraction,
                    *val_fraction,
                    *test_fraction,
                ],
                seed,
            )?;
            Ok(vec![FoldIndices {
                fold: 0,
                train: s.train,
                val: s.val,
                test: s.test,
            }])
        }
        SplitConfig::Predefined => {
            let fold = FoldIndices {
                fold: 0,
                train: dataset.split_indices(SplitName::Train),
                val: dataset.split_indices(SplitName::Val),
                test: dataset.split_indices(SplitName::Test),
            };
            if fold.train.is_empty() || fold.val.is_empty() || fold.test.is_empty() {
                return Err(TrainError::invalid(
                    "split",
                    format!(
                        "`predefined` needs train, val and test samples in {}; found {} / {} / {}",
                        config.data.source.location().display(),
                        fold.train.len(),
                        fold.val.len(),
                        fold.test.len()
                    ),
                ));
            }
            Ok(vec![fold])
        }
    }
}
