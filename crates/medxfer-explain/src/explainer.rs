//! Explaining images with a finished run's fold ensemble.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::softmax;
use medxfer_data::decode::LumaImage;
use medxfer_data::preprocess::resize_bilinear;
use medxfer_events::{Reporter, TaskKind};
use medxfer_models::Classifier;
use medxfer_train::predict::RunPredictor;

use crate::method::ExplainMethod;
use crate::{ExplainError, Stage, cam, gradient, lime, occlusion};

/// What to explain about each image.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRequest {
    pub method: ExplainMethod,
    /// The stage class-activation methods read; other methods ignore it.
    pub stage: Stage,
    /// The class whose evidence is shown; `None` for the ensemble's predicted class.
    pub class: Option<String>,
}

/// One image's explanation.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub path: PathBuf,
    /// The decoded image at its original size.
    pub image: LumaImage,
    pub class_name: String,
    /// The ensemble's mean probability of `class_name`.
    pub probability: f64,
    /// The ensemble's mean probability of every class, in the run's class order.
    pub probabilities: Vec<f64>,
    /// The map at the image's original size, row-major: each fold model's map scaled to a
    /// largest magnitude of 1, then averaged, so no fold dominates by its activation scale.
    pub map: Vec<f32>,
}

pub struct Explainer {
    predictor: RunPredictor,
}

impl Explainer {
    /// Load every fold model of a finished classification run.
    pub fn open(run_dir: &Path) -> Result<Self, ExplainError> {
        Self::open_folds(run_dir, None)
    }

    /// Load the models of `folds` only (all for `None`); see [`RunPredictor::open_folds`].
    pub fn open_folds(run_dir: &Path, folds: Option<&[usize]>) -> Result<Self, ExplainError> {
        let predictor = RunPredictor::open_folds(run_dir, folds)?;
        if predictor.classifiers().is_empty() {
            return Err(ExplainError::Segmentation {
                run: run_dir.to_path_buf(),
            });
        }
        Ok(Explainer { predictor })
    }

    pub fn class_names(&self) -> &[String] {
        &self.predictor.class_names
    }

    /// The architecture of the run's models (every fold model has the same).
    pub fn backbone_kind(&self) -> medxfer_models::BackboneKind {
        self.models()[0].backbone.kind()
    }

    pub fn num_models(&self) -> usize {
        self.predictor.classifiers().len()
    }

    pub(crate) fn models(&self) -> &[Classifier] {
        self.predictor.classifiers()
    }

    pub(crate) fn device(&self) -> &Device {
        self.predictor.device()
    }

    /// The stage index and class index a request names, checked before any image is read.
    pub fn resolve(
        &self,
        request: &ExplainRequest,
    ) -> Result<(usize, Option<usize>), ExplainError> {
        let stage = request.stage.resolve(&self.models()[0].backbone)?;
        let class = match &request.class {
            None => None,
            Some(name) => Some(
                self.class_names()
                    .iter()
                    .position(|c| c == name)
                    .ok_or_else(|| ExplainError::UnknownClass {
                        name: name.clone(),
                        classes: self.class_names().join(", "),
                    })?,
            ),
        };
        Ok((stage, class))
    }

    /// Explain each image with the whole fold ensemble; progress is one task step per image.
    pub fn explain(
        &self,
        paths: &[PathBuf],
        request: &ExplainRequest,
        events: &dyn Reporter,
    ) -> Result<Vec<Explanation>, ExplainError> {
        self.explain_each(paths, request, events, |_| Ok(self.all_models()))
    }

    /// Explain each image with the one fold model that did not train on it: `folds[i]` is the
    /// fold whose test part held `paths[i]` (see `medxfer_train::predict::test_folds`). Maps
    /// scored against lesion masks are then free of the models' memory of those images.
    pub fn explain_out_of_fold(
        &self,
        paths: &[PathBuf],
        folds: &[usize],
        request: &ExplainRequest,
        events: &dyn Reporter,
    ) -> Result<Vec<Explanation>, ExplainError> {
        let fold_numbers = self.predictor.fold_numbers();
        self.explain_each(paths, request, events, |i| {
            let index = fold_numbers
                .iter()
                .position(|&f| f == folds[i])
                .ok_or_else(|| ExplainError::Invalid {
                    what: "--out-of-fold",
                    message: format!(
                        "{}: its test fold {} has no loaded model",
                        paths[i].display(),
                        folds[i]
                    ),
                })?;
            Ok(vec![&self.models()[index]])
        })
    }

    fn all_models(&self) -> Vec<&Classifier> {
        self.models().iter().collect()
    }

