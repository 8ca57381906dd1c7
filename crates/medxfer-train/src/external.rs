//! External validation: a finished run's fold models, unchanged, applied to another dataset
//! (another hospital, scanner or collection). Every fold model predicts every image, and the
//! results are written in the run's own contract (`predictions.csv` or `segmentations.csv`,
//! one fold per model, every image a test image) into a folder of their own, so that
//! `medxfer evaluate` reports them as it reports a run: mean ± sd over the fold models and
//! bootstrap confidence intervals.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use medxfer_atomic::FolderLock;
use medxfer_atomic::run_files::{CONFIG, EXTERNAL, PREDICTIONS, SEGMENTATIONS, TASK, fold_of};
use medxfer_data::cache::ImageCache;
use medxfer_data::dataset::Dataset;
use medxfer_data::{PreparedMask, validate_masks};
use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskInfo, TaskKind};
use medxfer_eval::segmentations::Segmentations;
use medxfer_events::{Reporter, TaskKind as ProgressKind};
use medxfer_models::UNetConfig;

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::config::{DataConfig, TrainConfig, load_toml_file, parse_with_overrides};
use crate::fold::{FoldIndices, RunContext, TestTimeAugmentation, predict_images_with};
use crate::model_setup::Architecture;
use crate::normalisation::Normalisation;
use crate::predict::{check_finished, fold_models};
use crate::run::{decode_images, input_spec, load_dataset, resolve_device};
use crate::segmentation::task::{Segmentation, SegmentationContext};
use crate::segmentation::{WrittenInputs, write_fold_masks};

/// The file `--data` names: a `[data]` table as in a run configuration. The image size,
/// channels and input normalisation are the run's, whatever the table says.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalDataFile {
    data: DataConfig,
}

/// What `external.json` records: which run was validated on which data.
#[derive(Debug, serde::Serialize)]
struct ExternalRecord<'a> {
    run_dir: &'a Path,
    data_file: &'a Path,
    data: &'a DataConfig,
    images: usize,
    fold_models: Vec<usize>,
    test_time_augmentation: TestTimeAugmentation,
}

/// Validate the finished run in `run_dir` on the data `data_file` describes; the results go
/// to `out_dir`, which must be new, empty, or an earlier external validation (replaced).
pub fn validate_external(
    run_dir: &Path,
    data_file: &Path,
    out_dir: &Path,
    events: &dyn Reporter,
) -> Result<TaskKind, TrainError> {
    validate_external_with(
        run_dir,
        data_file,
        out_dir,
        TestTimeAugmentation::None,
        events,
    )
}

/// [`validate_external`] with test-time augmentation (classification runs only).
pub fn validate_external_with(
    run_dir: &Path,
    data_file: &Path,
    out_dir: &Path,
    tta: TestTimeAugmentation,
    events: &dyn Reporter,
) -> Result<TaskKind, TrainError> {
    check_finished(run_dir)?;
    let run_config = TrainConfig::load(&run_dir.join(CONFIG), &[])?;
    let task = TaskInfo::read_json(&run_dir.join(TASK))?;
    let models: Vec<(usize, PathBuf)> = fold_models(run_dir)?
        .into_iter()
        .filter_map(|path| fold_of(&path).map(|fold| (fold, path)))
        .collect();
    if tta != TestTimeAugmentation::None && task.task != TaskKind::Classification {
        return Err(TrainError::Config {
            path: run_dir.join(TASK),
            message: format!(
                "test-time augmentation is for classification runs; this is a {} run",
                task.task
            ),
        });
    }
    let config = external_config(&run_config, data_file)?;
    refuse_output(out_dir, run_dir)?;
    config.data.apply_decode_limits();
    let dataset = load_dataset(&config)?;
    let cache = decode_images(&config, &dataset, events)?;
    // Only once the data is known to load: a failed start leaves no folder behind.
    let _lock = claim_output(out_dir, run_dir)?;
    events.note(format!(
        "external validation by {} fold model(s) of {}",
        models.len(),
        run_dir.display()
    ));
    let every_image: Vec<usize> = (0..dataset.len()).collect();
    let setup = ExternalSetup {
        config: &config,
        normalisation: Normalisation::read(run_dir, &run_config)?,
        device: resolve_device(config.device()?)?.autodiff(),
        dataset: &dataset,
        cache: &cache,
        every_image: &every_image,
    };
    match task.task {
        TaskKind::Classification => classify(&setup, &task, &models, tta, out_dir, events)?,
        TaskKind::Segmentation => segment(&setup, &models, out_dir, events)?,
    }
    // Absolute, so `medxfer evaluate` finds the run from any working directory.
    let run_dir_absolute = run_dir
        .canonicalize()
        .map_err(|e| TrainError::io(run_dir, e))?;
    let record = ExternalRecord {
        run_dir: &run_dir_absolute,
        data_file,
        data: &config.data,
        images: dataset.len(),
        fold_models: models.iter().map(|(fold, _)| *fold).collect(),
        test_time_augmentation: tta,
    };
    let text =
        serde_json::to_string_pretty(&record).map_err(|e| TrainError::Other(e.to_string()))?;
    write_atomic(&out_dir.join(EXTERNAL), text.as_bytes())?;
    Ok(task.task)
}

