//! New images through a finished run: every fold's best model scores the image and the
//! outputs are averaged (a cross-validation ensemble): class probabilities for a
//! classification run, per-pixel lesion probabilities for a segmentation run, whose
//! thresholded masks are written as PNGs at each image's original size.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::normalisation::Normalisation;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use image::ImageEncoder as _;
use medxfer_data::cache::ImageCache;
use medxfer_data::decode::{LumaImage, decode_luma_file};
use medxfer_data::preprocess::{PreprocessSpec, prepare_image, resize_bilinear};
use medxfer_eval::predictions::{TaskInfo, TaskKind};
use medxfer_models::{Classifier, UNet, UNetConfig};

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::batches::{InputSpec, image_batch};
use crate::config::TrainConfig;
use crate::model_setup::Architecture;
use crate::run::{input_spec, resolve_device};
use medxfer_atomic::run_files::{
    CONFIG, MODEL, PREDICTIONS, SEGMENTATIONS, TASK, fold_dir_name, fold_files, fold_of,
};

/// Images per forward pass when taking features.
const FEATURE_BATCH: usize = 32;

/// The ensemble's class probabilities for one image.
#[derive(Debug, Clone)]
pub struct ImagePrediction {
    pub path: PathBuf,
    pub probabilities: Vec<f64>,
    pub predicted_class: String,
}

/// The ensemble's lesion mask for one image, written to `mask_path`.
#[derive(Debug, Clone)]
pub struct MaskPrediction {
    pub path: PathBuf,
    pub mask_path: PathBuf,
    /// The image's original size, which the mask has too.
    pub width: u32,
    pub height: u32,
    pub lesion_pixels: u64,
}

impl MaskPrediction {
    /// Lesion pixels as a fraction of the image.
    pub fn lesion_fraction(&self) -> f64 {
        self.lesion_pixels as f64 / (self.width as f64 * self.height as f64)
    }
}

/// The fold models of a run, by what they predict.
enum Ensemble {
    Classifiers(Vec<Classifier>),
    Segmenters { models: Vec<UNet>, threshold: f64 },
}

pub struct RunPredictor {
    pub class_names: Vec<String>,
    run_dir: PathBuf,
    ensemble: Ensemble,
    /// The fold number of each loaded model, in the ensemble's order.
    folds: Vec<usize>,
    input: InputSpec,
    image_size: u32,
    device: Device,
}

/// A run folder `predict` can use: a medxfer run whose folds have all been trained and
/// assembled (its task file is written last, by the run without `--fold`).
pub(crate) fn check_finished(run_dir: &Path) -> Result<(), TrainError> {
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
    let contract = [PREDICTIONS, SEGMENTATIONS]
        .iter()
        .any(|file| run_dir.join(file).exists());
    if !run_dir.join(TASK).exists() || !contract {
        return Err(unusable(format!(
            "this run is unfinished (no {TASK} yet): run `medxfer train --config {}` without --fold to finish it",
            run_dir.join(CONFIG).display()
        )));
    }
    Ok(())
}

/// Every fold's best model, `fold_*/model.bpk`, in fold order.
pub(crate) fn fold_models(run_dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let models = fold_files(run_dir, MODEL).map_err(|e| TrainError::io(run_dir, e))?;
    if models.is_empty() {
        return Err(TrainError::Checkpoint {
            path: run_dir.to_path_buf(),
            message: "no finished fold model (fold_*/model.bpk): has training completed?".into(),
        });
    }
    Ok(models)
}