    fn explain_each<'a>(
        &'a self,
        paths: &[PathBuf],
        request: &ExplainRequest,
        events: &dyn Reporter,
        models_for: impl Fn(usize) -> Result<Vec<&'a Classifier>, ExplainError>,
    ) -> Result<Vec<Explanation>, ExplainError> {
        let (stage, class) = self.resolve(request)?;
        let task = events.task(
            format!("{} of {} image(s)", request.method, paths.len()),
            paths.len(),
            TaskKind::Work,
        );
        let mut out = Vec::with_capacity(paths.len());
        for (i, path) in paths.iter().enumerate() {
            let models = models_for(i)?;
            let (x, image) = self.predictor.input(path)?;
            let target = Target { stage, class };
            out.push(self.explain_input(path, x, image, request.method, target, &models)?);
            task.step(None);
        }
        Ok(out)
    }

    /// Explain an image that was never a file (an upload); `label` stands for its path in
    /// the result. The request is resolved as in [`Explainer::explain`].
    pub fn explain_image(
        &self,
        label: &Path,
        image: LumaImage,
        request: &ExplainRequest,
    ) -> Result<Explanation, ExplainError> {
        let (stage, class) = self.resolve(request)?;
        let x = self.predictor.input_from_image(&image);
        let target = Target { stage, class };
        self.explain_input(label, x, image, request.method, target, &self.all_models())
    }

    /// The fold ensemble's mean class probabilities for a decoded image (preprocessed as in
    /// training).
    pub fn probabilities(&self, image: &LumaImage) -> Vec<f64> {
        let x = self.predictor.input_from_image(image);
        mean_probabilities(&self.all_models(), self.class_names().len(), |model, _| {
            model.forward(x.clone())
        })
    }

    /// `models`' maps of the image, each scaled to a largest magnitude of 1, averaged.
    fn explain_input(
        &self,
        path: &Path,
        x: Tensor<4>,
        image: LumaImage,
        method: ExplainMethod,
        Target { stage, class }: Target,
        models: &[&Classifier],
    ) -> Result<Explanation, ExplainError> {
        let [_, _, size, _] = x.dims();
        let weight = 1.0 / models.len() as f32;
        let mut mean = vec![0f32; size * size];
        let mut add = |map: Vec<f32>| {
            mean.iter_mut()
                .zip(&scaled_to_unit(map))
                .for_each(|(m, v)| *m += weight * v);
        };
        let classes = self.class_names().len();
        let probabilities;
        let class = match method {
            // A class-activation map needs only the stage's output: each model runs the layers
            // before the stage once, for its probabilities and then for its map.
            ExplainMethod::Cam(kind) => {
                let staged: Vec<Tensor<4>> = models
                    .iter()
                    .map(|model| model.forward_to_stage(x.clone(), stage))
                    .collect();
                probabilities = mean_probabilities(models, classes, |model, i| {
                    model.forward_from_stage(stage, staged[i].clone())
                });
                let class = class.unwrap_or_else(|| argmax(&probabilities));
                for (model, activations) in models.iter().zip(staged) {
                    add(cam::cam_map_at_input(
                        kind,
                        model,
                        activations,
                        stage,
                        class,
                        size,
                    ));
                }
                class
            }
            _ => {
                probabilities =
                    mean_probabilities(models, classes, |model, _| model.forward(x.clone()));
                let class = class.unwrap_or_else(|| argmax(&probabilities));
                for model in models {
                    add(model_map(model, x.clone(), method, stage, class)?);
                }
                class
            }
        };
        let map = restore_map(&mean, size as u32, image.width, image.height);
        Ok(Explanation {
            path: path.to_path_buf(),
            class_name: self.class_names()[class].clone(),
            probability: probabilities[class],
            probabilities,
            image,
            map,
        })
    }
}

/// The resolved stage and class of a request.
#[derive(Debug, Clone, Copy)]
struct Target {
    stage: usize,
    class: Option<usize>,
}

/// The mean over `models` of the softmax of `logits(model, its index in models)`.
fn mean_probabilities(
    models: &[&Classifier],
    classes: usize,
    logits: impl Fn(&Classifier, usize) -> Tensor<2>,
) -> Vec<f64> {
    let mut mean = vec![0f64; classes];
    for (i, model) in models.iter().enumerate() {
        let p = softmax(logits(model, i), 1).into_data();
        for (m, p) in mean.iter_mut().zip(p.iter::<f32>()) {
            *m += f64::from(p) / models.len() as f64;
        }
    }
    mean
}

