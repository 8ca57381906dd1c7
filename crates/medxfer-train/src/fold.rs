//! Classification as a task of the run engine ([`crate::engine`]): the phases of its strategy
//! train on augmented images or on cached backbone features, validation scores by AUC, and the
//! best model of a fold scores its validation and test images.

use std::path::Path;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use medxfer_data::augment::Augmenter;
use medxfer_data::cache::ImageCache;
use medxfer_models::{Classifier, recompute_batch_norm_statistics};

use crate::TrainError;
use crate::batches::{AugmentStream, InputSpec, feature_batch, image_batch, label_tensor};
use crate::checkpoint::{CurveRow, model_file};
use crate::config::{BatchNormStats, ClassWeights, OptimizerConfig, TrainConfig};
use crate::engine::{self, FoldTask, LoopSettings, Step, StepResult, TrainedEpoch, Validation};
use crate::model_setup::{Architecture, save_model, set_trainable};
use crate::scoring::score;
use crate::stage_rates::StageRates;
use crate::strategy::Phase;
use medxfer_events::{Reporter, TaskKind};
use medxfer_models::weights::default_cache_dir;

/// Everything the folds of a run share.
pub struct RunContext<'a> {
    pub config: &'a TrainConfig,
    pub cache: &'a ImageCache,
    pub labels: &'a [usize],
    pub num_classes: usize,
    pub positive: Option<usize>,
    pub input: InputSpec,
    pub augmenter: Option<Augmenter>,
    pub architecture: Architecture,
    /// The training device (autodiff enabled).
    pub device: Device,
    pub events: &'a dyn Reporter,
}

/// The sample indices of one fold.
#[derive(Debug, Clone)]
pub struct FoldIndices {
    pub fold: usize,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// Class probabilities (row-major, `num_classes` per row) of the best model of a fold.
pub struct FoldOutcome {
    pub val_probs: Vec<f32>,
    pub test_probs: Vec<f32>,
    /// Wall time spent training the fold (over all resumptions), without final prediction.
    pub seconds: f64,
}

/// Train (or resume, or reuse) one fold of a classification run, then score its validation
/// and test images with the best model.
pub fn train_fold(
    ctx: &RunContext,
    fold: &FoldIndices,
    fold_dir: &Path,
) -> Result<FoldOutcome, TrainError> {
    let config = ctx.config;
    let settings = LoopSettings::from_config(config, ctx.events, &ctx.device);
    let task = Classification {
        ctx,
        class_weights: class_weights(
            config.train.class_weights,
            ctx.labels,
            &fold.train,
            ctx.num_classes,
        ),
    };
    let trained = engine::train_fold(&task, &settings, fold, fold_dir)?;
    Ok(predict_outcome(ctx, &trained.output, fold, trained.seconds))
}

/// What a classification phase computes once: the backbone features of a frozen-backbone
/// phase, and the learning rate of each backbone stage.
struct ClassifierPhase {
    features: Option<FeatureCache>,
    rates: StageRates,
}

/// Classification on the run engine: cross-entropy on images or cached features, validation
/// by AUC (the loss when AUC is undefined).
struct Classification<'a> {
    ctx: &'a RunContext<'a>,
    class_weights: Option<Vec<f32>>,
}