/// The run's configuration with the external `[data]` table, at the run's image size.
fn external_config(run: &TrainConfig, data_file: &Path) -> Result<TrainConfig, TrainError> {
    let parsed: ExternalDataFile = load_toml_file(data_file, &[], parse_with_overrides)?;
    let mut config = run.clone();
    config.data = DataConfig {
        image_size: run.data.image_size,
        positive: run.data.positive.clone(),
        ..parsed.data
    };
    Ok(config)
}

/// Create and lock `out_dir` for the results, after [`refuse_output`] passes.
fn claim_output(out_dir: &Path, run_dir: &Path) -> Result<FolderLock, TrainError> {
    refuse_output(out_dir, run_dir)?;
    std::fs::create_dir_all(out_dir).map_err(|e| TrainError::io(out_dir, e))?;
    FolderLock::acquire(out_dir).map_err(|e| crate::run_folder::lock_error(out_dir, e))
}

/// Refuse the run folder itself and any folder that holds something other than an earlier
/// external validation (nothing is created).
fn refuse_output(out_dir: &Path, run_dir: &Path) -> Result<(), TrainError> {
    let refuse = |message: String| TrainError::Config {
        path: out_dir.to_path_buf(),
        message,
    };
    let same_as_run = out_dir
        .canonicalize()
        .ok()
        .zip(run_dir.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    if same_as_run {
        return Err(refuse(
            "is the validated run's own folder: choose another --out".into(),
        ));
    }
    match std::fs::read_dir(out_dir) {
        Ok(entries) => {
            let names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != medxfer_atomic::run_files::LOCK)
                .collect();
            if !names.is_empty() && !out_dir.join(EXTERNAL).exists() {
                return Err(refuse(format!(
                    "holds files that are not an external validation ({}): choose an empty or new folder",
                    names.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(TrainError::io(out_dir, e)),
    }
    Ok(())
}

/// What both tasks need to run the fold models over the external images.
struct ExternalSetup<'a> {
    config: &'a TrainConfig,
    normalisation: Normalisation,
    device: Device,
    dataset: &'a Dataset,
    cache: &'a ImageCache,
    every_image: &'a [usize],
}

impl ExternalSetup<'_> {
    /// Model `fold` sees every image as a test image.
    fn fold(&self, fold: usize) -> FoldIndices {
        FoldIndices {
            fold,
            train: Vec::new(),
            val: Vec::new(),
            test: self.every_image.to_vec(),
        }
    }
}

/// Each class of the external data as the run's label index; a class the run never learnt
/// is an error naming it.
fn run_labels(dataset: &Dataset, run_classes: &[String]) -> Result<Vec<usize>, TrainError> {
    let index_of = |name: &str| run_classes.iter().position(|c| c == name);
    for name in &dataset.class_names {
        if index_of(name).is_none() {
            return Err(TrainError::invalid(
                "data.classes",
                format!(
                    "the external data has class \"{name}\", which the run did not learn ({}); select the shared classes with data.classes",
                    run_classes.join(", ")
                ),
            ));
        }
    }
    Ok(dataset
        .samples
        .iter()
        .map(|s| index_of(&dataset.class_names[s.label]).unwrap_or_default())
        .collect())
}

fn classify(
    setup: &ExternalSetup,
    task: &TaskInfo,
    models: &[(usize, PathBuf)],
    tta: TestTimeAugmentation,
    out_dir: &Path,
    events: &dyn Reporter,
) -> Result<(), TrainError> {
    let labels = run_labels(setup.dataset, &task.class_names)?;
    let num_classes = task.class_names.len();
    let architecture = Architecture {
        backbone: setup.config.model.backbone,
        in_channels: setup.config.model.in_channels,
        head: setup.config.model.head.clone(),
        num_classes,
    };
    let ctx = RunContext {
        config: setup.config,
        cache: setup.cache,
        labels: &labels,
        num_classes,
        positive: task
            .positive_class
            .as_ref()
            .and_then(|p| task.class_names.iter().position(|c| c == p)),
        input: input_spec(setup.config, setup.normalisation.clone()),
        augmenter: None,
        architecture: architecture.clone(),
        device: setup.device.clone(),
        events,
    };
    let mut predictions = Predictions {
        class_names: task.class_names.clone(),
        rows: Vec::new(),
    };
    let progress = events.task("fold models", models.len(), ProgressKind::Work);
    for (fold, path) in models {
        let model = architecture.load(path, &setup.device)?;
        let probs = predict_images_with(&ctx, &model, setup.every_image, tta);
        for (&i, scores) in setup.every_image.iter().zip(probs.chunks(num_classes)) {
            let sample = &setup.dataset.samples[i];
            predictions.rows.push(PredictionRow {
                image_id: sample.id.clone(),
                fold: *fold,
                split: Split::Test,
                label: task.class_names[labels[i]].clone(),
                source: sample.origin.clone(),
                center: sample.center.clone(),
                scores: scores.iter().map(|&p| f64::from(p)).collect(),
            });
        }
        progress.step(Some(format!("fold {fold}")));
    }
    drop(progress);
    predictions.write_csv(&out_dir.join(PREDICTIONS))?;
    task.write_json(&out_dir.join(TASK))?;
    Ok(())
}

fn segment(
    setup: &ExternalSetup,
    models: &[(usize, PathBuf)],
    out_dir: &Path,
    events: &dyn Reporter,
) -> Result<(), TrainError> {
    let segmentation = setup.config.segmentation.clone().unwrap_or_default();
    validate_masks(setup.dataset, segmentation.missing_masks)?;
    let masks: Vec<PreparedMask> = (0..setup.dataset.len())
        .map(|i| match setup.cache.mask(i) {
            Some(mask) => mask.clone(),
            None => PreparedMask::background(setup.cache.get(i).size),
        })
        .collect();
    let unet = UNetConfig::new(
        setup.config.model.backbone,
        setup.config.model.in_channels,
        1,
    )
    .with_decoder_channels(segmentation.decoder_channels.clone());
    let ctx = SegmentationContext {
        config: setup.config,
        segmentation: &segmentation,
        cache: setup.cache,
        masks: &masks,
        input: input_spec(setup.config, setup.normalisation.clone()),
        augmenter: None,
        unet,
        device: setup.device.clone(),
    };
    let mut rows = Vec::new();
    let mut written = WrittenInputs::new();
    let progress = events.task("fold models", models.len(), ProgressKind::Work);
    for (fold, path) in models {
        let model = Segmentation { ctx: &ctx }.load_model(path)?;
        rows.extend(write_fold_masks(
            &ctx,
            setup.dataset,
            &model,
            &setup.fold(*fold),
            out_dir,
            &mut written,
        )?);
        progress.step(Some(format!("fold {fold}")));
    }
    drop(progress);
    Segmentations { rows }.write_csv(&out_dir.join(SEGMENTATIONS))?;
    TaskInfo {
        class_names: setup.dataset.class_names.clone(),
        positive_class: None,
        task: TaskKind::Segmentation,
    }
    .write_json(&out_dir.join(TASK))?;
    Ok(())
}
