//! Metrics of a segmentation run folder: every test image of `segmentations.csv` scored with
//! [`segmentation_metrics`], then per fold, mean ± sd across folds (the mean of the per-fold
//! means, as for classification runs), pooled over all test images with a percentile bootstrap
//! 95% CI of the mean (2,000 resamples, seed 0), and pooled per class. `medxfer evaluate` calls
//! [`evaluate_segmentation_run`], which writes `metrics.json` and `segmentation_per_image.csv`.
//!
//! Empty-mask rule (see [`EMPTY_MASK_RULE`]): when truth and prediction are both empty the
//! image is a perfect negative, Dice = IoU = precision = recall = 1; when exactly one is empty,
//! Dice = IoU = precision = recall = 0. Surface distances (HD, HD95, ASSD) are undefined
//! whenever either mask is empty: such images are left out of the distance means and counted
//! (`n_undefined_distance`), so a missed lesion lowers Dice but cannot hide as a small or an
//! infinite HD95.

use std::path::{Path, PathBuf};

use medxfer_atomic::run_files::{METRICS, SEGMENTATION_PER_IMAGE, SEGMENTATIONS, TASK};
use rayon::prelude::*;

use crate::EvalError;
use crate::atomic_write::write_json_atomic;
use crate::mask_io::read_mask_png;
use crate::predictions::{Split, TaskInfo, TaskKind};
use crate::report::{Interval, MeanSd};
use crate::segmentation::segmentation_metrics;
pub use crate::segmentation_aggregate::{aggregate, pooled_segmentation, segmentation_means};
pub use crate::segmentation_display::write_per_image_csv;
use crate::segmentations::{SegmentationRow, Segmentations};

pub const EMPTY_MASK_RULE: &str = "truth and prediction both empty: Dice = IoU = precision = recall = 1; exactly one empty: Dice = IoU = precision = recall = 0; HD, HD95 and ASSD are undefined when either mask is empty and such images are left out of the distance means (counted as n_undefined_distance)";

/// The metrics of one image, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegMetric {
    Dice,
    Iou,
    PixelAccuracy,
    BalancedPixelAccuracy,
    Precision,
    Recall,
    Hausdorff,
    Hd95,
    Assd,
}

impl SegMetric {
    pub const ALL: [SegMetric; 9] = [
        SegMetric::Dice,
        SegMetric::Iou,
        SegMetric::PixelAccuracy,
        SegMetric::BalancedPixelAccuracy,
        SegMetric::Precision,
        SegMetric::Recall,
        SegMetric::Hausdorff,
        SegMetric::Hd95,
        SegMetric::Assd,
    ];

    /// The field name in `metrics.json` and the column in `segmentation_per_image.csv`.
    pub fn key(self) -> &'static str {
        match self {
            SegMetric::Dice => "dice",
            SegMetric::Iou => "iou",
            SegMetric::PixelAccuracy => "pixel_accuracy",
            SegMetric::BalancedPixelAccuracy => "balanced_pixel_accuracy",
            SegMetric::Precision => "precision",
            SegMetric::Recall => "recall",
            SegMetric::Hausdorff => "hausdorff",
            SegMetric::Hd95 => "hd95",
            SegMetric::Assd => "assd",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SegMetric::Dice => "Dice",
            SegMetric::Iou => "IoU",
            SegMetric::PixelAccuracy => "pix.acc",
            SegMetric::BalancedPixelAccuracy => "bal.pix.acc",
            SegMetric::Precision => "precision",
            SegMetric::Recall => "recall",
            SegMetric::Hausdorff => "HD",
            SegMetric::Hd95 => "HD95",
            SegMetric::Assd => "ASSD",
        }
    }

    /// A surface distance: undefined when a mask is empty, lower is better.
    pub fn is_distance(self) -> bool {
        matches!(
            self,
            SegMetric::Hausdorff | SegMetric::Hd95 | SegMetric::Assd
        )
    }
}

/// One value per metric, serialised with the metric keys as field names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerMetric<T> {
    pub dice: T,
    pub iou: T,
    pub pixel_accuracy: T,
    pub balanced_pixel_accuracy: T,
    pub precision: T,
    pub recall: T,
    pub hausdorff: T,
    pub hd95: T,
    pub assd: T,
}

impl<T> PerMetric<T> {
    pub fn from_fn(mut f: impl FnMut(SegMetric) -> T) -> Self {
        PerMetric {
            dice: f(SegMetric::Dice),
            iou: f(SegMetric::Iou),
            pixel_accuracy: f(SegMetric::PixelAccuracy),
            balanced_pixel_accuracy: f(SegMetric::BalancedPixelAccuracy),
            precision: f(SegMetric::Precision),
            recall: f(SegMetric::Recall),
            hausdorff: f(SegMetric::Hausdorff),
            hd95: f(SegMetric::Hd95),
            assd: f(SegMetric::Assd),
        }
    }

