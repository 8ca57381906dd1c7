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
use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskInfo};
use serde::Serialize;

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::batches::InputSpec;
use crate::config::{DeviceChoice, SplitConfig, TrainConfig};
use crate::fold::{FoldIndices, RunContext, train_fold};
use crate::model_setup::Architecture;
use crate::normalisation::{Normalisation, input_normalisation};
use crate::run_folder;

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

/// How to run: progress display and which folds to train.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub show_progress: bool,
    /// Train only these folds (empty: all of them).
    pub only_folds: Vec<usize>,
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

#[derive(Debug, Serialize)]
struct FoldRecord {
    fold: usize,
    n_train: usize,
    n_val: usize,
    n_test: usize,
    seconds: f64,
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

/// The dataset a config describes, classes filtered and ordered.
pub fn load_dataset(config: &TrainConfig) -> Result<Dataset, TrainError> {
    let dataset = Dataset::load(&config.data.source)?;
    let dataset = if config.data.classes.is_empty() {
        dataset
    } else {
        dataset.select_classes(&config.data.classes)?
    };
    if dataset.class_names.len() == 2 && config.data.positive.is_none() {
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

/// Train (or resume) the run a config describes.
pub fn run(config: &TrainConfig, options: &RunOptions) -> Result<RunSummary, TrainError> {
    let show_progress = options.show_progress;
    let out_dir = config.out_dir.clone();
    std::fs::create_dir_all(&out_dir).map_err(|e| TrainError::io(&out_dir, e))?;
    let dataset = load_dataset(config)?;
    let labels = dataset.labels();
    let positive = dataset.positive_class(config.data.positive.as_deref())?;
    // Only a configuration whose data loaded claims the folder, so a typo can be corrected.
    guard_same_config(config, &out_dir)?;
    let manifest = medxfer_data::manifest::manifest_hash(&dataset)?;
    let started = Instant::now();
    let cache = ImageCache::build(
        &dataset,
        &PreprocessSpec {
            size: config.data.image_size,
            channels: 1,
        },
        config.data.cache_dir.as_deref(),
    )?;
    eprintln!(
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
    );
    let folds = make_folds(config, &dataset, &labels)?;
    if let Some(&missing) = options
        .only_folds
        .iter()
        .find(|&&k| !folds.iter().any(|fold| fold.fold == k))
    {
        return Err(TrainError::invalid(
            "--fold",
            format!(
                "fold {missing} does not exist: this split has folds 0..{}",
                folds.len()
            ),
        ));
    }
    let duplicates = report_duplicates(&dataset, &cache, &folds)?;
    let device = resolve_device(config.device()?)?.autodiff();
    // A `--fold` process needs only its own folds' encoders, so fine-tuning can start while
    // the other folds still pretrain; the assembling run checks that all of them agree.
    let fold_numbers: Vec<usize> = if options.only_folds.is_empty() {
        folds.iter().map(|fold| fold.fold).collect()
    } else {
        options.only_folds.clone()
    };
    let normalisation = input_normalisation(config, &fold_numbers)?;
    normalisation.write(&out_dir)?;
    let Normalisation { mean, std, source } = normalisation;
    eprintln!("input normalisation: mean {mean:?}, std {std:?} ({source})");
    let ctx = RunContext {
        config,
        cache: &cache,
        labels: &labels,
        num_classes: dataset.class_names.len(),
        positive,
        input: InputSpec {
            size: config.data.image_size as usize,
            channels: config.model.in_channels,
            mean,
            std,
        },
        augmenter: (!config.augment.is_identity())
            .then(|| Augmenter::new(config.augment.clone()))
            .transpose()?,
        architecture: Architecture {
            backbone: config.model.backbone,
            in_channels: config.model.in_channels,
            head: config.model.head.clone(),
            num_classes: dataset.class_names.len(),
        },
        device,
        show_progress,
    };

    let mut predictions = Predictions {
        class_names: dataset.class_names.clone(),
        rows: Vec::new(),
    };
    let mut fold_records = Vec::new();
    if !options.only_folds.is_empty() {
        let mut trained = Vec::new();
        for fold in folds
            .iter()
            .filter(|fold| options.only_folds.contains(&fold.fold))
        {
            train_fold(&ctx, fold, &out_dir.join(format!("fold_{}", fold.fold)))?;
            trained.push(fold.fold);
        }
        return Ok(RunSummary::Partial { out_dir, trained });
    }
    for fold in &folds {
        eprintln!(
            "fold {}: {} train / {} val / {} test",
            fold.fold,
            fold.train.len(),
            fold.val.len(),
            fold.test.len()
        );
        let outcome = train_fold(&ctx, fold, &out_dir.join(format!("fold_{}", fold.fold)))?;
        let k = ctx.num_classes;
        for (split, indices, probs) in [
            (Split::Val, &fold.val, &outcome.val_probs),
            (Split::Test, &fold.test, &outcome.test_probs),
        ] {
            for (row, &i) in indices.iter().enumerate() {
                predictions.rows.push(PredictionRow {
                    image_id: dataset.samples[i].id.clone(),
                    fold: fold.fold,
                    split,
                    label: dataset.class_names[labels[i]].clone(),
                    scores: probs[row * k..(row + 1) * k]
                        .iter()
                        .map(|&p| p as f64)
                        .collect(),
                });
            }
        }
        fold_records.push(FoldRecord {
            fold: fold.fold,
            n_train: fold.train.len(),
            n_val: fold.val.len(),
            n_test: fold.test.len(),
            seconds: outcome.seconds,
        });
    }

    predictions.write_csv(&out_dir.join("predictions.csv"))?;
    TaskInfo {
        class_names: dataset.class_names.clone(),
        positive_class: config.data.positive.clone(),
    }
    .write_json(&out_dir.join("task.json"))?;
    let record = RunRecord {
        seed: config.seed,
        code_version: CODE_VERSION,
        data_manifest_sha256: &manifest,
        class_names: &dataset.class_names,
        class_counts: dataset.class_counts(),
        positive_class: config.data.positive.as_deref(),
        device: &config.device,
        threads: rayon::current_num_threads(),
        image_size: config.data.image_size,
        exact_duplicates: &duplicates,
        folds: fold_records,
    };
    let text =
        serde_json::to_string_pretty(&record).map_err(|e| TrainError::Other(e.to_string()))?;
    write_atomic(&out_dir.join("run.json"), text.as_bytes())?;
    Ok(RunSummary::Complete {
        out_dir,
        fold_seconds: record.folds.iter().map(|f| f.seconds).collect(),
    })
}

/// A run folder belongs to one configuration: resuming with a different one would mix runs.
fn guard_same_config(config: &TrainConfig, out_dir: &Path) -> Result<(), TrainError> {
    run_folder::guard_same_config(out_dir, &config.to_toml_string(), |path| {
        Ok(&TrainConfig::load(path, &[])? == config)
    })
}

/// Warn about identical images: with conflicting labels, or landing in different test folds
/// (a leak between training and test data).
fn report_duplicates(
    dataset: &Dataset,
    cache: &ImageCache,
    folds: &[FoldIndices],
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
        eprintln!("warning: {line}");
        lines.push(line);
    }
    Ok(lines)
}

pub(crate) fn make_folds(
    config: &TrainConfig,
    dataset: &Dataset,
    labels: &[usize],
) -> Result<Vec<FoldIndices>, TrainError> {
    let groups = dataset.groups();
    let groups = groups.as_deref();
    let seed = config.seed;
    match &config.split {
        SplitConfig::Kfold {
            folds,
            val_fraction,
        } => {
            let kfold = stratified_kfold(labels, groups, *folds, seed)?;
            Ok(kfold
                .into_iter()
                .enumerate()
                .map(|(k, fold)| {
                    let (train, val) = stratified_holdout(
                        &fold.train,
                        labels,
                        groups,
                        *val_fraction,
                        seed.wrapping_add(k as u64),
                    );
                    FoldIndices {
                        fold: k,
                        train,
                        val,
                        test: fold.test,
                    }
                })
                .collect())
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