/// One model's map at the network input's resolution (S x S).
pub fn model_map(
    model: &Classifier,
    x: Tensor<4>,
    method: ExplainMethod,
    stage: usize,
    class: usize,
) -> Result<Vec<f32>, ExplainError> {
    let [_, _, size, _] = x.dims();
    Ok(match method {
        ExplainMethod::Cam(kind) => {
            let activations = model.forward_to_stage(x, stage);
            cam::cam_map_at_input(kind, model, activations, stage, class, size)
        }
        ExplainMethod::Occlusion { patch, stride } => {
            occlusion::occlusion(model, x, class, patch, stride)?
        }
        ExplainMethod::Saliency => gradient::saliency(model, x, class),
        ExplainMethod::IntegratedGradients { steps } => {
            gradient::integrated_gradients(model, x, class, steps.max(1))
        }
        ExplainMethod::Lime {
            samples,
            segments,
            seed,
        } => lime::lime(model, x, class, samples, segments, seed),
    })
}

fn argmax(values: &[f64]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0)
}

/// The map divided by its largest magnitude (unchanged when it is all zero).
pub fn scaled_to_unit(mut map: Vec<f32>) -> Vec<f32> {
    let largest = map.iter().fold(0f32, |m, v| m.max(v.abs()));
    if largest > 0.0 {
        map.iter_mut().for_each(|v| *v /= largest);
    }
    map
}

/// Undo the training preprocessing (pad to a centred square, resize to `size`) on a map:
/// resize it to the square's side and crop the padding, giving `width` x `height`.
pub fn restore_map(map: &[f32], size: u32, width: u32, height: u32) -> Vec<f32> {
    let side = width.max(height);
    let square = resize_bilinear(map, size, size, side, side);
    // `medxfer_data::preprocess::pad_to_square`'s offsets (the extra pixel right/bottom).
    let (left, top) = ((side - width) / 2, (side - height) / 2);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        let row = ((y + top) * side + left) as usize;
        out.extend_from_slice(&square[row..row + width as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;
    use medxfer_models::{BackboneKind, HeadConfig};

    use super::*;
    use crate::method::{MethodKind, MethodSettings};
    use clap::ValueEnum;

    /// Every method on every backbone of the registry, at every CAM stage: a finite map of the
    /// input's size that is not all zero (gradients reach the stage on every architecture).
    /// 32 px: EfficientNet's last maps are then 1 x 1, narrower than its 5 x 5 kernels' reach.
    #[test]
    fn every_method_maps_every_backbone() {
        let device = Device::flex();
        let settings = MethodSettings {
            occlusion_patch: 16,
            occlusion_stride: 16,
            ig_steps: 2,
            lime_samples: 4,
            lime_segments: 8,
            lime_seed: 1,
        };
        for kind in BackboneKind::ALL {
            let model = Classifier::new(kind, 3, &HeadConfig::Linear, 2, &device).valid();
            let x = Tensor::random([1, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
            // A random deep network can put its class probability at exactly 0 or 1 in f32;
            // occlusion and LIME (changes of that probability) are then legitimately zero
            // everywhere.
            let p: f32 = softmax(model.forward(x.clone()), 1)
                .slice([0..1, 1..2])
                .into_scalar();
            let saturated = !(1e-6..=1.0 - 1e-6).contains(&p);
            for method in MethodKind::value_variants() {
                let method = ExplainMethod::new(*method, settings);
                let stages = match method {
                    ExplainMethod::Cam(_) => 0..model.backbone.num_stages(),
                    _ => 0..1,
                };
                for stage in stages {
                    let map = model_map(&model, x.clone(), method, stage, 1).unwrap();
                    assert_eq!(map.len(), 32 * 32, "{kind} {method} {stage}");
                    assert!(map.iter().all(|v| v.is_finite()), "{kind} {method} {stage}");
                    let signal = map.iter().any(|&v| v != 0.0);
                    // A CAM may be all negative (then zero after its ReLU); gradients are not.
                    let may_be_empty = matches!(method, ExplainMethod::Cam(_))
                        || (saturated
                            && matches!(
                                method,
                                ExplainMethod::Occlusion { .. } | ExplainMethod::Lime { .. }
                            ));
                    assert!(signal || may_be_empty, "{kind} {method} {stage}: zero map");
                }
            }
        }
    }

    /// A map that is bright only in the image's area of the padded square comes back covering
    /// the whole (wide) image, and nothing of the padding leaks in.
    #[test]
    fn restoring_crops_the_padding() {
        let (width, height, size) = (40u32, 20u32, 20u32);
        // In the 40 x 40 square the image occupies rows 10..30, i.e. rows 5..15 of 20.
        let map: Vec<f32> = (0..size * size)
            .map(|i| {
                if (5..15).contains(&(i / size)) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let restored = restore_map(&map, size, width, height);
        assert_eq!(restored.len(), (width * height) as usize);
        let middle = restored[(10 * width + 20) as usize];
        assert!((middle - 1.0).abs() < 1e-5, "{middle}");
        assert!(restored.iter().all(|&v| v > 0.4), "padding leaked in");
    }
}
