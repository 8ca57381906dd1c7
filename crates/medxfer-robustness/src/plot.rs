//! The study's picture: AUC against strength, one line per perturbation with its 95% DeLong
//! CI as vertical bars, and the unperturbed AUC as a grey reference line, drawn on
//! `medxfer_report`'s canvas (embedded bitmap font: the same PNG on every machine).

use std::path::Path;

use medxfer_report::canvas::{BLACK, Canvas, PALETTE};

use crate::RobustnessError;
use crate::results::{ConditionAuc, RobustnessReport};
use crate::suite::Suite;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 560;
const GRID: [u8; 3] = [225, 225, 225];
const REFERENCE: [u8; 3] = [150, 150, 150];
const REFERENCE_CI: [u8; 3] = [200, 200, 200];
/// Plot area inside the canvas: left, top, right, bottom margins in pixels.
const FRAME: (f64, f64, f64, f64) = (70.0, 40.0, 200.0, 50.0);

/// One curve: (x, AUC, CI low, CI high) per point.
struct Curve {
    label: &'static str,
    points: Vec<(f64, f64, f64, f64)>,
}

/// Write `robustness_<suite>.png` into `dir`; returns its path.
pub fn write_plot(
    report: &RobustnessReport,
    dir: &Path,
) -> Result<std::path::PathBuf, RobustnessError> {
    let path = dir.join(format!("robustness_{}.png", report.suite.name()));
    let curves = curves(report);
    let reference = report
        .conditions
        .first()
        .map_or((f64::NAN, f64::NAN, f64::NAN), |r| {
            (r.auc, r.ci_low, r.ci_high)
        });
    let mut canvas = Canvas::new(WIDTH, HEIGHT);
    let x_label = match report.suite {
        Suite::Bbox => "largest shift and scale change (fraction of the box side)",
        Suite::Corruptions => "severity (0 = unperturbed)",
    };
    let title = format!(
        "AUC vs strength, {} suite, {} images (95% DeLong CI)",
        report.suite.name(),
        report.images
    );
    let axes = Axes::draw(&mut canvas, &curves, reference, &title, x_label);
    // The unperturbed AUC, and its CI in a lighter grey.
    for (value, color) in [
        (reference.0, REFERENCE),
        (reference.1, REFERENCE_CI),
        (reference.2, REFERENCE_CI),
    ] {
        canvas.line(
            axes.to_px(axes.x.0, value),
            axes.to_px(axes.x.1, value),
            color,
            1,
        );
    }
    let count = curves.len().max(1) as f64;
    for (k, curve) in curves.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        // Dodge the curves sideways so overlapping CI bars stay readable.
        let dodge = (k as f64 - (count - 1.0) / 2.0) * 3.0;
        let px: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|p| axes.to_px(p.0, p.1))
            .map(|(x, y)| (x + dodge, y))
            .collect();
        for pair in px.windows(2) {
            canvas.line(pair[0], pair[1], color, 2);
        }
        for (p, &(x, y)) in curve.points.iter().zip(&px) {
            let (low, high) = (axes.to_px(p.0, p.2).1, axes.to_px(p.0, p.3).1);
            canvas.line((x, low), (x, high), color, 1);
            canvas.line((x - 3.0, low), (x + 3.0, low), color, 1);
            canvas.line((x - 3.0, high), (x + 3.0, high), color, 1);
            canvas.disc((x, y), 3.0, color);
        }
    }
    legend(&mut canvas, &curves);
    canvas.save_png(&path)?;
    Ok(path)
}

/// The curves' names in their colours, then the reference line's, right of the plot.
fn legend(canvas: &mut Canvas, curves: &[Curve]) {
    let lx = (f64::from(WIDTH) - FRAME.2 + 24.0) as i64;
    for (k, curve) in curves.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let ly = FRAME.1 as i64 + 14 * k as i64;
        canvas.disc((lx as f64, ly as f64 + 4.0), 3.0, color);
        canvas.text(lx + 10, ly, curve.label, color, 1);
    }
    let ly = FRAME.1 as i64 + 14 * curves.len() as i64;
    canvas.line(
        ((lx - 6) as f64, ly as f64 + 4.0),
        ((lx + 6) as f64, ly as f64 + 4.0),
        REFERENCE,
        1,
    );
    canvas.text(lx + 10, ly, "unperturbed", REFERENCE, 1);
    canvas.text(lx + 10, ly + 14, "(and its CI)", REFERENCE_CI, 1);
}

/// The report's rows as curves: the bbox crops against their strength; each corruption
/// against its severity, starting from the unperturbed AUC at severity 0.
fn curves(report: &RobustnessReport) -> Vec<Curve> {
    let point = |x: f64, r: &ConditionAuc| (x, r.auc, r.ci_low, r.ci_high);
    let reference = report.conditions.first();
    let mut curves: Vec<Curve> = Vec::new();
    for row in report.conditions.iter().skip(1) {
        let x = match report.suite {
            Suite::Bbox => row.parameter,
            Suite::Corruptions => row.level as f64,
        };
        match curves.iter_mut().find(|c| c.label == row.perturbation) {
            Some(curve) => curve.points.push(point(x, row)),
            None => {
                let mut points = Vec::new();
                if let (Suite::Corruptions, Some(r)) = (report.suite, reference) {
                    points.push(point(0.0, r));
                }
                points.push(point(x, row));
                curves.push(Curve {
                    label: row.perturbation,
                    points,
                });
            }
        }
    }
    curves
}

