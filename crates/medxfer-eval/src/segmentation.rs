//! Segmentation metrics of one binary mask against the truth, and their aggregate.
//!
//! Masks are row-major boolean grids of any dimension with per-axis pixel spacing.
//! Surface distances follow MONAI: the surface of a mask is its pixels removed by a binary
//! erosion (face-connected structuring element, outside the grid counts as background); the
//! directed distances are, for each surface pixel of one mask, the exact Euclidean distance to
//! the nearest surface pixel of the other. Hausdorff = max of the two directed maxima; HD95 =
//! max of the two directed 95th percentiles (linear interpolation); ASSD = mean of both
//! directions' distances pooled.
//!
//! Empty-mask conventions:
//! - both empty: Dice = IoU = precision = recall = 1 and every distance 0 (perfect agreement);
//! - only one empty: Dice = IoU = 0, precision = recall = 0, every distance +inf (as MONAI);
//! - balanced pixel accuracy averages the recall of the classes (foreground, background)
//!   present in the truth; pixel accuracy is always defined.

use crate::EvalError;
use crate::distance_transform::{check_grid, squared_distance_to_nearest};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationMetrics {
    pub dice: f64,
    pub iou: f64,
    pub pixel_accuracy: f64,
    pub balanced_pixel_accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub hausdorff: f64,
    pub hd95: f64,
    pub assd: f64,
}

/// Surface pixels: in the mask, with a face neighbour outside the mask or the grid.
pub fn mask_surface(mask: &[bool], shape: &[usize]) -> Vec<bool> {
    let strides: Vec<usize> = (0..shape.len())
        .map(|a| shape[a + 1..].iter().product())
        .collect();
    let mut surface = vec![false; mask.len()];
    for (i, &inside) in mask.iter().enumerate() {
        if !inside {
            continue;
        }
        surface[i] = (0..shape.len()).any(|axis| {
            let coord = (i / strides[axis]) % shape[axis];
            coord == 0
                || coord + 1 == shape[axis]
                || !mask[i - strides[axis]]
                || !mask[i + strides[axis]]
        });
    }
    surface
}

/// Distances from each surface pixel of `from` to the nearest surface pixel of `to`
/// (+inf each if `to` has no surface).
pub fn directed_surface_distances(
    from_surface: &[bool],
    to_surface: &[bool],
    shape: &[usize],
    spacing: &[f64],
) -> Result<Vec<f64>, EvalError> {
    let field = squared_distance_to_nearest(to_surface, shape, spacing)?;
    Ok(from_surface
        .iter()
        .zip(&field)
        .filter(|&(&s, _)| s)
        .map(|(_, &d2)| d2.sqrt())
        .collect())
}

/// NumPy's default (linear) percentile of unsorted values, `q` in [0, 100].
fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let h = (values.len() - 1) as f64 * q / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    values[lo] + (values[hi] - values[lo]) * (h - lo as f64)
}

fn ratio_or(num: f64, den: f64, empty: f64) -> f64 {
    if den == 0.0 { empty } else { num / den }
}

/// All metrics of `pred` against `truth` (same grid), distances in spacing units.
pub fn segmentation_metrics(
    pred: &[bool],
    truth: &[bool],
    shape: &[usize],
    spacing: &[f64],
) -> Result<SegmentationMetrics, EvalError> {
    check_grid("segmentation prediction", pred.len(), shape, spacing)?;
    check_grid("segmentation truth", truth.len(), shape, spacing)?;
    let (mut tp, mut fp, mut fn_, mut tn) = (0u64, 0u64, 0u64, 0u64);
    for (&p, &t) in pred.iter().zip(truth) {
        match (p, t) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let (tp, fp, fn_, tn) = (tp as f64, fp as f64, fn_ as f64, tn as f64);
    let pred_empty = tp + fp == 0.0;
    let truth_empty = tp + fn_ == 0.0;
    let both_empty = pred_empty && truth_empty;
    let if_empty = if both_empty { 1.0 } else { 0.0 };
    let mut class_recalls = Vec::with_capacity(2);
    if tp + fn_ > 0.0 {
        class_recalls.push(tp / (tp + fn_));
    }
    if tn + fp > 0.0 {
        class_recalls.push(tn / (tn + fp));
    }
    let (hausdorff, hd95, assd) = if both_empty {
        (0.0, 0.0, 0.0)
    } else if pred_empty || truth_empty {
        (f64::INFINITY, f64::INFINITY, f64::INFINITY)
    } else {
        let pred_surface = mask_surface(pred, shape);
        let truth_surface = mask_surface(truth, shape);
        let mut forward =
            directed_surface_distances(&pred_surface, &truth_surface, shape, spacing)?;
        let mut backward =
            directed_surface_distances(&truth_surface, &pred_surface, shape, spacing)?;
        let total: f64 = forward.iter().sum::<f64>() + backward.iter().sum::<f64>();
        let assd = total / (forward.len() + backward.len()) as f64;
        let hausdorff = percentile(&mut forward, 100.0).max(percentile(&mut backward, 100.0));
        let hd95 = percentile(&mut forward, 95.0).max(percentile(&mut backward, 95.0));
        (hausdorff, hd95, assd)
    };
    Ok(SegmentationMetrics {
        dice: ratio_or(2.0 * tp, 2.0 * tp + fp + fn_, if_empty),
        iou: ratio_or(tp, tp + fp + fn_, if_empty),
        pixel_accuracy: (tp + tn) / (tp + fp + fn_ + tn),
        balanced_pixel_accuracy: class_recalls.iter().sum::<f64>() / class_recalls.len() as f64,
        precision: ratio_or(tp, tp + fp, if_empty),
        recall: ratio_or(tp, tp + fn_, if_empty),
        hausdorff,
        hd95,
        assd,
    })
}

/// Mean of each metric over images. Distances average the finite values only; how many
/// images had an infinite distance (exactly one mask empty) is counted separately.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationSummary {
    pub n_images: usize,
    pub n_infinite_distance: usize,
    pub mean: SegmentationMetrics,
}

