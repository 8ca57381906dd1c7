//! The reliability diagram of a binary run (`reliability.png`, written by `medxfer evaluate`):
//! per probability bin, the observed share of positives against the mean predicted
//! probability, before and (when fitted) after temperature scaling, with the diagonal of
//! perfect calibration and each curve's ECE in the legend. Marker area follows bin size.

use std::path::Path;

use medxfer_eval::report::{Calibration, RunMetrics};

use crate::ReportError;
use crate::canvas::{BLACK, Canvas, PALETTE};

const SIZE: i64 = 420;
const MARGIN: i64 = 56;
const GREY: [u8; 3] = [170, 170, 170];

/// Pixel position of (predicted, observed) in the plot square.
fn to_pixel(predicted: f64, observed: f64) -> (f64, f64) {
    let span = (SIZE - 2 * MARGIN) as f64;
    (
        MARGIN as f64 + predicted * span,
        (SIZE - MARGIN) as f64 - observed * span,
    )
}

fn draw_axes(canvas: &mut Canvas, title: &str) {
    canvas.text(MARGIN, 12, title, BLACK, 1);
    canvas.line(to_pixel(0.0, 0.0), to_pixel(1.0, 0.0), BLACK, 1);
    canvas.line(to_pixel(0.0, 0.0), to_pixel(0.0, 1.0), BLACK, 1);
    canvas.line(to_pixel(0.0, 0.0), to_pixel(1.0, 1.0), GREY, 1);
    for tick in 0..=4 {
        let v = tick as f64 / 4.0;
        let (x, y) = to_pixel(v, 0.0);
        canvas.line((x, y), (x, y + 4.0), BLACK, 1);
        canvas.text(x as i64 - 12, y as i64 + 8, &format!("{v:.2}"), BLACK, 1);
        let (x, y) = to_pixel(0.0, v);
        canvas.line((x - 4.0, y), (x, y), BLACK, 1);
        canvas.text(x as i64 - 40, y as i64 - 4, &format!("{v:.2}"), BLACK, 1);
    }
    let label = "mean predicted probability";
    let x = (SIZE - Canvas::text_width(label, 1)) / 2;
    canvas.text(x, SIZE - MARGIN + 24, label, BLACK, 1);
    canvas.text(4, MARGIN - 20, "observed share positive", BLACK, 1);
}

fn draw_curve(canvas: &mut Canvas, calibration: &Calibration, color: [u8; 3], legend_row: i64) {
    let total: usize = calibration.reliability.iter().map(|b| b.count).sum();
    let points: Vec<(f64, f64)> = calibration
        .reliability
        .iter()
        .map(|b| to_pixel(b.mean_predicted, b.fraction_positive))
        .collect();
    for pair in points.windows(2) {
        canvas.line(pair[0], pair[1], color, 2);
    }
    for (bin, &point) in calibration.reliability.iter().zip(&points) {
        let share = bin.count as f64 / total.max(1) as f64;
        canvas.disc(point, 2.5 + 10.0 * share.sqrt(), color);
    }
    let y = MARGIN + 8 + legend_row * 14;
    canvas.fill_rect(MARGIN + 8, y, 12, 8, color);
    let text = match legend_row {
        0 => format!("as predicted: ECE {:.3}", calibration.ece),
        _ => format!("temperature-scaled: ECE {:.3}", calibration.ece),
    };
    canvas.text(MARGIN + 26, y, &text, BLACK, 1);
}

/// Draws `metrics`' reliability diagram to `out`; an error when the run has no calibration
/// (multi-class runs without a positive class).
pub fn write_reliability_diagram(
    metrics: &RunMetrics,
    title: &str,
    out: &Path,
) -> Result<(), ReportError> {
    let Some(calibration) = &metrics.pooled.calibration else {
        return Err(ReportError::Invalid(format!(
            "{}: a reliability diagram needs a binary run with a positive class",
            out.display()
        )));
    };
    let mut canvas = Canvas::new(SIZE as u32, SIZE as u32);
    draw_axes(&mut canvas, title);
    draw_curve(&mut canvas, calibration, PALETTE[0], 0);
    if let Some(scaled) = &metrics.pooled.temperature_scaled {
        draw_curve(&mut canvas, &scaled.calibration, PALETTE[1], 1);
    }
    canvas.save_png(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskInfo, TaskKind};
    use medxfer_eval::report::compute_run_metrics;

    fn metrics(class_names: &[&str], positive: Option<&str>) -> RunMetrics {
        let names: Vec<String> = class_names.iter().map(|s| s.to_string()).collect();
        let k = names.len();
        let rows = (0..60)
            .map(|i| {
                let label = i % k;
                let mut scores = vec![0.1 / (k - 1) as f64; k];
                scores[(label + usize::from(i % 4 == 0)) % k] = 0.9;
                let split = if i % 3 == 0 { Split::Val } else { Split::Test };
                PredictionRow {
                    image_id: format!("img{i}"),
                    fold: 0,
                    split,
                    label: names[label].clone(),
                    source: None,
                    center: None,
                    scores,
                }
            })
            .collect();
        let predictions = Predictions {
            class_names: names.clone(),
            rows,
        };
        let task = TaskInfo {
            class_names: names,
            positive_class: positive.map(str::to_string),
            task: TaskKind::Classification,
        };
        compute_run_metrics(&predictions, &task).unwrap()
    }

    #[test]
    fn a_binary_run_draws_both_curves_and_a_multiclass_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("reliability.png");
        let binary = metrics(&["benign", "malignant"], Some("malignant"));
        assert!(binary.pooled.temperature_scaled.is_some());
        write_reliability_diagram(&binary, "test run", &out).unwrap();
        let picture = image::open(&out).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (SIZE as u32, SIZE as u32));
        let has = |color: [u8; 3]| picture.pixels().any(|p| p.0 == color);
        assert!(has(PALETTE[0]) && has(PALETTE[1]));
        let three = metrics(&["a", "b", "c"], None);
        let message = write_reliability_diagram(&three, "x", &dir.path().join("no.png"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("no.png") && message.contains("binary"),
            "{message}"
        );
        assert!(!dir.path().join("no.png").exists());
    }
}
