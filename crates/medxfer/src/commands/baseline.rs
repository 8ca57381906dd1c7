//! `medxfer baseline`: a classical model (k-NN, logistic regression, elastic net, linear or
//! RBF SVM) on downsampled pixels, frozen backbone features or IBSI radiomics features of the
//! lesion mask, with hyperparameters chosen by
//! nested cross-validation, on exactly the folds `medxfer train` makes for the same config. The
//! output folder holds the same `predictions.csv` and `task.json` as a training run, so
//! `medxfer evaluate` and `medxfer compare` work on it.

mod radiomics;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use medxfer_atomic::run_files::{BASELINE, CONFIG, PREDICTIONS, TASK};
use medxfer_baseline::nested::Labelled;
use medxfer_baseline::params::grid;
use medxfer_baseline::{FoldResult, Hyperparams, Matrix, ModelKind, NestedCvOptions, OuterFold};
use medxfer_data::cache::ImageCache;
use medxfer_data::dataset::Dataset;
use medxfer_data::preprocess::PreprocessSpec;
use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskInfo, TaskKind};
use medxfer_events::Reporter;

use super::output_folder::{claim_output, refuse_output};
use medxfer_radiomics::{Aggregation, Discretisation, Family, RadiomicsConfig};
use medxfer_train::TrainConfig;
use medxfer_train::fold::FoldIndices;
use medxfer_train::frozen_features::frozen_backbone_features;
use medxfer_train::run::{decode_images, load_dataset, make_folds};
use medxfer_train::segmentation::config::TaskChoice;
use serde::Serialize;

/// What the classical model sees of each image.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSource {
    /// The grey image, preprocessed as training does, resized to --pixel-size, flattened.
    Pixels,
    /// The config's backbone with its `model.init` (e.g. ImageNet), frozen:
    /// global-average-pooled features at the config's image size, no augmentation.
    Backbone,
    /// IBSI radiomics features (morphology, intensity statistics and histogram, GLCM, GLRLM,
    /// GLSZM, GLDZM, NGTDM, NGLDM) of the image inside its lesion mask, at its own resolution.
    Radiomics,
}

/// A radiomics feature family (`--radiomics-without`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RadiomicsFamily {
    Morphology,
    Statistics,
    Histogram,
    Glcm,
    Glrlm,
    Glszm,
    Gldzm,
    Ngtdm,
    Ngldm,
}

impl From<RadiomicsFamily> for Family {
    fn from(family: RadiomicsFamily) -> Family {
        match family {
            RadiomicsFamily::Morphology => Family::Morphology,
            RadiomicsFamily::Statistics => Family::Statistics,
            RadiomicsFamily::Histogram => Family::Histogram,
            RadiomicsFamily::Glcm => Family::Glcm,
            RadiomicsFamily::Glrlm => Family::Glrlm,
            RadiomicsFamily::Glszm => Family::Glszm,
            RadiomicsFamily::Gldzm => Family::Gldzm,
            RadiomicsFamily::Ngtdm => Family::Ngtdm,
            RadiomicsFamily::Ngldm => Family::Ngldm,
        }
    }
}

/// How radiomics texture matrices of the four in-plane directions become one value.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RadiomicsAggregation {
    /// Features of each direction's matrix, averaged (IBSI "2D, averaged", BTW3).
    Averaged,
    /// Features of the four directions' matrices merged into one (IBSI "2D, slice-merged", SUJT).
    Merged,
}

/// The classical model (hyperparameter grids in `medxfer_baseline::params`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    /// k nearest neighbours (k from 1, 3, 5, 11, 21, 41, 81, 161).
    Knn,
    /// L2 logistic regression (C from 1e-4 to 100).
    Logistic,
    /// Elastic-net logistic regression (C from 1e-4 to 100, l1_ratio 0.1, 0.5, 0.9).
    ElasticNet,
    /// Linear SVM (C from 1e-4 to 100), Platt-scaled probabilities.
    SvmLinear,
    /// RBF SVM (C from 1e-4 to 100, gamma 0.1, 1, 10 over the feature count).
    SvmRbf,
}