impl FoldTask for Classification<'_> {
    type Model = Classifier;
    type PhaseData = ClassifierPhase;
    type Output = Classifier;

    fn curve_columns(&self) -> &'static [&'static str] {
        &["val_auc", "val_balanced_accuracy"]
    }

    fn initial_model(&self, fold: usize) -> Result<Classifier, TrainError> {
        self.ctx.architecture.build_initialised(
            &self.ctx.config.model.init.for_fold(fold),
            &default_cache_dir(),
            &self.ctx.device,
        )
    }

    fn save_checkpoint(&self, model: &Classifier, dir: &Path) -> Result<(), TrainError> {
        save_model(model, &model_file(dir))
    }

    fn load_checkpoint(&self, dir: &Path) -> Result<Classifier, TrainError> {
        self.ctx
            .architecture
            .load(&model_file(dir), &self.ctx.device)
    }

    /// The best model, as `fold_K/model.bpk`.
    fn save_output(
        &self,
        model: Classifier,
        fold_dir: &Path,
        _: &[CurveRow],
    ) -> Result<Classifier, TrainError> {
        save_model(&model, &model_file(fold_dir))?;
        Ok(model)
    }

    fn load_output(&self, fold_dir: &Path) -> Result<Option<Classifier>, TrainError> {
        let path = model_file(fold_dir);
        path.exists()
            .then(|| self.ctx.architecture.load(&path, &self.ctx.device))
            .transpose()
    }

    fn begin_phase(
        &self,
        model: Classifier,
        phase: &Phase,
        fold: &FoldIndices,
    ) -> (Classifier, ClassifierPhase) {
        let model = set_trainable(model, phase.trainable);
        let features = phase
            .on_cached_features
            .then(|| FeatureCache::compute(self.ctx, &model, &[&fold.train, &fold.val]));
        let stages = model.backbone.num_stages();
        let rates = StageRates::new(&model.backbone, stages, self.ctx.config.train.layer_decay);
        (model, ClassifierPhase { features, rates })
    }

    fn train_step(
        &self,
        mut model: Classifier,
        phase: &ClassifierPhase,
        step: &Step,
        optimizer: &mut ModuleOptimizer,
    ) -> (Classifier, StepResult) {
        let ctx = self.ctx;
        let loss_fn = CrossEntropyLossConfig::new()
            .with_weights(self.class_weights.clone())
            .init(&ctx.device);
        let targets = label_tensor(ctx.labels, step.batch, &ctx.device);
        if let Some(features) = &phase.features {
            let logits = model.head.forward(features.batch(step.batch, &ctx.device));
            let loss = loss_fn.forward(logits, targets);
            let value = loss.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model.head);
            model.head = optimizer.step(step.lr, model.head, grads);
            return (model, StepResult::loss(value));
        }
        let augment = ctx.augmenter.as_ref().map(|augmenter| AugmentStream {
            augmenter,
            seed: step.augment_seed,
            epoch: step.epoch as u64,
        });
        let x = image_batch(ctx.cache, step.batch, &ctx.input, augment, &ctx.device);
        let loss = loss_fn.forward(model.forward(x), targets);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (
            optimizer.step(phase.rates.at(step.lr), model, grads),
            StepResult::loss(value),
        )
    }

    fn end_epoch(&self, model: &mut Classifier, phase: &ClassifierPhase, fold: &FoldIndices) {
        if let (None, BatchNormStats::Precise { images }) =
            (&phase.features, self.ctx.config.train.batch_norm_stats)
        {
            recompute_statistics(self.ctx, model, &fold.train, images);
        }
    }

    fn validate(
        &self,
        model: &Classifier,
        phase: &ClassifierPhase,
        fold: &FoldIndices,
        _: &TrainedEpoch,
    ) -> Validation {
        let ctx = self.ctx;
        let probs = match &phase.features {
            Some(features) => features.predict(model, &fold.val, ctx),
            None => predict_images(ctx, model, &fold.val),
        };
        let labels: Vec<usize> = fold.val.iter().map(|&i| ctx.labels[i]).collect();
        let val = score(&probs, &labels, ctx.num_classes, ctx.positive);
        Validation {
            monitor: val.monitor(),
            loss: val.loss,
            metrics: vec![val.auc, val.balanced_accuracy],
            summary: format!(
                "val AUC {:.4}  val bal.acc {:.4}",
                val.auc, val.balanced_accuracy
            ),
        }
    }
}

fn predict_outcome(
    ctx: &RunContext,
    model: &Classifier,
    fold: &FoldIndices,
    train_seconds: f64,
) -> FoldOutcome {
    FoldOutcome {
        val_probs: predict_images(ctx, model, &fold.val),
        test_probs: predict_images(ctx, model, &fold.test),
        seconds: train_seconds,
    }
}

pub fn new_optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    match *config {
        OptimizerConfig::Adamw { weight_decay } => AdamWConfig::new()
            .with_weight_decay(weight_decay as f32)
            // PyTorch's default; burn's is 1e-5.
            .with_epsilon(1e-8)
            .init(),
        OptimizerConfig::Sgd {
            momentum,
            weight_decay,
            nesterov,
        } => SgdConfig::new()
            .with_momentum(Some(MomentumConfig {
                momentum,
                dampening: 0.0,
                nesterov,
            }))
            .with_weight_decay((weight_decay > 0.0).then(|| WeightDecayConfig {
                penalty: weight_decay as f32,
            }))
            .init(),
    }
}