    pub fn get(&self, metric: SegMetric) -> &T {
        match metric {
            SegMetric::Dice => &self.dice,
            SegMetric::Iou => &self.iou,
            SegMetric::PixelAccuracy => &self.pixel_accuracy,
            SegMetric::BalancedPixelAccuracy => &self.balanced_pixel_accuracy,
            SegMetric::Precision => &self.precision,
            SegMetric::Recall => &self.recall,
            SegMetric::Hausdorff => &self.hausdorff,
            SegMetric::Hd95 => &self.hd95,
            SegMetric::Assd => &self.assd,
        }
    }
}

/// Which of an image's two masks are empty (decides the empty-mask rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyMasks {
    Neither,
    Both,
    /// No lesion in the truth, some predicted.
    TruthOnly,
    /// A lesion in the truth, nothing predicted.
    PredictionOnly,
}

impl EmptyMasks {
    fn of(truth_empty: bool, prediction_empty: bool) -> Self {
        match (truth_empty, prediction_empty) {
            (false, false) => EmptyMasks::Neither,
            (true, true) => EmptyMasks::Both,
            (true, false) => EmptyMasks::TruthOnly,
            (false, true) => EmptyMasks::PredictionOnly,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            EmptyMasks::Neither => "neither",
            EmptyMasks::Both => "both",
            EmptyMasks::TruthOnly => "truth_only",
            EmptyMasks::PredictionOnly => "prediction_only",
        }
    }
}

/// Unit of HD, HD95 and ASSD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistanceUnit {
    /// `pixel_spacing_mm` was given.
    Mm,
    /// Pixels of the model's input grid.
    Pixel,
}

/// One test image's metrics; distances are None when a mask is empty.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageSegmentation {
    pub image_id: String,
    pub fold: usize,
    pub label: String,
    /// Relative to the run folder, as in `segmentations.csv`.
    pub image: PathBuf,
    pub truth: PathBuf,
    pub prediction: PathBuf,
    /// Rows × columns.
    pub shape: [usize; 2],
    pub empty_masks: EmptyMasks,
    pub metrics: PerMetric<Option<f64>>,
}

impl ImageSegmentation {
    pub fn dice(&self) -> f64 {
        self.metrics.dice.unwrap_or(0.0)
    }
}

/// Means over a set of test images; a distance mean is None when no image had one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationMeans {
    pub n_images: usize,
    pub n_undefined_distance: usize,
    pub mean: PerMetric<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationFoldMetrics {
    pub fold: usize,
    #[serde(flatten)]
    pub means: SegmentationMeans,
}

/// Pooled over test images, with a percentile bootstrap CI of each mean.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PooledSegmentation {
    #[serde(flatten)]
    pub means: SegmentationMeans,
    pub ci: PerMetric<Option<Interval>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassSegmentation {
    pub class: String,
    #[serde(flatten)]
    pub pooled: PooledSegmentation,
}

/// `metrics.json` of a segmentation run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationRunMetrics {
    /// Always `segmentation`: tells readers of `metrics.json` which kind of run this is.
    pub task: TaskKind,
    pub class_names: Vec<String>,
    pub distance_unit: DistanceUnit,
    pub empty_mask_rule: String,
    pub n_test_images: usize,
    pub folds: Vec<SegmentationFoldMetrics>,
    /// Mean ± sample sd of the per-fold means.
    pub across_folds: PerMetric<Option<MeanSd>>,
    pub pooled: PooledSegmentation,
    /// Classes with at least one test image, in `class_names` order.
    pub per_class: Vec<ClassSegmentation>,
    /// In `segmentation_per_image.csv`, not in `metrics.json`.
    #[serde(skip)]
    pub per_image: Vec<ImageSegmentation>,
}

impl SegmentationRunMetrics {
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        write_json_atomic(path, self)
    }
}