impl From<ModelChoice> for ModelKind {
    fn from(choice: ModelChoice) -> ModelKind {
        match choice {
            ModelChoice::Knn => ModelKind::Knn,
            ModelChoice::Logistic => ModelKind::Logistic,
            ModelChoice::ElasticNet => ModelKind::ElasticNet,
            ModelChoice::SvmLinear => ModelKind::SvmLinear,
            ModelChoice::SvmRbf => ModelKind::SvmRbf,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// The `medxfer train` config giving the data, classes, folds (and backbone).
    #[arg(long)]
    config: PathBuf,
    /// Override a setting of that config (dotted keys), as `medxfer train --set`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[arg(long, value_enum)]
    features: FeatureSource,
    #[arg(long, value_enum)]
    model: ModelChoice,
    /// Output run folder (new, empty, or an earlier `medxfer baseline` folder).
    #[arg(long)]
    out: PathBuf,
    /// Side of the downsampled image for `--features pixels`.
    #[arg(long, default_value_t = 32)]
    pixel_size: u32,
    /// `--features radiomics`: IBSI fixed bin number discretisation of the lesion's 0..255 grey
    /// values into this many grey levels (the lesion's own range).
    #[arg(long, default_value_t = 32)]
    radiomics_bins: u32,
    /// `--features radiomics`: IBSI fixed bin size discretisation instead, bins of this width
    /// in 0..255 grey values from 0.
    #[arg(long, conflicts_with = "radiomics_bins")]
    radiomics_bin_width: Option<f64>,
    #[arg(long, value_enum, default_value_t = RadiomicsAggregation::Averaged)]
    radiomics_aggregation: RadiomicsAggregation,
    /// `--features radiomics`: leave out a feature family (repeatable); e.g. `morphology`
    /// keeps what the lesion's grey values carry and drops what its outline does.
    #[arg(long = "radiomics-without", value_enum, value_name = "FAMILY")]
    radiomics_without: Vec<RadiomicsFamily>,
    /// `--features radiomics`: each image's lesion mask from a segmentation run's
    /// out-of-fold predictions (its `segmentations.csv` test rows) instead of the data's
    /// expert masks: a fully automatic radiomics pipeline.
    #[arg(long, value_name = "SEG_RUN")]
    radiomics_masks_from: Option<PathBuf>,
    /// Folds of the inner cross-validation that chooses the hyperparameters.
    #[arg(long, default_value_t = 3)]
    inner_folds: usize,
    /// Do not draw progress bars (progress lines are still printed).
    #[arg(long)]
    no_progress: bool,
}

/// `baseline.json`: what was run and what nested CV chose in each fold.
#[derive(Serialize)]
struct BaselineRecord<'a> {
    model: ModelKind,
    features: FeatureSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pixel_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backbone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    radiomics: Option<RadiomicsConfig>,
    /// Radiomics families left out (`--radiomics-without`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    radiomics_without: Vec<Family>,
    /// The segmentation run whose predicted masks the radiomics features used
    /// (`--radiomics-masks-from`); absent: the data's own masks.
    #[serde(skip_serializing_if = "Option::is_none")]
    radiomics_masks_from: Option<PathBuf>,
    /// The radiomics features' names (`family.name`), in column order.
    #[serde(skip_serializing_if = "Option::is_none")]
    feature_names: Option<Vec<String>>,
    n_features: usize,
    inner_folds: usize,
    selection: &'static str,
    grid: Vec<Hyperparams>,
    folds: &'a [FoldResult],
    /// Wall time of the whole command (features, nested CV, writing).
    seconds: f64,
    code_version: &'static str,
}

/// What a baseline folder is, in the message refusing any other folder.
const WHAT: &str = "a medxfer baseline run";

const SELECTION: &str = "training rows of each outer fold (its train + val split) split into stratified, patient-grouped inner folds; the grid point with the highest mean inner AUC (binary: the positive class's score; more classes: macro one-vs-rest) wins, ties to the first listed; refit on all training rows";

pub fn run(args: BaselineArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.pixel_size < 4 {
        anyhow::bail!("--pixel-size must be at least 4, got {}", args.pixel_size);
    }
    if args.features == FeatureSource::Radiomics {
        radiomics_config(&args)
            .validate()
            .context("--radiomics-bins / --radiomics-bin-width")?;
    }
    if args.inner_folds < 2 {
        anyhow::bail!("--inner-folds must be at least 2, got {}", args.inner_folds);
    }
    let config = TrainConfig::load(&args.config, &args.overrides)?;
    if config.task != TaskChoice::Classification {
        anyhow::bail!(
            "{}: baselines are classifiers; this config's task is not classification",
            args.config.display()
        );
    }
    config.data.apply_decode_limits();
    let dataset = load_dataset(&config)?;
    let labels = dataset.labels();
    let folds = make_folds(&config, &dataset, &labels)?;
    refuse_output(&args.out, BASELINE, WHAT)?;
    let events = crate::progress::reporter(!args.no_progress);
    let (feature_sets, feature_names) =
        features(&args, &config, &dataset, &folds, events.as_ref())?;
    // Created only now, so a start that fails (data, weights) leaves no folder behind.
    let _lock = claim_output(&args.out, BASELINE, WHAT)?;
    let results = run_nested(
        &args,
        &config,
        &dataset,
        &folds,
        &feature_sets,
        events.as_ref(),
    )?;
    write_predictions(&args.out, &config, &dataset, &labels, &results)?;
    let n_features = feature_sets.first().map_or(0, |(x, _)| x.cols());
    let seconds = started.elapsed().as_secs_f64();
    write_record(&args, &config, n_features, feature_names, &results, seconds)?;
    println!(
        "{} on {} features ({n_features} per image), {} fold(s), {seconds:.1}s: wrote {} (next: medxfer evaluate {})",
        ModelKind::from(args.model),
        match args.features {
            FeatureSource::Pixels => "pixel",
            FeatureSource::Backbone => "backbone",
            FeatureSource::Radiomics => "radiomics",
        },
        results.len(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

/// Nested CV on each feature matrix over the folds it serves; results in fold order.
fn run_nested(
    args: &BaselineArgs,
    config: &TrainConfig,
    dataset: &Dataset,
    folds: &[FoldIndices],
    feature_sets: &[(Matrix, Vec<usize>)],
    events: &dyn Reporter,
) -> anyhow::Result<Vec<FoldResult>> {
    let labels = dataset.labels();
    let positive = dataset.positive_class(config.data.positive.as_deref())?;
    let groups = dataset.groups();
    let options = NestedCvOptions {
        kind: ModelKind::from(args.model),
        inner_folds: args.inner_folds,
        seed: config.seed,
    };
    let mut results = Vec::new();
    for (x, fold_numbers) in feature_sets {
        let outer: Vec<OuterFold> = folds
            .iter()
            .filter(|f| fold_numbers.contains(&f.fold))
            .map(outer_fold)
            .collect();
        let data = Labelled {
            x,
            labels: &labels,
            n_classes: dataset.class_names.len(),
            positive: positive.unwrap_or(1),
            groups: groups.as_deref(),
        };
        results.extend(medxfer_baseline::nested_cv(
            &data, &outer, &options, events,
        )?);
    }
    results.sort_by_key(|r| r.fold);
    Ok(results)
}

/// `baseline.json` and the resolved config.
fn write_record(
    args: &BaselineArgs,
    config: &TrainConfig,
    n_features: usize,
    feature_names: Option<Vec<String>>,
    results: &[FoldResult],
    seconds: f64,
) -> anyhow::Result<()> {
    let kind = ModelKind::from(args.model);
    let on_backbone = args.features == FeatureSource::Backbone;
    let on_pixels = args.features == FeatureSource::Pixels;
    let record = BaselineRecord {
        model: kind,
        features: args.features,
        pixel_size: on_pixels.then_some(args.pixel_size),
        backbone: on_backbone.then(|| format!("{} ({})", config.model.backbone, config.model.init)),
        image_size: on_backbone.then_some(config.data.image_size),
        radiomics: (args.features == FeatureSource::Radiomics).then(|| radiomics_config(args)),
        radiomics_without: excluded_families(args),
        radiomics_masks_from: args
            .radiomics_masks_from
            .as_ref()
            .map(|run| std::path::absolute(run).unwrap_or_else(|_| run.clone())),
        feature_names,
        n_features,
        inner_folds: args.inner_folds,
        selection: SELECTION,
        grid: grid(kind, n_features),
        folds: results,
        seconds,
        code_version: medxfer_train::run::CODE_VERSION,
    };
    write_file(
        &args.out.join(BASELINE),
        serde_json::to_string_pretty(&record)?.as_bytes(),
    )?;
    write_file(&args.out.join(CONFIG), config.to_toml_string().as_bytes())
}

/// The outer fold's training rows are the training run's train and val splits together (the
/// baseline needs no early-stopping split; its inner CV plays that part).
fn outer_fold(fold: &FoldIndices) -> OuterFold {
    let mut train: Vec<usize> = fold.train.iter().chain(&fold.val).copied().collect();
    train.sort_unstable();
    OuterFold {
        fold: fold.fold,
        train,
        test: fold.test.clone(),
    }
}

/// The radiomics settings the flags choose.
fn radiomics_config(args: &BaselineArgs) -> RadiomicsConfig {
    RadiomicsConfig {
        discretisation: match args.radiomics_bin_width {
            Some(width) => Discretisation::FixedBinSize {
                width,
                lower_bound: 0.0,
            },
            None => Discretisation::FixedBinNumber {
                bins: args.radiomics_bins,
            },
        },
        aggregation: match args.radiomics_aggregation {
            RadiomicsAggregation::Averaged => Aggregation::Averaged2d,
            RadiomicsAggregation::Merged => Aggregation::SliceMerged2d,
        },
    }
}

fn excluded_families(args: &BaselineArgs) -> Vec<Family> {
    args.radiomics_without.iter().map(|&f| f.into()).collect()
}

/// Feature matrices with the folds each serves, and the features' names where they have them.
type FeatureSets = (Vec<(Matrix, Vec<usize>)>, Option<Vec<String>>);

/// One feature matrix per distinct backbone initialisation (pixels, radiomics: one for every
/// fold), with the folds it serves.
fn features(
    args: &BaselineArgs,
    config: &TrainConfig,
    dataset: &Dataset,
    folds: &[FoldIndices],
    events: &dyn Reporter,
) -> anyhow::Result<FeatureSets> {
    let fold_numbers: Vec<usize> = folds.iter().map(|f| f.fold).collect();
    let sets = match args.features {
        FeatureSource::Pixels => {
            let spec = PreprocessSpec {
                size: args.pixel_size,
                channels: 1,
            };
            let cache = ImageCache::build(dataset, &spec, config.data.cache_dir.as_deref())?;
            let dim = (args.pixel_size * args.pixel_size) as usize;
            let values: Vec<f64> = (0..cache.len())
                .flat_map(|i| cache.get(i).pixels.iter().map(|&p| p as f64))
                .collect();
            let (images, side) = (cache.len(), args.pixel_size);
            events.note(format!(
                "features: {images} images x {dim} pixels ({side} x {side})"
            ));
            vec![(Matrix::new(cache.len(), dim, values)?, fold_numbers)]
        }
        FeatureSource::Radiomics => {
            let masks = match &args.radiomics_masks_from {
                Some(run) => radiomics::MaskSource::predicted_by(run)?,
                None => radiomics::MaskSource::Data,
            };
            let (matrix, names) = radiomics::radiomics_matrix(
                dataset,
                &radiomics_config(args),
                &excluded_families(args),
                &masks,
                events,
            )?;
            return Ok((vec![(matrix, fold_numbers)], Some(names)));
        }
        FeatureSource::Backbone => {
            let cache = decode_images(config, dataset, events)?;
            let sets = frozen_backbone_features(config, &cache, &fold_numbers, events)?;
            sets.into_iter()
                .map(|set| {
                    let values = set.values.iter().map(|&v| v as f64).collect();
                    Ok((Matrix::new(cache.len(), set.dim, values)?, set.folds))
                })
                .collect::<anyhow::Result<Vec<_>>>()?
        }
    };
    Ok((sets, None))
}

/// The test rows of every fold, in the format `medxfer train` writes, and `task.json`.
fn write_predictions(
    out: &Path,
    config: &TrainConfig,
    dataset: &Dataset,
    labels: &[usize],
    results: &[FoldResult],
) -> anyhow::Result<()> {
    let k = dataset.class_names.len();
    let mut predictions = Predictions {
        class_names: dataset.class_names.clone(),
        rows: Vec::new(),
    };
    for result in results {
        for (row, &i) in result.test.iter().enumerate() {
            let sample = &dataset.samples[i];
            predictions.rows.push(PredictionRow {
                image_id: sample.id.clone(),
                fold: result.fold,
                split: Split::Test,
                label: dataset.class_names[labels[i]].clone(),
                source: sample.origin.clone(),
                center: sample.center.clone(),
                scores: result.test_probs[row * k..(row + 1) * k].to_vec(),
            });
        }
    }
    predictions.write_csv(&out.join(PREDICTIONS))?;
    TaskInfo {
        class_names: dataset.class_names.clone(),
        positive_class: config.data.positive.clone(),
        task: TaskKind::Classification,
    }
    .write_json(&out.join(TASK))?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    medxfer_atomic::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}
