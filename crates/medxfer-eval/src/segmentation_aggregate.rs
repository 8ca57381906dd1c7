//! Aggregation of a segmentation run's per-image metrics: per fold, mean ± sd across folds
//! (of the per-fold means), pooled over test images with a percentile bootstrap 95% CI of each
//! mean (2,000 resamples, seed 0; images resampled with all their rows), and per class.

use std::collections::BTreeMap;

use crate::EvalError;
use crate::bootstrap::{BootstrapConfig, CiMethod, stratified_bootstrap_ci};
use crate::predictions::TaskKind;
use crate::report::{Interval, MeanSd};
use crate::segmentation_run::{
    ClassSegmentation, DistanceUnit, EMPTY_MASK_RULE, ImageSegmentation, PerMetric,
    PooledSegmentation, SegMetric, SegmentationFoldMetrics, SegmentationMeans,
    SegmentationRunMetrics,
};

const CI_LEVEL: f64 = 0.95;
const BOOTSTRAP: BootstrapConfig = BootstrapConfig {
    n_resamples: 2000,
    level: CI_LEVEL,
    seed: 0,
    method: CiMethod::Percentile,
};

fn defined(images: &[&ImageSegmentation], metric: SegMetric) -> Vec<f64> {
    images
        .iter()
        .filter_map(|i| *i.metrics.get(metric))
        .collect()
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Means of each metric over `images` (distances over the images that have them).
pub fn segmentation_means(images: &[&ImageSegmentation]) -> SegmentationMeans {
    SegmentationMeans {
        n_images: images.len(),
        n_undefined_distance: images.iter().filter(|i| i.metrics.hd95.is_none()).count(),
        mean: PerMetric::from_fn(|metric| mean(&defined(images, metric))),
    }
}

/// The defined values of `metric`, grouped by image (first-appearance order): one value per
/// image in a cross-validated run, one per fold model in an external validation.
fn defined_by_image(images: &[&ImageSegmentation], metric: SegMetric) -> Vec<Vec<f64>> {
    let mut position: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut clusters: Vec<Vec<f64>> = Vec::new();
    for image in images {
        let Some(value) = *image.metrics.get(metric) else {
            continue;
        };
        let k = *position.entry(&image.image_id).or_insert_with(|| {
            clusters.push(Vec::new());
            clusters.len() - 1
        });
        clusters[k].push(value);
    }
    clusters
}

/// Percentile bootstrap CI of the mean of the values (None when there are none), resampling
/// images with all their values together: when every fold model scored every image (an
/// external validation) the rows of one image are not independent, and resampling rows would
/// make the interval too narrow.
fn ci_of_mean(clusters: &[Vec<f64>]) -> Result<Option<Interval>, EvalError> {
    if clusters.is_empty() {
        return Ok(None);
    }
    let sums: Vec<f64> = clusters.iter().map(|c| c.iter().sum()).collect();
    let one_stratum = vec![0; clusters.len()];
    let boot = stratified_bootstrap_ci(&one_stratum, &BOOTSTRAP, |idx| {
        let total: f64 = idx.iter().map(|&i| sums[i]).sum();
        let count: usize = idx.iter().map(|&i| clusters[i].len()).sum();
        Ok(total / count as f64)
    })?;
    Ok(Some(Interval {
        low: boot.ci_low,
        high: boot.ci_high,
        level: CI_LEVEL,
        method: "bootstrap percentile".to_string(),
    }))
}

/// Means with a percentile bootstrap CI of each (images resampled with replacement).
pub fn pooled_segmentation(images: &[&ImageSegmentation]) -> Result<PooledSegmentation, EvalError> {
    let cis = SegMetric::ALL
        .iter()
        .map(|&metric| ci_of_mean(&defined_by_image(images, metric)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PooledSegmentation {
        means: segmentation_means(images),
        // SegMetric::ALL lists the variants in declaration order.
        ci: PerMetric::from_fn(|metric| cis[metric as usize].clone()),
    })
}

/// Per fold, across folds, pooled and per class, from per-image metrics (test rows).
pub fn aggregate(
    per_image: Vec<ImageSegmentation>,
    class_names: &[String],
    distance_unit: DistanceUnit,
) -> Result<SegmentationRunMetrics, EvalError> {
    if per_image.is_empty() {
        return Err(EvalError::Empty("segmentation run (no test images)"));
    }
    let mut by_fold: BTreeMap<usize, Vec<&ImageSegmentation>> = BTreeMap::new();
    for image in &per_image {
        by_fold.entry(image.fold).or_default().push(image);
    }
    let folds: Vec<SegmentationFoldMetrics> = by_fold
        .iter()
        .map(|(&fold, images)| SegmentationFoldMetrics {
            fold,
            means: segmentation_means(images),
        })
        .collect();
    let across_folds = PerMetric::from_fn(|metric| {
        let fold_means: Vec<f64> = folds
            .iter()
            .filter_map(|f| *f.means.mean.get(metric))
            .collect();
        MeanSd::of(&fold_means)
    });
    let all: Vec<&ImageSegmentation> = per_image.iter().collect();
    let pooled = pooled_segmentation(&all)?;
    let mut per_class = Vec::new();
    for class in class_names {
        let images: Vec<&ImageSegmentation> =
            per_image.iter().filter(|i| &i.label == class).collect();
        if !images.is_empty() {
            per_class.push(ClassSegmentation {
                class: class.clone(),
                pooled: pooled_segmentation(&images)?,
            });
        }
    }
    Ok(SegmentationRunMetrics {
        task: TaskKind::Segmentation,
        class_names: class_names.to_vec(),
        distance_unit,
        empty_mask_rule: EMPTY_MASK_RULE.to_string(),
        n_test_images: per_image.len(),
        folds,
        across_folds,
        pooled,
        per_class,
        per_image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segmentation_run::EmptyMasks;

    fn image(fold: usize, label: &str, dice: f64, hd95: Option<f64>) -> ImageSegmentation {
        let empty_masks = match (hd95, dice) {
            (Some(_), _) => EmptyMasks::Neither,
            (None, 1.0) => EmptyMasks::Both,
            (None, _) => EmptyMasks::PredictionOnly,
        };
        ImageSegmentation {
            image_id: format!("{label}-{dice}"),
            fold,
            label: label.into(),
            image: "i.png".into(),
            truth: "t.png".into(),
            prediction: "p.png".into(),
            shape: [4, 4],
            empty_masks,
            metrics: PerMetric::from_fn(|m| match m {
                SegMetric::Dice => Some(dice),
                m if m.is_distance() => hd95.map(|h| if m == SegMetric::Hd95 { h } else { 1.0 }),
                _ => Some(0.5),
            }),
        }
    }

    #[test]
    fn images_scored_by_every_fold_model_are_resampled_as_one_unit() {
        let one_model = |fold: usize| -> Vec<ImageSegmentation> {
            (0..20)
                .map(|i| ImageSegmentation {
                    image_id: format!("img{i}"),
                    ..image(fold, "benign", (i % 7) as f64 / 7.0, Some(i as f64))
                })
                .collect()
        };
        let classes = vec!["benign".to_string()];
        let single = aggregate(one_model(0), &classes, DistanceUnit::Pixel).unwrap();
        let external: Vec<ImageSegmentation> = (0..3).flat_map(one_model).collect();
        let three = aggregate(external, &classes, DistanceUnit::Pixel).unwrap();
        // Three identical models add no information: the interval must not shrink.
        let (a, b) = (
            single.pooled.ci.dice.unwrap(),
            three.pooled.ci.dice.unwrap(),
        );
        assert!((a.low - b.low).abs() < 1e-12 && (a.high - b.high).abs() < 1e-12);
        assert!(a.high - a.low > 0.1, "{a:?}");
    }

    #[test]
    fn aggregation_matches_a_hand_computation() {
        let images = vec![
            image(0, "benign", 0.5, Some(3.0)),
            image(0, "benign", 1.0, None),
            image(0, "malignant", 0.6, Some(5.0)),
            image(1, "benign", 0.8, Some(2.0)),
            image(1, "malignant", 0.0, None),
        ];
        let classes = vec!["benign".to_string(), "malignant".into(), "normal".into()];
        let m = aggregate(images, &classes, DistanceUnit::Pixel).unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        // Fold means: Dice 0.7 and 0.4; HD95 over the images that have one: 4 and 2.
        close(m.folds[0].means.mean.dice.unwrap(), 0.7);
        close(m.folds[1].means.mean.dice.unwrap(), 0.4);
        close(m.folds[0].means.mean.hd95.unwrap(), 4.0);
        assert_eq!(m.folds[0].means.n_undefined_distance, 1);
        let dice = m.across_folds.dice.as_ref().unwrap();
        close(dice.mean, 0.55);
        close(dice.sd.unwrap(), 0.3 / 2f64.sqrt());
        let hd95 = m.across_folds.hd95.as_ref().unwrap();
        close(hd95.mean, 3.0);
        close(hd95.sd.unwrap(), 2f64.sqrt());
        // Pooled: all five images for Dice, the three with distances for HD95.
        close(m.pooled.means.mean.dice.unwrap(), 2.9 / 5.0);
        close(m.pooled.means.mean.hd95.unwrap(), 10.0 / 3.0);
        assert_eq!(
            (m.pooled.means.n_images, m.pooled.means.n_undefined_distance),
            (5, 2)
        );
        let ci = m.pooled.ci.dice.as_ref().unwrap();
        assert!(ci.low < 0.58 && 0.58 < ci.high && ci.low >= 0.0 && ci.high <= 1.0);
        let ci = m.pooled.ci.hd95.as_ref().unwrap();
        assert!(ci.low >= 2.0 && ci.high <= 5.0 && ci.low < ci.high);
        // Per class, in class order, without the class that has no test image.
        assert_eq!(m.per_class.len(), 2);
        close(m.per_class[0].pooled.means.mean.dice.unwrap(), 2.3 / 3.0);
        close(m.per_class[1].pooled.means.mean.dice.unwrap(), 0.3);
        close(m.per_class[1].pooled.means.mean.hd95.unwrap(), 5.0);
        assert_eq!(m.n_test_images, 5);
        // Seeded: the same input gives the same intervals.
        let again = aggregate(m.per_image.clone(), &classes, DistanceUnit::Pixel).unwrap();
        assert_eq!(again, m);
        let text = m.to_string();
        assert!(
            text.contains("0.550 +- 0.212") && text.contains("both empty"),
            "{text}"
        );
    }
}