/// `n / (k * n_c)` over the training samples (scikit-learn's "balanced").
fn class_weights(
    mode: ClassWeights,
    labels: &[usize],
    train: &[usize],
    k: usize,
) -> Option<Vec<f32>> {
    match mode {
        ClassWeights::None => None,
        ClassWeights::Balanced => {
            let mut counts = vec![0usize; k];
            for &i in train {
                counts[labels[i]] += 1;
            }
            let n = train.len() as f64;
            Some(
                counts
                    .iter()
                    .map(|&c| {
                        if c == 0 {
                            0.0
                        } else {
                            (n / (k as f64 * c as f64)) as f32
                        }
                    })
                    .collect(),
            )
        }
    }
}

/// Precise BN: the backbone's running statistics from up to `images` unaugmented training
/// images, spread evenly over the fold's training list.
fn recompute_statistics(ctx: &RunContext, model: &mut Classifier, train: &[usize], images: usize) {
    let count = images.min(train.len());
    if count == 0 {
        return;
    }
    let subset: Vec<usize> = (0..count).map(|k| train[k * train.len() / count]).collect();
    let batches = subset
        .chunks(ctx.config.train.batch_size.max(1))
        .map(|chunk| image_batch(ctx.cache, chunk, &ctx.input, None, &ctx.device));
    recompute_batch_norm_statistics(&mut model.backbone, batches);
}

/// Softmax probabilities of `model` on the (unaugmented) images at `indices`.
pub fn predict_images(ctx: &RunContext, model: &Classifier, indices: &[usize]) -> Vec<f32> {
    predict_images_with(ctx, model, indices, TestTimeAugmentation::None)
}

/// Test-time augmentation: what predictions average over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestTimeAugmentation {
    /// The image as it is.
    #[default]
    None,
    /// The mean of the class probabilities of the image and its mirror image.
    Hflip,
}

/// Class probabilities of `indices` (row-major n x classes), averaged over `tta`'s views.
pub fn predict_images_with(
    ctx: &RunContext,
    model: &Classifier,
    indices: &[usize],
    tta: TestTimeAugmentation,
) -> Vec<f32> {
    let model = model.valid();
    let device = ctx.device.clone().without_autodiff();
    let mut out = Vec::with_capacity(indices.len() * ctx.num_classes);
    for chunk in indices.chunks(ctx.config.train.batch_size.max(1)) {
        let x = image_batch(ctx.cache, chunk, &ctx.input, None, &device);
        let probs = match tta {
            TestTimeAugmentation::None => softmax(model.forward(x), 1),
            TestTimeAugmentation::Hflip => {
                let mirrored = x.clone().flip([3]);
                (softmax(model.forward(x), 1) + softmax(model.forward(mirrored), 1)) / 2.0
            }
        };
        out.extend(probs.into_data().iter::<f32>());
    }
    out
}

/// Backbone features of every sample a head-only phase touches, computed once.
pub struct FeatureCache {
    dim: usize,
    /// Row of each dataset index in `values` (usize::MAX when not cached).
    row_of: Vec<usize>,
    values: Vec<f32>,
}

impl FeatureCache {
    fn compute(ctx: &RunContext, model: &Classifier, groups: &[&[usize]]) -> Self {
        let backbone = model.backbone.valid();
        let device = ctx.device.clone().without_autodiff();
        let mut row_of = vec![usize::MAX; ctx.labels.len()];
        let mut order = Vec::new();
        for group in groups {
            for &i in *group {
                if row_of[i] == usize::MAX {
                    row_of[i] = order.len();
                    order.push(i);
                }
            }
        }
        let mut values = Vec::new();
        let mut dim = 0;
        let bar = ctx.events.task(
            "caching backbone features",
            order.len().div_ceil(ctx.config.train.batch_size.max(1)),
            TaskKind::Work,
        );
        for chunk in order.chunks(ctx.config.train.batch_size.max(1)) {
            let x = image_batch(ctx.cache, chunk, &ctx.input, None, &device);
            let f = backbone.forward_features(x);
            dim = f.dims()[1];
            values.extend(f.into_data().iter::<f32>());
            bar.step(None);
        }
        drop(bar);
        FeatureCache {
            dim,
            row_of,
            values,
        }
    }

    fn rows(&self, indices: &[usize]) -> Vec<usize> {
        indices.iter().map(|&i| self.row_of[i]).collect()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        feature_batch(&self.values, self.dim, &self.rows(indices), device)
    }

    fn predict(&self, model: &Classifier, indices: &[usize], ctx: &RunContext) -> Vec<f32> {
        let head = model.head.valid();
        let device = ctx.device.clone().without_autodiff();
        let x = self.batch(indices, &device);
        softmax(head.forward(x), 1)
            .into_data()
            .iter::<f32>()
            .collect()
    }
}
