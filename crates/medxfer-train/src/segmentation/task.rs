//! Segmentation as a task of the run engine: a U-Net on the configured backbone learns binary
//! masks under the Dice + cross-entropy (or focal) loss; the image and its mask move together
//! under the augmentations; validation scores by mean Dice.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use medxfer_data::augment::Augmenter;
use medxfer_data::batch::sample_rng;
use medxfer_data::cache::ImageCache;
use medxfer_data::normalize::to_chw;
use medxfer_data::preprocess::PreparedMask;
use medxfer_models::weights::default_cache_dir;
use medxfer_models::{Backbone, UNet, UNetConfig, UNetTrainable, load_init};
use rayon::prelude::*;

use crate::TrainError;
use crate::batches::InputSpec;
use crate::checkpoint::{CurveRow, model_file};
use crate::config::{BatchNormStats, TrainConfig};
use crate::engine::{FoldTask, Step, StepResult, TrainedEpoch, Validation};
use crate::fold::FoldIndices;
use crate::segmentation::config::SegmentationConfig;
use crate::segmentation::loss::segmentation_loss;
use crate::stage_rates::StageRates;
use crate::strategy::{Phase, Trainable};

/// Everything the folds of a segmentation run share.
pub struct SegmentationContext<'a> {
    pub config: &'a TrainConfig,
    pub segmentation: &'a SegmentationConfig,
    pub cache: &'a ImageCache,
    /// Each sample's mask at the model's resolution (0/1), in dataset order.
    pub masks: &'a [PreparedMask],
    pub input: InputSpec,
    pub augmenter: Option<Augmenter>,
    pub unet: UNetConfig,
    /// The training device (autodiff enabled).
    pub device: Device,
}

pub struct Segmentation<'a> {
    pub ctx: &'a SegmentationContext<'a>,
}

impl Segmentation<'_> {
    pub(crate) fn load_model(&self, path: &Path) -> Result<UNet, TrainError> {
        UNet::new(&self.ctx.unet, &self.ctx.device)?
            .try_load_file(path)
            .map_err(|e| TrainError::Checkpoint {
                path: path.to_path_buf(),
                message: format!("cannot load U-Net weights: {e}"),
            })
    }

    fn save_model(&self, model: &UNet, path: &Path) -> Result<(), TrainError> {
        model
            .clone()
            .save_file(path)
            .map_err(|e| TrainError::Checkpoint {
                path: path.to_path_buf(),
                message: format!("cannot save U-Net: {e}"),
            })
    }
}