/// The U-Nets of a segmentation run, built exactly as training built them.
fn load_segmenters(
    config: &TrainConfig,
    models: &[PathBuf],
    device: &Device,
) -> Result<Ensemble, TrainError> {
    let segmentation = config.segmentation.clone().unwrap_or_default();
    let unet = UNetConfig::new(config.model.backbone, config.model.in_channels, 1)
        .with_decoder_channels(segmentation.decoder_channels.clone());
    let models = models
        .iter()
        .map(|path| {
            UNet::new(&unet, device)?
                .try_load_file(path)
                .map(|m| m.valid())
                .map_err(|e| TrainError::Checkpoint {
                    path: path.clone(),
                    message: format!("cannot load U-Net weights: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Ensemble::Segmenters {
        models,
        threshold: segmentation.threshold,
    })
}

/// The models of `folds` among a run's fold models (all of them for `None`), in the order
/// asked; a fold the run has no finished model for is an error naming the ones it has.
fn chosen_fold_models(run_dir: &Path, folds: Option<&[usize]>) -> Result<Vec<PathBuf>, TrainError> {
    let models = fold_models(run_dir)?;
    let Some(folds) = folds else {
        return Ok(models);
    };
    folds
        .iter()
        .map(|&fold| {
            let wanted = run_dir.join(fold_dir_name(fold)).join(MODEL);
            models
                .iter()
                .find(|m| **m == wanted)
                .cloned()
                .ok_or_else(|| {
                    let have: Vec<String> = models
                        .iter()
                        .filter_map(|m| m.parent()?.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect();
                    TrainError::Checkpoint {
                        path: run_dir.to_path_buf(),
                        message: format!(
                            "fold {fold} has no finished model (the run has: {})",
                            have.join(", ")
                        ),
                    }
                })
        })
        .collect()
}

/// For each image, the fold whose test part held it in the run's `predictions.csv`: the fold
/// model that never trained on it. An image is matched by its id (its path below the data
/// root; in a multi-source run, below its source's root) being the tail of the given path.
/// An image that was no test image, or that matches test rows of two folds, is an error.
pub fn test_folds(run_dir: &Path, images: &[PathBuf]) -> Result<Vec<usize>, TrainError> {
    let predictions = medxfer_eval::predictions::Predictions::read_csv(&run_dir.join(PREDICTIONS))?;
    let test: Vec<(&Path, usize)> = predictions
        .rows
        .iter()
        .filter(|r| r.split == medxfer_eval::predictions::Split::Test)
        .map(|r| {
            let mut id = Path::new(&r.image_id).components();
            // A multi-source id starts with its source's name, which is no folder on disk.
            if r.source.is_some() {
                id.next();
            }
            let id = id.as_path();
            (id, r.fold)
        })
        .collect();
    images
        .iter()
        .map(|image| {
            let folds: HashSet<usize> = test
                .iter()
                .filter(|(id, _)| !id.as_os_str().is_empty() && image.ends_with(id))
                .map(|&(_, fold)| fold)
                .collect();
            let problem = match folds.len() {
                1 => return Ok(*folds.iter().next().unwrap()),
                0 => "is no test image of this run".to_string(),
                _ => format!("matches test images of folds {folds:?}"),
            };
            Err(TrainError::Checkpoint {
                path: image.clone(),
                message: format!(
                    "{problem} ({}): an out-of-fold explanation needs the one fold model that did not train on it",
                    run_dir.join(PREDICTIONS).display()
                ),
            })
        })
        .collect()
}

impl RunPredictor {
    /// Load every finished fold model of the run in `run_dir`.
    pub fn open(run_dir: &Path) -> Result<Self, TrainError> {
        Self::open_folds(run_dir, None)
    }

    /// Load the models of `folds` only (every fold's for `None`): a smaller ensemble, or one
    /// model, answers faster (as nnU-Net's `-f`).
    pub fn open_folds(run_dir: &Path, folds: Option<&[usize]>) -> Result<Self, TrainError> {
        check_finished(run_dir)?;
        let config = TrainConfig::load(&run_dir.join(CONFIG), &[])?;
        config.data.apply_decode_limits();
        let task = TaskInfo::read_json(&run_dir.join(TASK))?;
        let device = resolve_device(config.device()?)?;
        let models = chosen_fold_models(run_dir, folds)?;
        let ensemble = match task.task {
            TaskKind::Classification => {
                let architecture = Architecture {
                    backbone: config.model.backbone,
                    in_channels: config.model.in_channels,
                    head: config.model.head.clone(),
                    num_classes: task.class_names.len(),
                };
                Ensemble::Classifiers(
                    models
                        .iter()
                        .map(|m| architecture.load(m, &device).map(|m| m.valid()))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            }
            TaskKind::Segmentation => load_segmenters(&config, &models, &device)?,
        };
        let normalisation = Normalisation::read(run_dir, &config)?;
        Ok(RunPredictor {
            class_names: task.class_names,
            run_dir: run_dir.to_path_buf(),
            ensemble,
            folds: models.iter().filter_map(|m| fold_of(m)).collect(),
            input: input_spec(&config, normalisation),
            image_size: config.data.image_size,
            device,
        })
    }

    /// What the run's models predict.
    pub fn task(&self) -> TaskKind {
        match self.ensemble {
            Ensemble::Classifiers(_) => TaskKind::Classification,
            Ensemble::Segmenters { .. } => TaskKind::Segmentation,
        }
    }

    /// The lesion probability threshold of a segmentation run.
    pub fn mask_threshold(&self) -> Option<f64> {
        match self.ensemble {
            Ensemble::Classifiers(_) => None,
            Ensemble::Segmenters { threshold, .. } => Some(threshold),
        }
    }

    pub fn num_models(&self) -> usize {
        match &self.ensemble {
            Ensemble::Classifiers(models) => models.len(),
            Ensemble::Segmenters { models, .. } => models.len(),
        }
    }

    fn wrong_task(&self, message: &str) -> TrainError {
        TrainError::Checkpoint {
            path: self.run_dir.clone(),
            message: message.to_string(),
        }
    }

    /// The images decoded and preprocessed exactly as in training, with their original
    /// (width, height).
    fn prepare(&self, paths: &[PathBuf]) -> Result<(ImageCache, Vec<(u32, u32)>), TrainError> {
        let spec = PreprocessSpec {
            size: self.image_size,
            channels: 1,
        };
        let mut images = Vec::with_capacity(paths.len());
        let mut sizes = Vec::with_capacity(paths.len());
        for path in paths {
            let image = decode_luma_file(path)?;
            sizes.push((image.width, image.height));
            images.push(prepare_image(&image, &spec));
        }
        Ok((ImageCache::from_images(spec, images), sizes))
    }

    /// The fold classifiers (none for a segmentation run), for work that needs the models
    /// themselves rather than their outputs (explanations).
    pub fn classifiers(&self) -> &[Classifier] {
        match &self.ensemble {
            Ensemble::Classifiers(models) => models,
            Ensemble::Segmenters { .. } => &[],
        }
    }

    /// Pooled backbone features (row-major, the backbone's feature width per image; what the
    /// head reads) of fold classifier `model` (an index into [`RunPredictor::classifiers`]) for
    /// the images of `cache` at `indices`, which must be preprocessed at the run's size.
    pub fn classifier_features(
        &self,
        model: usize,
        cache: &ImageCache,
        indices: &[usize],
    ) -> Result<Vec<f32>, TrainError> {
        let classifier = self
            .classifiers()
            .get(model)
            .ok_or_else(|| self.wrong_task("no classification model to take features from"))?;
        let mut features = Vec::with_capacity(indices.len() * classifier.backbone.feature_dim());
        for batch in indices.chunks(FEATURE_BATCH) {
            let x = image_batch(cache, batch, &self.input, None, &self.device);
            let pooled = classifier.backbone.forward_features(x).into_data();
            features.extend(pooled.iter::<f32>());
        }
        Ok(features)
    }

    /// The device the models are on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The fold number of each loaded model, in the order of [`RunPredictor::classifiers`].
    pub fn fold_numbers(&self) -> &[usize] {
        &self.folds
    }

    /// One image decoded, preprocessed and normalised exactly as in training (1 x C x S x S on
    /// the models' device), with the decoded image at its original size.
    pub fn input(&self, path: &Path) -> Result<(Tensor<4>, LumaImage), TrainError> {
        let image = decode_luma_file(path)?;
        let x = self.input_from_image(&image);
        Ok((x, image))
    }

    /// An already decoded image preprocessed and normalised exactly as in training (1 x C x
    /// S x S on the models' device): for images that never were files (uploads to a server).
    pub fn input_from_image(&self, image: &LumaImage) -> Tensor<4> {
        let spec = PreprocessSpec {
            size: self.image_size,
            channels: 1,
        };
        let cache = ImageCache::from_images(spec, vec![prepare_image(image, &spec)]);
        image_batch(&cache, &[0], &self.input, None, &self.device)
    }

    /// Decode, preprocess exactly as in training, and score the images.
    pub fn predict(&self, paths: &[PathBuf]) -> Result<Vec<ImagePrediction>, TrainError> {
        let Ensemble::Classifiers(models) = &self.ensemble else {
            return Err(self.wrong_task("a segmentation run predicts masks, not classes"));
        };
        let (cache, _) = self.prepare(paths)?;
        let indices: Vec<usize> = (0..paths.len()).collect();
        let k = self.class_names.len();
        let mut sums = vec![0f64; paths.len() * k];
        for chunk in indices.chunks(32) {
            let x = image_batch(&cache, chunk, &self.input, None, &self.device);
            for model in models {
                let probs: Vec<f32> = softmax(model.forward(x.clone()), 1)
                    .into_data()
                    .iter::<f32>()
                    .collect();
                for (j, p) in probs.iter().enumerate() {
                    sums[chunk[0] * k + j] += *p as f64;
                }
            }
        }
        let m = models.len() as f64;
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

impl RunPredictor {
    /// Segment the images with the fold ensemble (mean sigmoid probability, thresholded at
    /// the run's `segmentation.threshold`) and write each mask as `<stem>_mask.png` (0/255,
    /// the image's original size) into `out_dir`, which is created if missing.
    pub fn predict_masks(
        &self,
        paths: &[PathBuf],
        out_dir: &Path,
    ) -> Result<Vec<MaskPrediction>, TrainError> {
        let Ensemble::Segmenters { models, threshold } = &self.ensemble else {
            return Err(self.wrong_task("a classification run has no masks"));
        };
        let mask_paths = mask_paths(paths, out_dir)?;
        let (cache, sizes) = self.prepare(paths)?;
        std::fs::create_dir_all(out_dir).map_err(|e| TrainError::io(out_dir, e))?;
        let size = self.input.size;
        let indices: Vec<usize> = (0..paths.len()).collect();
        let mut out = Vec::with_capacity(paths.len());
        for chunk in indices.chunks(8) {
            let x = image_batch(&cache, chunk, &self.input, None, &self.device);
            let mut mean = vec![0f32; chunk.len() * size * size];
            for model in models {
                let probs = sigmoid(model.forward(x.clone())).into_data();
                for (sum, p) in mean.iter_mut().zip(probs.iter::<f32>()) {
                    *sum += p / models.len() as f32;
                }
            }
            for (&i, probs) in chunk.iter().zip(mean.chunks_exact(size * size)) {
                let (width, height) = sizes[i];
                let mask = restore_mask(probs, self.image_size, width, height, *threshold);
                write_mask_png(&mask_paths[i], width, height, &mask)?;
                out.push(MaskPrediction {
                    path: paths[i].clone(),
                    mask_path: mask_paths[i].clone(),
                    width,
                    height,
                    lesion_pixels: mask.iter().filter(|&&v| v != 0).count() as u64,
                });
            }
        }
        Ok(out)
    }
}

/// `out_dir/<stem>_mask.png` per image, refusing a file as `out_dir`, two images with one
/// mask name, and a mask name that is one of the inputs (it would be overwritten).
fn mask_paths(paths: &[PathBuf], out_dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let refuse = |path: &Path, message: String| TrainError::Config {
        path: path.to_path_buf(),
        message,
    };
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(refuse(
            out_dir,
            "exists and is not a folder: --masks-out needs a folder".into(),
        ));
    }
    let inputs: HashSet<PathBuf> = paths.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let Some(stem) = path.file_stem() else {
            return Err(refuse(path, "has no file name".into()));
        };
        let mut name = stem.to_os_string();
        name.push("_mask.png");
        let mask = out_dir.join(&name);
        if !seen.insert(name) {
            return Err(refuse(
                path,
                format!("another input also has its mask at {}", mask.display()),
            ));
        }
        if mask.canonicalize().is_ok_and(|m| inputs.contains(&m)) {
            return Err(refuse(
                &mask,
                "is one of the input images: refusing to overwrite it with a mask".into(),
            ));
        }
        out.push(mask);
    }
    Ok(out)
}

/// Undo the preprocessing (pad to a centred square, resize) on a `size` x `size`
/// probability map: resize it back to the padded square (bilinear on probabilities, so the
/// threshold sees interpolated values rather than blocky pixels), threshold, and crop the
/// padding away. The mask is `width` x `height`, 0/1, row-major.
pub fn restore_mask(probs: &[f32], size: u32, width: u32, height: u32, threshold: f64) -> Vec<u8> {
    let side = width.max(height);
    let square = resize_bilinear(probs, size, size, side, side);
    // The offsets of `medxfer_data::preprocess::pad_to_square` (extra pixel right/bottom).
    let (left, top) = ((side - width) / 2, (side - height) / 2);
    let mut mask = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        let row = ((y + top) * side + left) as usize;
        mask.extend(
            square[row..row + width as usize]
                .iter()
                .map(|&p| u8::from(p as f64 > threshold)),
        );
    }
    mask
}

fn write_mask_png(path: &Path, width: u32, height: u32, mask: &[u8]) -> Result<(), TrainError> {
    let gray: Vec<u8> = mask.iter().map(|&v| if v != 0 { 255 } else { 0 }).collect();
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&gray, width, height, image::ExtendedColorType::L8)
        .map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot encode PNG: {e}"),
        })?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::restore_mask;
    use medxfer_data::decode::LumaImage;
    use medxfer_data::preprocess::{PreprocessSpec, prepare_image};

    /// Mean (x, y) of a mask's foreground pixels.
    fn centroid(mask: &[u8], width: usize) -> (f64, f64) {
        let points: Vec<(f64, f64)> = (0..mask.len())
            .filter(|&i| mask[i] != 0)
            .map(|i| ((i % width) as f64, (i / width) as f64))
            .collect();
        let n = points.len() as f64;
        let sum = points
            .iter()
            .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
        (sum.0 / n, sum.1 / n)
    }

    /// A mask through the training preprocessing and back lands where it was, off-centre
    /// on a non-square image with an odd padding, whether preprocessing enlarged or shrank it.
    #[test]
    fn restoring_inverts_padding_and_resizing() {
        let (width, height) = (41u32, 30u32);
        let original: Vec<u8> = (0..height)
            .flat_map(|y| {
                (0..width).map(move |x| u8::from((28..38).contains(&x) && (3..12).contains(&y)))
            })
            .collect();
        let image = LumaImage {
            width,
            height,
            pixels: original.iter().map(|&v| f32::from(v)).collect(),
        };
        let expected = centroid(&original, width as usize);
        // Exact when enlarged; when shrunk a few border pixels may flip, but the centre stays
        // (a wrong padding offset would move it by a pixel).
        for (size, tolerance) in [(64u32, 0usize), (24, 6)] {
            let spec = PreprocessSpec { size, channels: 1 };
            // The preprocessed mask as a model's ideal probability map.
            let probs = prepare_image(&image, &spec).pixels;
            let restored = restore_mask(&probs, size, width, height, 0.5);
            assert_eq!(restored.len(), original.len());
            let wrong = restored
                .iter()
                .zip(&original)
                .filter(|(a, b)| a != b)
                .count();
            let (x, y) = centroid(&restored, width as usize);
            assert!(wrong <= tolerance, "size {size}: {wrong} pixels wrong");
            assert!(
                (x - expected.0).abs() < 0.25 && (y - expected.1).abs() < 0.25,
                "size {size}: centre ({x}, {y}), expected {expected:?}"
            );
        }
    }
}
