//! Training one fold through the phases of its strategy: epochs over augmented images or over
//! cached backbone features, validation after every epoch, best-epoch selection on validation
//! AUC, optional early stopping, and a checkpoint committed after every epoch.

use std::path::Path;
use std::time::Instant;

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
use crate::batches::{
    AugmentStream, InputSpec, feature_batch, image_batch, label_tensor, mix_seed, shuffled_batches,
};
use crate::checkpoint::{CurveRow, FoldProgress, checkpoint_name, model_file, optimizer_file};
use crate::config::{BatchNormStats, ClassWeights, OptimizerConfig, TrainConfig};
use crate::model_setup::{Architecture, save_model, set_trainable};
use crate::run_folder::resume;
use crate::schedule::learning_rate;
use crate::scoring::{ValScore, score};
use crate::strategy::{Phase, phases};
use medxfer_atomic::run_files::MODEL;
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

const INIT_STREAM: u64 = 0x1A17;
const SHUFFLE_STREAM: u64 = 0x5AFF;
const AUGMENT_STREAM: u64 = 0xA6;
const DROPOUT_STREAM: u64 = 0xD0;

pub fn train_fold(
    ctx: &RunContext,
    fold: &FoldIndices,
    fold_dir: &Path,
) -> Result<FoldOutcome, TrainError> {
    std::fs::create_dir_all(fold_dir).map_err(|e| TrainError::io(fold_dir, e))?;
    let started = Instant::now();
    // Start of the wall time not yet added to `progress.train_seconds`.
    let mut unrecorded_since = started;
    let config = ctx.config;
    let final_model = fold_dir.join(MODEL);
    if let Some(progress) = FoldProgress::load(fold_dir)?
        && progress.finished
        && final_model.exists()
    {
        let model = ctx.architecture.load(&final_model, &ctx.device)?;
        return Ok(predict_outcome(ctx, &model, fold, progress.train_seconds));
    }

    let all_phases = phases(&config.train.strategy, config.train.epochs, config.train.lr);
    ctx.device
        .seed(mix_seed(&[config.seed, fold.fold as u64, INIT_STREAM]));
    let mut model = ctx.architecture.build_initialised(
        &config.model.init.for_fold(fold.fold),
        &default_cache_dir(),
        &ctx.device,
    )?;
    let mut optimizer = new_optimizer(&config.train.optimizer);
    let resumed = resume(fold_dir, ctx.events, |p: &FoldProgress| {
        p.current
            .as_ref()
            .map(|current| restore_checkpoint(ctx, &fold_dir.join(current)))
            .transpose()
    })?;
    let mut progress = FoldProgress::default();
    if let Some((committed, state)) = resumed {
        progress = committed;
        if let (Some((saved_model, saved_optimizer)), Some(current)) = (state, &progress.current) {
            (model, optimizer) = (saved_model, saved_optimizer);
            ctx.events.note(format!(
                "fold {}: resuming after epoch {} of phase {} ({current})",
                fold.fold,
                progress.epochs_done,
                progress.phase + 1,
            ));
        }
    }
    let class_weights = class_weights(
        config.train.class_weights,
        ctx.labels,
        &fold.train,
        ctx.num_classes,
    );

    while progress.phase < all_phases.len() {
        let phase_index = progress.phase;
        let phase = &all_phases[phase_index];
        if progress.epochs_done >= phase.epochs {
            progress.phase += 1;
            progress.epochs_done = 0;
            progress.epochs_since_best = 0;
            // A new phase starts with fresh optimizer state (its parameters and rate differ).
            optimizer = new_optimizer(&config.train.optimizer);
            continue;
        }
        model = set_trainable(model, phase.trainable);
        let features = if phase.on_cached_features {
            Some(FeatureCache::compute(
                ctx,
                &model,
                &[&fold.train, &fold.val],
            ))
        } else {
            None
        };
        let loss_fn = CrossEntropyLossConfig::new()
            .with_weights(class_weights.clone())
            .init(&ctx.device);
        let steps_per_epoch = fold.train.len().div_ceil(config.train.batch_size);
        let total_steps = steps_per_epoch * phase.epochs;

        for epoch in progress.epochs_done..phase.epochs {
            let epoch_started = Instant::now();
            let stream = [
                config.seed,
                fold.fold as u64,
                phase_index as u64,
                epoch as u64,
            ];
            ctx.device.seed(mix_seed(&[
                DROPOUT_STREAM,
                stream[0],
                stream[1],
                stream[2],
                stream[3],
            ]));
            let batches = shuffled_batches(
                &fold.train,
                config.train.batch_size,
                mix_seed(&[SHUFFLE_STREAM, stream[0], stream[1], stream[2], stream[3]]),
            );
            let augment_seed = mix_seed(&[AUGMENT_STREAM, stream[0], stream[1], stream[2]]);
            let bar = ctx.events.task(
                format!(
                    "fold {} {} {}/{}",
                    fold.fold,
                    phase.name,
                    epoch + 1,
                    phase.epochs
                ),
                batches.len(),
                TaskKind::Epoch,
            );
            let mut loss_sum = 0.0;
            let mut seen = 0usize;
            let mut lr = phase.lr;
            for (b, batch) in batches.iter().enumerate() {
                lr = learning_rate(
                    &config.train.schedule,
                    phase.lr,
                    epoch * steps_per_epoch + b,
                    steps_per_epoch,
                    total_steps,
                );
                let targets = label_tensor(ctx.labels, batch, &ctx.device);
                let loss_value;
                if let Some(features) = &features {
                    let x = features.batch(batch, &ctx.device);
                    let logits = model.head.forward(x);
                    let loss = loss_fn.forward(logits, targets);
                    loss_value = loss.clone().into_scalar::<f32>() as f64;
                    let grads = GradientsParams::from_grads(loss.backward(), &model.head);
                    model.head = optimizer.step(lr, model.head, grads);
                } else {
                    let x = image_batch(
                        ctx.cache,
                        batch,
                        &ctx.input,
                        ctx.augmenter.as_ref().map(|augmenter| AugmentStream {
                            augmenter,
                            seed: augment_seed,
                            epoch: epoch as u64,
                        }),
                        &ctx.device,
                    );
                    let logits = model.forward(x);
                    let loss = loss_fn.forward(logits, targets);
                    loss_value = loss.clone().into_scalar::<f32>() as f64;
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    model = optimizer.step(lr, model, grads);
                }
                if !loss_value.is_finite() {
                    return Err(TrainError::Other(format!(
                        "fold {}: the training loss became {loss_value} in epoch {} of phase `{}`; lower the learning rate",
                        fold.fold,
                        epoch + 1,
                        phase.name
                    )));
                }
                loss_sum += loss_value * batch.len() as f64;
                seen += batch.len();
                bar.step(Some(format!("loss {:.4}", loss_sum / seen as f64)));
            }
            drop(bar);

            if let (None, BatchNormStats::Precise { images }) =
                (&features, config.train.batch_norm_stats)
            {
                recompute_statistics(ctx, &mut model, &fold.train, images);
            }
            let val_probs = match &features {
                Some(features) => features.predict(&model, &fold.val, ctx),
                None => predict_images(ctx, &model, &fold.val),
            };
            let val_labels: Vec<usize> = fold.val.iter().map(|&i| ctx.labels[i]).collect();
            let val = score(&val_probs, &val_labels, ctx.num_classes, ctx.positive);

            let name = checkpoint_name(phase_index, epoch + 1);
            let dir = fold_dir.join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
            save_model(&model, &model_file(&dir))?;
            let opt_path = optimizer_file(&dir);
            optimizer
                .save(&opt_path)
                .map_err(|e| TrainError::Checkpoint {
                    path: opt_path.clone(),
                    message: format!("cannot save optimizer state: {e}"),
                })?;

            let improved = progress.best_score.is_none_or(|best| val.monitor() > best);
            if improved {
                progress.best = Some(name.clone());
                progress.best_score = Some(val.monitor());
                progress.epochs_since_best = 0;
            } else {
                progress.epochs_since_best += 1;
            }
            progress.current = Some(name);
            progress.epochs_done = epoch + 1;
            let seconds = epoch_started.elapsed().as_secs_f64();
            progress.curve.push(CurveRow {
                phase: phase.name.to_string(),
                epoch: epoch + 1,
                lr,
                train_loss: loss_sum / seen.max(1) as f64,
                val_loss: val.loss,
                val_auc: val.auc,
                val_balanced_accuracy: val.balanced_accuracy,
                seconds,
            });
            let patience = config.train.early_stopping_patience;
            let stop = patience > 0 && progress.epochs_since_best >= patience;
            if stop {
                progress.epochs_done = phase.epochs;
            }
            progress.train_seconds += unrecorded_since.elapsed().as_secs_f64();
            unrecorded_since = Instant::now();
            progress.commit(fold_dir)?;
            ctx.events.note(epoch_line(
                fold.fold,
                phase,
                epoch,
                &val,
                loss_sum / seen.max(1) as f64,
                seconds,
                improved,
            ));
            if stop {
                ctx.events.note(format!(
                    "fold {}: early stop in phase `{}` after {} epochs without a better validation score",
                    fold.fold, phase.name, patience
                ));
                break;
            }
        }
    }

    let best = progress
        .best
        .clone()
        .ok_or_else(|| TrainError::Other(format!("fold {}: no epoch was trained", fold.fold)))?;
    let best_model = ctx
        .architecture
        .load(&model_file(&fold_dir.join(&best)), &ctx.device)?;
    save_model(&best_model, &final_model)?;
    progress.finished = true;
    progress.current = None;
    progress.best = None;
    progress.train_seconds += unrecorded_since.elapsed().as_secs_f64();
    progress.commit(fold_dir)?;
    Ok(predict_outcome(
        ctx,
        &best_model,
        fold,
        progress.train_seconds,
    ))
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

/// The log line of a finished epoch.
fn epoch_line(
    fold: usize,
    phase: &Phase,
    epoch: usize,
    val: &ValScore,
    train_loss: f64,
    seconds: f64,
    improved: bool,
) -> String {
    format!(
        "fold {fold} {} epoch {}/{}: train loss {train_loss:.4}  val loss {:.4}  val AUC {:.4}  val bal.acc {:.4}  {seconds:.1}s{}",
        phase.name,
        epoch + 1,
        phase.epochs,
        val.loss,
        val.auc,
        val.balanced_accuracy,
        if improved { "  *best" } else { "" }
    )
}

/// The model and optimizer state saved in the checkpoint folder `dir`.
fn restore_checkpoint(
    ctx: &RunContext,
    dir: &Path,
) -> Result<(Classifier, ModuleOptimizer), TrainError> {
    let model = ctx.architecture.load(&model_file(dir), &ctx.device)?;
    let path = optimizer_file(dir);
    let optimizer = new_optimizer(&ctx.config.train.optimizer)
        .load(&path)
        .map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            message: format!("cannot load optimizer state: {e}"),
        })?;
    Ok((model, optimizer))
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
    let model = model.valid();
    let device = ctx.device.clone().without_autodiff();
    let mut out = Vec::with_capacity(indices.len() * ctx.num_classes);
    for chunk in indices.chunks(ctx.config.train.batch_size.max(1)) {
        let x = image_batch(ctx.cache, chunk, &ctx.input, None, &device);
        let probs = softmax(model.forward(x), 1);
        out.extend(probs.into_data().iter::<f32>());
    }
    out
}

/// Backbone features of every sample a head-only phase touches, computed once.
struct FeatureCache {
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
