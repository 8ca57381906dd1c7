//! What a segmentation run's evaluation outputs besides `metrics.json`: the per-image CSV, and
//! the text report `medxfer evaluate` prints (per-fold table, mean ± sd across folds, pooled
//! means with bootstrap CIs, per class, and the empty-mask rule).

use std::fmt;
use std::path::Path;

use crate::EvalError;
use crate::atomic_write::write_atomic;

use crate::report::{Interval, MeanSd};
use crate::segmentation_run::{
    DistanceUnit, ImageSegmentation, SegMetric, SegmentationMeans, SegmentationRunMetrics,
};

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn mean_sd(value: &Option<MeanSd>) -> String {
    match value {
        Some(MeanSd {
            mean, sd: Some(sd), ..
        }) => format!("{mean:.3} +- {sd:.3}"),
        Some(MeanSd { mean, .. }) => format!("{mean:.3}"),
        None => "-".to_string(),
    }
}

fn with_ci(value: Option<f64>, ci: &Option<Interval>) -> String {
    match ci {
        Some(i) => format!("{} [{:.3}, {:.3}]", cell(value), i.low, i.high),
        None => cell(value),
    }
}

/// The metrics a report line shows, in order (balanced pixel accuracy is in the files only).
const SHOWN: [SegMetric; 8] = [
    SegMetric::Dice,
    SegMetric::Iou,
    SegMetric::PixelAccuracy,
    SegMetric::Precision,
    SegMetric::Recall,
    SegMetric::Hd95,
    SegMetric::Assd,
    SegMetric::Hausdorff,
];

fn table_row(f: &mut fmt::Formatter<'_>, name: &str, means: &SegmentationMeans) -> fmt::Result {
    write!(f, "{name:<14} {:>5}", means.n_images)?;
    for metric in SHOWN {
        write!(f, " {:>9}", cell(*means.mean.get(metric)))?;
    }
    writeln!(f, " {:>7}", means.n_undefined_distance)
}

fn table_header(f: &mut fmt::Formatter<'_>, first: &str) -> fmt::Result {
    write!(f, "{first:<14} {:>5}", "n")?;
    for metric in SHOWN {
        write!(f, " {:>9}", metric.label())?;
    }
    writeln!(f, " {:>7}", "no dist")
}

impl fmt::Display for SegmentationRunMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.distance_unit {
            DistanceUnit::Mm => "mm",
            DistanceUnit::Pixel => "pixels of the model's input grid",
        };
        writeln!(
            f,
            "segmentation: {} test images in {} fold(s); classes: {}; HD, HD95, ASSD in {unit}",
            self.n_test_images,
            self.folds.len(),
            self.class_names.join(", ")
        )?;
        table_header(f, "fold")?;
        for fold in &self.folds {
            table_row(f, &fold.fold.to_string(), &fold.means)?;
        }
        writeln!(
            f,
            "mean +- sd across {} fold(s) (of the per-fold means):",
            self.folds.len()
        )?;
        for metric in SHOWN {
            writeln!(
                f,
                "  {:<10} {}",
                metric.label(),
                mean_sd(self.across_folds.get(metric))
            )?;
        }
        let p = &self.pooled;
        let images: std::collections::HashSet<&str> =
            self.per_image.iter().map(|i| i.image_id.as_str()).collect();
        if images.is_empty() || images.len() == p.means.n_images {
            writeln!(
                f,
                "pooled over {} test images (mean [95% bootstrap percentile CI, 2000 resamples]):",
                p.means.n_images
            )?;
        } else {
            // An external validation: every fold model scored every image.
            writeln!(
                f,
                "pooled over {} rows of {} images, each scored by every fold model (mean [95% bootstrap percentile CI over images, 2000 resamples]):",
                p.means.n_images,
                images.len()
            )?;
        }
        for metric in SHOWN {
            writeln!(
                f,
                "  {:<10} {}",
                metric.label(),
                with_ci(*p.means.mean.get(metric), p.ci.get(metric))
            )?;
        }
        writeln!(f, "per class (pooled means):")?;
        table_header(f, "class")?;
        for class in &self.per_class {
            table_row(f, &class.class, &class.pooled.means)?;
        }
        writeln!(f, "empty masks: {}", self.empty_mask_rule)?;
        writeln!(
            f,
            "(\"no dist\" = images without surface distances because a mask is empty)"
        )
    }
}

/// `segmentation_per_image.csv`: one line per test image, every metric at full precision, an
/// empty cell for an undefined distance.
pub fn write_per_image_csv(path: &Path, images: &[ImageSegmentation]) -> Result<(), EvalError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let to_err = |e: csv::Error| EvalError::bad_file(path, e.to_string());
    let mut header = vec![
        "image_id",
        "fold",
        "label",
        "image",
        "truth",
        "prediction",
        "empty_masks",
    ];
    header.extend(SegMetric::ALL.map(SegMetric::key));
    writer.write_record(&header).map_err(to_err)?;
    for i in images {
        let mut record = vec![
            i.image_id.clone(),
            i.fold.to_string(),
            i.label.clone(),
            i.image.to_string_lossy().into_owned(),
            i.truth.to_string_lossy().into_owned(),
            i.prediction.to_string_lossy().into_owned(),
            i.empty_masks.key().to_string(),
        ];
        record.extend(
            SegMetric::ALL.map(|m| i.metrics.get(m).map_or_else(String::new, |v| v.to_string())),
        );
        writer.write_record(&record).map_err(to_err)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| EvalError::bad_file(path, e.to_string()))?;
    write_atomic(path, &bytes)
}