/// Reads `task.json` (which must say `"task": "segmentation"`) and `segmentations.csv` in
/// `run_dir`, scores the test rows' masks, and writes `metrics.json` and
/// `segmentation_per_image.csv` there atomically.
pub fn evaluate_segmentation_run(run_dir: &Path) -> Result<SegmentationRunMetrics, EvalError> {
    let task_path = run_dir.join(TASK);
    let task = TaskInfo::read_json(&task_path)?;
    if task.task != TaskKind::Segmentation {
        return Err(EvalError::bad_file(
            &task_path,
            format!(
                "this is a {} run, not a segmentation run (\"task\": \"segmentation\")",
                task.task
            ),
        ));
    }
    let csv_path = run_dir.join(SEGMENTATIONS);
    let segmentations = Segmentations::read_csv(&csv_path)?;
    let test: Vec<&SegmentationRow> = segmentations.split(Split::Test).collect();
    if test.is_empty() {
        return Err(EvalError::bad_file(&csv_path, "no rows with split = test"));
    }
    for row in &test {
        if !task.class_names.contains(&row.label) {
            return Err(EvalError::bad_file(
                &csv_path,
                format!(
                    "image {:?} (fold {}): label {:?} is not one of task.json's class_names {:?}",
                    row.image_id, row.fold, row.label, task.class_names
                ),
            ));
        }
    }
    let per_image = test
        .par_iter()
        .map(|row| score_image(run_dir, row))
        .collect::<Result<Vec<_>, _>>()?;
    let unit = if segmentations.has_spacing() {
        DistanceUnit::Mm
    } else {
        DistanceUnit::Pixel
    };
    let metrics = aggregate(per_image, &task.class_names, unit)?;
    write_per_image_csv(&run_dir.join(SEGMENTATION_PER_IMAGE), &metrics.per_image)?;
    metrics.write_json(&run_dir.join(METRICS))?;
    Ok(metrics)
}

