//! Segmentation losses on logits (B x 1 x H x W) against binary masks of the same shape:
//! soft Dice, binary cross-entropy and focal loss, computed in a numerically stable form.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::segmentation::config::SegmentationLoss;

/// Smoothing of the soft Dice ratio, so an empty mask predicted empty scores 1, not 0/0.
const DICE_SMOOTH: f64 = 1.0;

/// The configured weighted sum, averaged over the batch (a scalar tensor).
pub fn segmentation_loss(
    config: &SegmentationLoss,
    logits: Tensor<4>,
    target: Tensor<4>,
) -> Tensor<1> {
    let dice = soft_dice_loss(logits.clone(), target.clone()).mul_scalar(config.dice);
    let pixel = match config.focal {
        Some(focal) => focal_loss(logits, target, focal.gamma, focal.alpha),
        None => bce_with_logits(logits, target).mean(),
    };
    dice + pixel.mul_scalar(config.bce)
}

/// 1 - mean over images of (2 |P.Y| + s) / (|P| + |Y| + s), with P = sigmoid(logits).
pub fn soft_dice_loss(logits: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = logits.dims();
    let probs = sigmoid(logits).reshape([batch as i32, -1]);
    let target = target.reshape([batch as i32, -1]);
    let overlap = (probs.clone() * target.clone()).sum_dim(1);
    let sizes = probs.sum_dim(1) + target.sum_dim(1);
    let dice = overlap.mul_scalar(2.0).add_scalar(DICE_SMOOTH) / sizes.add_scalar(DICE_SMOOTH);
    dice.mean().neg().add_scalar(1.0)
}

/// Per-pixel cross-entropy of sigmoid(x) against y: max(x, 0) - x y + ln(1 + e^-|x|).
pub fn bce_with_logits(logits: Tensor<4>, target: Tensor<4>) -> Tensor<4> {
    let softplus_tail = logits.clone().abs().neg().exp().add_scalar(1.0).log();
    logits.clone().clamp_min(0.0) - logits * target + softplus_tail
}

/// Mean of alpha_t (1 - p_t)^gamma BCE, with p_t the probability of the true class.
pub fn focal_loss(logits: Tensor<4>, target: Tensor<4>, gamma: f64, alpha: f64) -> Tensor<1> {
    let bce = bce_with_logits(logits.clone(), target.clone());
    // p_t = exp(-bce) exactly, without a second sigmoid.
    let p_true = bce.clone().neg().exp();
    let modulation = p_true
        .neg()
        .add_scalar(1.0)
        .clamp_min(0.0)
        .powf_scalar(gamma);
    let alpha_t =
        target.clone().mul_scalar(alpha) + target.neg().add_scalar(1.0).mul_scalar(1.0 - alpha);
    (alpha_t * modulation * bce).mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(values: &[f32], device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [1, 1, 1, values.len()]),
            device,
        )
    }

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_scalar::<f32>() as f64
    }

    /// Reference values computed by hand (and with PyTorch's binary_cross_entropy_with_logits
    /// and torchvision.ops.sigmoid_focal_loss, which give the same to 1e-6).
    #[test]
    fn losses_match_their_definitions() {
        let device = Device::flex();
        let logits = [2.0f32, -1.0, 0.0, -3.0];
        let target = [1.0f32, 0.0, 1.0, 1.0];
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let mut bce = 0.0;
        let mut focal = 0.0;
        let (mut overlap, mut psum, mut ysum) = (0.0, 0.0, 0.0);
        for (&x, &y) in logits.iter().zip(&target) {
            let (x, y) = (x as f64, y as f64);
            let p = sig(x);
            let ce = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            let p_t = p * y + (1.0 - p) * (1.0 - y);
            let alpha_t = 0.25 * y + 0.75 * (1.0 - y);
            bce += ce / 4.0;
            focal += alpha_t * (1.0 - p_t).powi(2) * ce / 4.0;
            overlap += p * y;
            psum += p;
            ysum += y;
        }
        let dice = 1.0 - (2.0 * overlap + 1.0) / (psum + ysum + 1.0);
        let x = tensor(&logits, &device);
        let y = tensor(&target, &device);
        let got_bce = scalar(bce_with_logits(x.clone(), y.clone()).mean());
        assert!((got_bce - bce).abs() < 1e-6, "{got_bce} vs {bce}");
        let got_focal = scalar(focal_loss(x.clone(), y.clone(), 2.0, 0.25));
        assert!((got_focal - focal).abs() < 1e-6, "{got_focal} vs {focal}");
        let got_dice = scalar(soft_dice_loss(x.clone(), y.clone()));
        assert!((got_dice - dice).abs() < 1e-6, "{got_dice} vs {dice}");
        let both = scalar(segmentation_loss(&SegmentationLoss::default(), x, y));
        assert!((both - (dice + bce)).abs() < 1e-6);
    }

    #[test]
    fn extreme_logits_stay_finite() {
        let device = Device::flex();
        let x = tensor(&[80.0, -80.0, 80.0, -80.0], &device);
        let y = tensor(&[0.0, 1.0, 1.0, 0.0], &device);
        let bce = scalar(bce_with_logits(x.clone(), y.clone()).mean());
        assert!((bce - 40.0).abs() < 1e-3, "{bce}");
        assert!(scalar(focal_loss(x, y, 2.0, 0.25)).is_finite());
    }
}
