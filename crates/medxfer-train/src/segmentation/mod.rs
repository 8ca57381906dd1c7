//! Lesion segmentation runs (`task = "segmentation"`): the same run engine, folds, resume and
//! run folder as classification, with a U-Net on the configured backbone. The contract with
//! evaluation is `segmentations.csv`: per validation and test image, the preprocessed input,
//! the ground-truth mask and the predicted mask as PNGs at the model's resolution.

pub mod config;
pub mod loss;
pub mod task;

use std::path::{Path, PathBuf};

use medxfer_atomic::run_files::{SEGMENTATIONS, TASK, fold_dir_name};
use medxfer_data::PreparedMask;
use medxfer_data::dataset::Dataset;
use medxfer_eval::predictions::{Split, TaskInfo, TaskKind};
use medxfer_eval::segmentations::{SegmentationRow, Segmentations};
use medxfer_events::Reporter;
use medxfer_models::UNetConfig;

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::config::TrainConfig;
use crate::engine::{self, LoopSettings};
use crate::fold::FoldIndices;
use crate::run::{FoldRecord, PreparedRun, RunOptions, RunSummary, augmenter, input_spec};
use medxfer_data::{MissingMask, validate_masks};
use task::{Segmentation, SegmentationContext, predict_masks};

/// Folders of the mask PNGs inside the run folder.
const IMAGES_DIR: &str = "segmentation/images";
const TRUTH_DIR: &str = "segmentation/truth";
const PREDICTED_DIR: &str = "segmentation/predicted";

/// Train (or resume) every selected fold of a segmentation run and write its masks.
pub fn run(
    config: &TrainConfig,
    options: &RunOptions,
    prepared: PreparedRun,
    events: &dyn Reporter,
) -> Result<RunSummary, TrainError> {
    let segmentation = config.segmentation.clone().unwrap_or_default();
    let masks = checked_masks(&prepared, segmentation.missing_masks, events)?;
    let (folder, normalisation) = prepared.claim(config, options, events)?;
    let ctx = SegmentationContext {
        config,
        segmentation: &segmentation,
        cache: &prepared.cache,
        masks: &masks,
        input: input_spec(config, normalisation),
        augmenter: augmenter(config)?,
        unet: UNetConfig::new(config.model.backbone, config.model.in_channels, 1)
            .with_decoder_channels(segmentation.decoder_channels.clone()),
        device: prepared.device.clone(),
    };
    let settings = LoopSettings::from_config(config, events, &ctx.device);
    let out_dir = folder.path().to_path_buf();
    let task = Segmentation { ctx: &ctx };
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut written = WrittenInputs::new();
    for fold in prepared
        .folds
        .iter()
        .filter(|f| prepared.fold_numbers.contains(&f.fold))
    {
        let trained = engine::train_fold(
            &task,
            &settings,
            fold,
            &out_dir.join(fold_dir_name(fold.fold)),
        )?;
        rows.extend(write_fold_masks(
            &ctx,
            &prepared.dataset,
            &trained.output,
            fold,
            &out_dir,
            &mut written,
        )?);
        records.push(FoldRecord::of(fold, trained.seconds));
    }
    if !options.only_folds.is_empty() {
        return Ok(RunSummary::Partial {
            out_dir,
            trained: prepared.fold_numbers.clone(),
        });
    }
    Segmentations { rows }.write_csv(&out_dir.join(SEGMENTATIONS))?;
    TaskInfo {
        class_names: prepared.dataset.class_names.clone(),
        positive_class: None,
        task: TaskKind::Segmentation,
    }
    .write_json(&out_dir.join(TASK))?;
    prepared.write_record(config, records, &out_dir)
}

/// Every sample's mask at the model's resolution, after checking the mask files (present,
/// the size of their image, binary): a fault is an error naming the file; a missing mask is
/// all background, with one warning, under `missing_masks = "empty"`.
fn checked_masks(
    prepared: &PreparedRun,
    missing: MissingMask,
    events: &dyn Reporter,
) -> Result<Vec<PreparedMask>, TrainError> {
    let report = validate_masks(&prepared.dataset, missing)?;
    if let Some(&first) = report.missing.first() {
        events.warn(format!(
            "{} image(s) have no mask and count as all background (segmentation.missing_masks = \"empty\"), e.g. {}",
            report.missing.len(),
            prepared.dataset.samples[first].id
        ));
    }
    Ok((0..prepared.dataset.len())
        .map(|i| match prepared.cache.mask(i) {
            Some(mask) => mask.clone(),
            None => PreparedMask::background(prepared.cache.get(i).size),
        })
        .collect())
}

/// Which images' input and truth PNGs this process has written: they depend on the image
/// alone, so the folds (or, in an external validation, the fold models) that score an image
/// again reuse them and write only their prediction.
pub(crate) type WrittenInputs = std::collections::HashSet<usize>;

/// Write the fold's validation and test images, truths and predictions as PNGs; their rows.
pub(crate) fn write_fold_masks(
    ctx: &SegmentationContext,
    dataset: &Dataset,
    model: &medxfer_models::UNet,
    fold: &FoldIndices,
    out_dir: &Path,
    written: &mut WrittenInputs,
) -> Result<Vec<SegmentationRow>, TrainError> {
    let mut rows = Vec::new();
    let predicted_dir = PathBuf::from(PREDICTED_DIR).join(fold_dir_name(fold.fold));
    for dir in [IMAGES_DIR.into(), TRUTH_DIR.into(), predicted_dir.clone()] {
        let dir: PathBuf = out_dir.join::<PathBuf>(dir);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
    }
    for (split, indices) in [(Split::Val, &fold.val), (Split::Test, &fold.test)] {
        let predictions = predict_masks(ctx, model, indices);
        for (&i, predicted) in indices.iter().zip(&predictions) {
            let sample = &dataset.samples[i];
            let name = format!("{i:05}_{}.png", file_safe(&sample.id));
            let image = Path::new(IMAGES_DIR).join(&name);
            let truth = Path::new(TRUTH_DIR).join(&name);
            let prediction = predicted_dir.join(&name);
            let input = ctx.cache.get(i);
            let size = input.size;
            if written.insert(i) {
                let gray: Vec<u8> = input
                    .pixels
                    .iter()
                    .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                    .collect();
                write_png(&out_dir.join(&image), size, &gray)?;
                write_png(&out_dir.join(&truth), size, &scaled(&ctx.masks[i].pixels))?;
            }
            write_png(&out_dir.join(&prediction), size, &scaled(predicted))?;
            rows.push(SegmentationRow {
                image_id: sample.id.clone(),
                fold: fold.fold,
                split,
                label: dataset.class_names[sample.label].clone(),
                image,
                truth,
                prediction,
                pixel_spacing_mm: None,
            });
        }
    }
    Ok(rows)
}

fn scaled(mask: &[u8]) -> Vec<u8> {
    mask.iter().map(|&v| if v != 0 { 255 } else { 0 }).collect()
}

/// An image id (a relative path) as one file name.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_end_matches(".png")
        .to_string()
}

fn write_png(path: &Path, size: u32, gray: &[u8]) -> Result<(), TrainError> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(gray, size, size, image::ExtendedColorType::L8)
        .map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot encode PNG: {e}"),
        })?;
    write_atomic(path, &bytes)
}

use image::ImageEncoder as _;