/// The data ranges and their mapping to pixels.
struct Axes {
    x: (f64, f64),
    y: (f64, f64),
}

impl Axes {
    fn draw(
        canvas: &mut Canvas,
        curves: &[Curve],
        reference: (f64, f64, f64),
        title: &str,
        x_label: &str,
    ) -> Axes {
        let xs = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0));
        let (x_lo, x_hi) = xs.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let ys = curves
            .iter()
            .flat_map(|c| c.points.iter().flat_map(|p| [p.2, p.3]))
            .chain([reference.1, reference.2]);
        let (y_lo, y_hi) = ys
            .filter(|v| v.is_finite())
            .fold((1.0f64, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let (y_lo, y_hi) = if y_lo < y_hi {
            (y_lo, y_hi)
        } else {
            (0.0, 1.0)
        };
        let pad = 0.05 * (y_hi - y_lo).max(0.02);
        let axes = Axes {
            x: (x_lo, if x_hi > x_lo { x_hi } else { x_lo + 1.0 }),
            y: ((y_lo - pad).max(0.0), (y_hi + pad).min(1.0)),
        };
        let (left, top, right, bottom) = axes.frame();
        canvas.text(left as i64, 12, title, BLACK, 1);
        for i in 0..=4 {
            let f = f64::from(i) / 4.0;
            let y = bottom - f * (bottom - top);
            canvas.line((left, y), (right, y), GRID, 1);
            let yl = format!("{:.3}", axes.y.0 + f * (axes.y.1 - axes.y.0));
            canvas.text(
                left as i64 - 8 - Canvas::text_width(&yl, 1),
                y as i64 - 4,
                &yl,
                BLACK,
                1,
            );
        }
        // A tick at every strength the study used (they are few and evenly chosen).
        let mut ticks: Vec<f64> = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.0))
            .collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        for value in ticks {
            let (x, _) = axes.to_px(value, axes.y.0);
            canvas.line((x, top), (x, bottom), GRID, 1);
            let xl = format!("{value}");
            canvas.text(
                x as i64 - Canvas::text_width(&xl, 1) / 2,
                bottom as i64 + 8,
                &xl,
                BLACK,
                1,
            );
        }
        canvas.line((left, top), (left, bottom), BLACK, 1);
        canvas.line((left, bottom), (right, bottom), BLACK, 1);
        canvas.text(left as i64, bottom as i64 + 26, x_label, BLACK, 1);
        canvas.text(8, top as i64 - 14, "AUC", BLACK, 1);
        axes
    }

    fn frame(&self) -> (f64, f64, f64, f64) {
        let (l, t, r, b) = FRAME;
        (l, t, f64::from(WIDTH) - r, f64::from(HEIGHT) - b)
    }

    fn to_px(&self, x: f64, y: f64) -> (f64, f64) {
        let (left, top, right, bottom) = self.frame();
        (
            left + (x - self.x.0) / (self.x.1 - self.x.0) * (right - left),
            bottom - (y - self.y.0) / (self.y.1 - self.y.0) * (bottom - top),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::ConditionAuc;

    fn row(perturbation: &'static str, level: usize, parameter: f64, auc: f64) -> ConditionAuc {
        ConditionAuc {
            perturbation,
            level,
            parameter,
            auc,
            ci_low: auc - 0.05,
            ci_high: (auc + 0.05).min(1.0),
            difference: 0.0,
            difference_ci_low: 0.0,
            difference_ci_high: 0.0,
            p_value: None,
        }
    }

    /// Corruption curves start at the unperturbed AUC (severity 0); the PNG is written with
    /// ink in more than one colour.
    #[test]
    fn curves_start_from_the_reference_and_the_png_is_drawn() {
        let report = RobustnessReport {
            run_dir: "run".into(),
            suite: Suite::Corruptions,
            seed: 0,
            margin: None,
            positive_class: "malignant".into(),
            images: 10,
            positives: 5,
            negatives: 5,
            fold_models: 2,
            largest_gap_from_recorded: 0.0,
            conditions: vec![
                row("none", 0, 0.0, 0.9),
                row("jpeg", 1, 25.0, 0.85),
                row("jpeg", 2, 18.0, 0.8),
                row("gamma", 1, 1.25, 0.88),
            ],
        };
        let curves = curves(&report);
        assert_eq!(curves.len(), 2);
        assert_eq!(curves[0].points.len(), 3);
        let (x, auc, low, high) = curves[0].points[0];
        assert_eq!((x, auc, low), (0.0, 0.9, 0.85));
        assert!((high - 0.95).abs() < 1e-12);
        let dir = tempfile::tempdir().unwrap();
        let path = write_plot(&report, dir.path()).unwrap();
        let png = image::open(&path).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (WIDTH, HEIGHT));
        let colours: std::collections::HashSet<[u8; 3]> = png.pixels().map(|p| p.0).collect();
        assert!(colours.contains(&PALETTE[0]) && colours.contains(&PALETTE[1]));
    }
}