/// Reads a row's masks (and the input image's size) and applies the empty-mask rule.
pub fn score_image(run_dir: &Path, row: &SegmentationRow) -> Result<ImageSegmentation, EvalError> {
    let truth_path = run_dir.join(&row.truth);
    let pred_path = run_dir.join(&row.prediction);
    let image_path = run_dir.join(&row.image);
    let truth = read_mask_png(&truth_path)?;
    let pred = read_mask_png(&pred_path)?;
    let (width, height) = image::image_dimensions(&image_path)
        .map_err(|e| EvalError::bad_file(&image_path, format!("cannot read the image: {e}")))?;
    let image_shape = [height as usize, width as usize];
    for (path, shape) in [(&pred_path, pred.shape), (&image_path, image_shape)] {
        if shape != truth.shape {
            return Err(EvalError::bad_file(
                path,
                format!(
                    "is {}x{} (rows x columns) but the truth mask {} is {}x{}",
                    shape[0],
                    shape[1],
                    truth_path.display(),
                    truth.shape[0],
                    truth.shape[1]
                ),
            ));
        }
    }
    let spacing = row.pixel_spacing_mm.unwrap_or(1.0);
    let m = segmentation_metrics(&pred.data, &truth.data, &truth.shape, &[spacing, spacing])
        .map_err(|e| EvalError::bad_file(&pred_path, e.to_string()))?;
    let empty_masks = EmptyMasks::of(
        !truth.data.iter().any(|&t| t),
        !pred.data.iter().any(|&p| p),
    );
    // segmentation_metrics already gives the rule's overlap values for empty masks (1 when both
    // are empty, 0 when one is); only the distances differ: undefined instead of 0 or +inf.
    let distances_defined = empty_masks == EmptyMasks::Neither;
    let metrics = PerMetric::from_fn(|metric| {
        let value = match metric {
            SegMetric::Dice => m.dice,
            SegMetric::Iou => m.iou,
            SegMetric::PixelAccuracy => m.pixel_accuracy,
            SegMetric::BalancedPixelAccuracy => m.balanced_pixel_accuracy,
            SegMetric::Precision => m.precision,
            SegMetric::Recall => m.recall,
            SegMetric::Hausdorff => m.hausdorff,
            SegMetric::Hd95 => m.hd95,
            SegMetric::Assd => m.assd,
        };
        (distances_defined || !metric.is_distance()).then_some(value)
    });
    Ok(ImageSegmentation {
        image_id: row.image_id.clone(),
        fold: row.fold,
        label: row.label.clone(),
        image: row.image.clone(),
        truth: row.truth.clone(),
        prediction: row.prediction.clone(),
        shape: truth.shape,
        empty_masks,
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(path: &Path, on: impl Fn(u32, u32) -> bool) {
        let img =
            image::GrayImage::from_fn(8, 6, |x, y| image::Luma([if on(x, y) { 255 } else { 0 }]));
        img.save(path).unwrap();
    }

    fn row(id: &str, truth: &str, prediction: &str) -> SegmentationRow {
        SegmentationRow {
            image_id: id.into(),
            fold: 0,
            split: Split::Test,
            label: "benign".into(),
            image: "img.png".into(),
            truth: truth.into(),
            prediction: prediction.into(),
            pixel_spacing_mm: None,
        }
    }

    #[test]
    fn empty_mask_rule() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        save(&d.join("img.png"), |x, _| x > 3);
        save(&d.join("empty.png"), |_, _| false);
        save(&d.join("blob.png"), |x, y| {
            (2..5).contains(&x) && (1..4).contains(&y)
        });
        let both = score_image(d, &row("both", "empty.png", "empty.png")).unwrap();
        assert_eq!(both.empty_masks, EmptyMasks::Both);
        let m = &both.metrics;
        assert_eq!(
            (m.dice, m.iou, m.precision, m.recall, m.pixel_accuracy),
            (Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0))
        );
        assert_eq!((m.hausdorff, m.hd95, m.assd), (None, None, None));
        for (truth, pred, kind) in [
            ("empty.png", "blob.png", EmptyMasks::TruthOnly),
            ("blob.png", "empty.png", EmptyMasks::PredictionOnly),
        ] {
            let one = score_image(d, &row("one", truth, pred)).unwrap();
            assert_eq!(one.empty_masks, kind);
            let m = &one.metrics;
            assert_eq!(
                (m.dice, m.iou, m.precision, m.recall),
                (Some(0.0), Some(0.0), Some(0.0), Some(0.0))
            );
            assert_eq!((m.hausdorff, m.hd95, m.assd), (None, None, None));
            // 9 of 48 pixels wrong.
            assert_eq!(m.pixel_accuracy, Some(39.0 / 48.0));
        }
        let same = score_image(d, &row("same", "blob.png", "blob.png")).unwrap();
        assert_eq!(same.empty_masks, EmptyMasks::Neither);
        assert_eq!(
            (same.metrics.dice, same.metrics.hd95),
            (Some(1.0), Some(0.0))
        );
        // Images without distances are left out of the distance means, and counted.
        let means = segmentation_means(&[&both, &same]);
        assert_eq!(
            (means.mean.hd95, means.n_undefined_distance),
            (Some(0.0), 1)
        );
        assert_eq!(segmentation_means(&[&both]).mean.assd, None);
    }

    fn write_task(dir: &Path, kind: TaskKind) {
        TaskInfo {
            class_names: vec!["benign".into(), "malignant".into()],
            positive_class: None,
            task: kind,
        }
        .write_json(&dir.join(TASK))
        .unwrap();
    }

    #[test]
    fn run_folder_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_task(d, TaskKind::Classification);
        let msg = evaluate_segmentation_run(d).unwrap_err().to_string();
        assert!(
            msg.contains("task.json") && msg.contains("classification run"),
            "{msg}"
        );
        write_task(d, TaskKind::Segmentation);
        let msg = evaluate_segmentation_run(d).unwrap_err().to_string();
        assert!(msg.contains("segmentations.csv"), "{msg}");
        save(&d.join("img.png"), |_, _| false);
        save(&d.join("blob.png"), |x, y| x < 3 && y < 3);
        let mut rows = Segmentations {
            rows: vec![row("a", "blob.png", "missing.png")],
        };
        rows.write_csv(&d.join(SEGMENTATIONS)).unwrap();
        let msg = evaluate_segmentation_run(d).unwrap_err().to_string();
        assert!(msg.contains("missing.png"), "{msg}");
        image::GrayImage::new(5, 6)
            .save(d.join("small.png"))
            .unwrap();
        rows.rows[0].prediction = "small.png".into();
        rows.write_csv(&d.join(SEGMENTATIONS)).unwrap();
        let msg = evaluate_segmentation_run(d).unwrap_err().to_string();
        assert!(
            msg.contains("small.png") && msg.contains("6x5") && msg.contains("6x8"),
            "{msg}"
        );
        rows.rows[0].prediction = "blob.png".into();
        rows.rows[0].label = "cyst".into();
        rows.write_csv(&d.join(SEGMENTATIONS)).unwrap();
        let msg = evaluate_segmentation_run(d).unwrap_err().to_string();
        assert!(
            msg.contains("segmentations.csv") && msg.contains("\"cyst\""),
            "{msg}"
        );
        rows.rows[0].label = "benign".into();
        rows.rows[0].split = Split::Val;
        rows.write_csv(&d.join(SEGMENTATIONS)).unwrap();
        let msg = evaluate_segmentation_run(d).unwrap_err().to_string();
        assert!(msg.contains("no rows with split = test"), "{msg}");
        rows.rows[0].split = Split::Test;
        rows.rows[0].pixel_spacing_mm = Some(0.5);
        rows.write_csv(&d.join(SEGMENTATIONS)).unwrap();
        let m = evaluate_segmentation_run(d).unwrap();
        assert_eq!(
            (m.distance_unit, m.pooled.means.mean.dice),
            (DistanceUnit::Mm, Some(1.0))
        );
        let json = std::fs::read_to_string(d.join(METRICS)).unwrap();
        assert!(json.contains("\"task\": \"segmentation\""), "{json}");
        let per_image = std::fs::read_to_string(d.join(SEGMENTATION_PER_IMAGE)).unwrap();
        assert!(
            per_image
                .starts_with("image_id,fold,label,image,truth,prediction,empty_masks,dice,iou,")
        );
    }
}