pub fn summarize(per_image: &[SegmentationMetrics]) -> Result<SegmentationSummary, EvalError> {
    if per_image.is_empty() {
        return Err(EvalError::Empty("segmentation summary"));
    }
    let mean_of = |get: fn(&SegmentationMetrics) -> f64| {
        let finite: Vec<f64> = per_image
            .iter()
            .map(get)
            .filter(|v| v.is_finite())
            .collect();
        if finite.is_empty() {
            f64::INFINITY
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        }
    };
    Ok(SegmentationSummary {
        n_images: per_image.len(),
        n_infinite_distance: per_image
            .iter()
            .filter(|m| !m.hausdorff.is_finite())
            .count(),
        mean: SegmentationMetrics {
            dice: mean_of(|m| m.dice),
            iou: mean_of(|m| m.iou),
            pixel_accuracy: mean_of(|m| m.pixel_accuracy),
            balanced_pixel_accuracy: mean_of(|m| m.balanced_pixel_accuracy),
            precision: mean_of(|m| m.precision),
            recall: mean_of(|m| m.recall),
            hausdorff: mean_of(|m| m.hausdorff),
            hd95: mean_of(|m| m.hd95),
            assd: mean_of(|m| m.assd),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(shape: [usize; 2], top: usize, left: usize, size: usize) -> Vec<bool> {
        (0..shape[0] * shape[1])
            .map(|i| {
                let (r, c) = (i / shape[1], i % shape[1]);
                (top..top + size).contains(&r) && (left..left + size).contains(&c)
            })
            .collect()
    }

    #[test]
    fn shifted_square() {
        let shape = [10, 10];
        let truth = square(shape, 2, 2, 4);
        let pred = square(shape, 2, 3, 4);
        let m = segmentation_metrics(&pred, &truth, &shape, &[1.0, 1.0]).unwrap();
        // Overlap 12 of 16 + 16: Dice 24/32, IoU 12/20.
        assert!((m.dice - 0.75).abs() < 1e-15 && (m.iou - 0.6).abs() < 1e-15);
        assert_eq!(m.hausdorff, 1.0);
        // With a column spacing of 2 the shift is 2 units long.
        let m = segmentation_metrics(&pred, &truth, &shape, &[1.0, 2.0]).unwrap();
        assert_eq!(m.hausdorff, 2.0);
    }

    #[test]
    fn empty_mask_conventions() {
        let shape = [4, 4];
        let empty = vec![false; 16];
        let some = square(shape, 1, 1, 2);
        let both = segmentation_metrics(&empty, &empty, &shape, &[1.0, 1.0]).unwrap();
        assert_eq!(
            (both.dice, both.iou, both.hausdorff, both.hd95, both.assd),
            (1.0, 1.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(
            (both.pixel_accuracy, both.balanced_pixel_accuracy),
            (1.0, 1.0)
        );
        let missed = segmentation_metrics(&empty, &some, &shape, &[1.0, 1.0]).unwrap();
        assert_eq!(
            (missed.dice, missed.recall, missed.precision),
            (0.0, 0.0, 0.0)
        );
        assert!(missed.hausdorff.is_infinite() && missed.assd.is_infinite());
        assert_eq!(missed.balanced_pixel_accuracy, 0.5);
        let spurious = segmentation_metrics(&some, &empty, &shape, &[1.0, 1.0]).unwrap();
        assert_eq!(spurious.dice, 0.0);
        assert!(spurious.hd95.is_infinite());
        let summary = summarize(&[both, missed]).unwrap();
        assert_eq!(
            (
                summary.n_infinite_distance,
                summary.mean.hausdorff,
                summary.mean.dice
            ),
            (1, 0.0, 0.5)
        );
    }

    #[test]
    fn surface_of_a_block_touching_the_border() {
        let shape = [3, 4];
        let mask = vec![true; 12];
        let surface = mask_surface(&mask, &shape);
        // Only the two interior pixels (1,1), (1,2) are not on the surface.
        assert_eq!(surface.iter().filter(|&&s| !s).count(), 2);
        assert!(!surface[5] && !surface[6]);
    }
}