impl FoldTask for Segmentation<'_> {
    type Model = UNet;
    /// The learning rate of each encoder stage.
    type PhaseData = StageRates;
    type Output = UNet;

    fn curve_columns(&self) -> &'static [&'static str] {
        &["val_dice", "val_iou"]
    }

    fn initial_model(&self, fold: usize) -> Result<UNet, TrainError> {
        let ctx = self.ctx;
        let kind = ctx.unet.backbone;
        let encoder = Backbone::new(kind, ctx.unet.in_channels, &ctx.device);
        let init = ctx.config.model.init.for_fold(fold);
        let encoder = load_init(encoder, kind, &init, &default_cache_dir())?;
        Ok(UNet::from_encoder(encoder, &ctx.unet, &ctx.device)?)
    }

    fn save_checkpoint(&self, model: &UNet, dir: &Path) -> Result<(), TrainError> {
        self.save_model(model, &model_file(dir))
    }

    fn load_checkpoint(&self, dir: &Path) -> Result<UNet, TrainError> {
        self.load_model(&model_file(dir))
    }

    /// The best model, as `fold_K/model.bpk`.
    fn save_output(
        &self,
        model: UNet,
        fold_dir: &Path,
        _: &[CurveRow],
    ) -> Result<UNet, TrainError> {
        self.save_model(&model, &model_file(fold_dir))?;
        Ok(model)
    }

    fn load_output(&self, fold_dir: &Path) -> Result<Option<UNet>, TrainError> {
        let path = model_file(fold_dir);
        path.exists().then(|| self.load_model(&path)).transpose()
    }

    fn begin_phase(&self, model: UNet, phase: &Phase, _: &FoldIndices) -> (UNet, StageRates) {
        // A head-only phase of a classifier is a decoder-only phase here; the decoder needs
        // every encoder map, so there are no cached features.
        let trainable = match phase.trainable {
            Trainable::HeadOnly => UNetTrainable::DecoderOnly,
            Trainable::LastStages(n) => UNetTrainable::LastEncoderStages(n),
            Trainable::All => UNetTrainable::All,
        };
        let model = model.set_trainable(trainable);
        let stages = model.num_encoder_stages();
        let decay = self.ctx.config.train.layer_decay;
        let rates = StageRates::new(&model.encoder, stages, decay);
        (model, rates)
    }

    fn train_step(
        &self,
        model: UNet,
        rates: &StageRates,
        step: &Step,
        optimizer: &mut ModuleOptimizer,
    ) -> (UNet, StepResult) {
        let ctx = self.ctx;
        let augment = ctx
            .augmenter
            .as_ref()
            .map(|augmenter| (augmenter, step.augment_seed, step.epoch as u64));
        let (x, y) = image_mask_batch(ctx, step.batch, augment, &ctx.device);
        let loss = segmentation_loss(&ctx.segmentation.loss, model.forward(x), y);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (
            optimizer.step(rates.at(step.lr), model, grads),
            StepResult::loss(value),
        )
    }

    fn end_epoch(&self, model: &mut UNet, _: &StageRates, fold: &FoldIndices) {
        let ctx = self.ctx;
        if let BatchNormStats::Precise { images } = ctx.config.train.batch_norm_stats {
            let count = images.min(fold.train.len());
            if count == 0 {
                return;
            }
            let subset: Vec<usize> = (0..count)
                .map(|k| fold.train[k * fold.train.len() / count])
                .collect();
            let batches = subset
                .chunks(ctx.config.train.batch_size.max(1))
                .map(|chunk| image_mask_batch(ctx, chunk, None, &ctx.device).0);
            model.recompute_batch_norm_statistics(batches);
        }
    }

    fn validate(
        &self,
        model: &UNet,
        _: &StageRates,
        fold: &FoldIndices,
        _: &TrainedEpoch,
    ) -> Validation {
        let ctx = self.ctx;
        let valid = model.valid();
        let device = ctx.device.clone().without_autodiff();
        let (mut loss_sum, mut dice_sum, mut iou_sum) = (0.0, 0.0, 0.0);
        for chunk in fold.val.chunks(ctx.config.train.batch_size.max(1)) {
            let (x, y) = image_mask_batch(ctx, chunk, None, &device);
            let logits = valid.forward(x);
            let loss = segmentation_loss(&ctx.segmentation.loss, logits.clone(), y);
            loss_sum += loss.into_scalar::<f32>() as f64 * chunk.len() as f64;
            let probs: Vec<f32> = sigmoid(logits).into_data().iter::<f32>().collect();
            let pixels = probs.len() / chunk.len();
            for (row, &i) in chunk.iter().enumerate() {
                let predicted = threshold(
                    &probs[row * pixels..(row + 1) * pixels],
                    ctx.segmentation.threshold,
                );
                let (dice, iou) = overlap_scores(&predicted, &ctx.masks[i].pixels);
                dice_sum += dice;
                iou_sum += iou;
            }
        }
        let n = fold.val.len().max(1) as f64;
        let (dice, iou) = (dice_sum / n, iou_sum / n);
        Validation {
            monitor: dice,
            loss: loss_sum / n,
            metrics: vec![dice, iou],
            summary: format!("val Dice {dice:.4}  val IoU {iou:.4}"),
        }
    }
}

/// Predicted masks (0/1 per pixel, row-major) of the images at `indices`.
pub fn predict_masks(ctx: &SegmentationContext, model: &UNet, indices: &[usize]) -> Vec<Vec<u8>> {
    let valid = model.valid();
    let device = ctx.device.clone().without_autodiff();
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(ctx.config.train.batch_size.max(1)) {
        let (x, _) = image_mask_batch(ctx, chunk, None, &device);
        let probs: Vec<f32> = sigmoid(valid.forward(x))
            .into_data()
            .iter::<f32>()
            .collect();
        let pixels = probs.len() / chunk.len();
        out.extend(
            probs
                .chunks(pixels)
                .map(|p| threshold(p, ctx.segmentation.threshold)),
        );
    }
    out
}

fn threshold(probs: &[f32], threshold: f64) -> Vec<u8> {
    probs
        .iter()
        .map(|&p| u8::from(p as f64 > threshold))
        .collect()
}

/// Dice and IoU of two binary masks; both empty counts as a perfect match (1, 1).
pub fn overlap_scores(predicted: &[u8], truth: &[u8]) -> (f64, f64) {
    let (mut both, mut p, mut t) = (0usize, 0usize, 0usize);
    for (&a, &b) in predicted.iter().zip(truth) {
        let (a, b) = (a != 0, b != 0);
        both += usize::from(a && b);
        p += usize::from(a);
        t += usize::from(b);
    }
    if p + t == 0 {
        return (1.0, 1.0);
    }
    let dice = 2.0 * both as f64 / (p + t) as f64;
    let iou = both as f64 / (p + t - both) as f64;
    (dice, iou)
}

/// Images (N x C x H x W, normalised) and masks (N x 1 x H x W, 0/1) of the samples at
/// `indices`, jointly augmented when `augment` = (augmenter, seed, epoch) is given. Each
/// sample draws from its own seeded stream, so batches do not depend on thread scheduling.
pub fn image_mask_batch(
    ctx: &SegmentationContext,
    indices: &[usize],
    augment: Option<(&Augmenter, u64, u64)>,
    device: &Device,
) -> (Tensor<4>, Tensor<4>) {
    let size = ctx.input.size;
    let channels = ctx.input.channels;
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = indices
        .par_iter()
        .map(|&index| {
            let image = ctx.cache.get(index);
            let mask = &ctx.masks[index];
            let (image, mask) = match augment {
                Some((augmenter, seed, epoch)) => {
                    let mut rng = sample_rng(seed, epoch, index);
                    let (image, mask) = augmenter.apply_with_mask(image, mask, &mut rng);
                    (
                        std::borrow::Cow::Owned(image),
                        std::borrow::Cow::Owned(mask),
                    )
                }
                None => (
                    std::borrow::Cow::Borrowed(image),
                    std::borrow::Cow::Borrowed(mask),
                ),
            };
            let mut values = Vec::with_capacity(channels * size * size);
            to_chw(
                &image,
                channels,
                &ctx.input.mean,
                &ctx.input.std,
                &mut values,
            );
            let mask = mask.pixels.iter().map(|&v| f32::from(v.min(1))).collect();
            (values, mask)
        })
        .collect();
    let (images, masks): (Vec<Vec<f32>>, Vec<Vec<f32>>) = pairs.into_iter().unzip();
    let n = indices.len();
    let x = Tensor::from_data(
        TensorData::new(images.concat(), [n, channels, size, size]),
        device,
    );
    let y = Tensor::from_data(TensorData::new(masks.concat(), [n, 1, size, size]), device);
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::overlap_scores;

    #[test]
    fn overlap_scores_follow_their_definitions() {
        let (dice, iou) = overlap_scores(&[1, 1, 0, 0], &[1, 0, 1, 0]);
        assert!((dice - 0.5).abs() < 1e-12 && (iou - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(overlap_scores(&[0, 0], &[0, 0]), (1.0, 1.0));
        assert_eq!(overlap_scores(&[1, 0], &[0, 0]), (0.0, 0.0));
    }
}
