//! Small PNG charts (line charts for loss curves, scatter plots for t-SNE) on
//! `medxfer_report`'s canvas (an RGB buffer with an embedded 8x8 bitmap font: no font files or
//! system libraries needed, so the same picture comes out on any machine).

pub use crate::canvas::{BLACK, Canvas, PALETTE};

const GRID: [u8; 3] = [225, 225, 225];

/// A rectangle of the canvas given to one chart.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One named polyline.
pub struct Series {
    pub label: String,
    pub color: [u8; 3],
    pub points: Vec<(f64, f64)>,
}

/// Data range of the finite values, widened when empty or flat.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

fn tick_label(v: f64, span: f64) -> String {
    if span >= 20.0 {
        format!("{v:.0}")
    } else if span >= 2.0 {
        format!("{v:.1}")
    } else if span >= 0.2 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Axes box with 5 labelled ticks per axis; returns the data-to-pixel mapping.
fn axes(
    canvas: &mut Canvas,
    area: Area,
    title: &str,
    x: (f64, f64),
    y: (f64, f64),
) -> impl Fn(f64, f64) -> (f64, f64) + use<> {
    let left = area.x + 60.0;
    let top = area.y + 26.0;
    let right = area.x + area.width - 12.0;
    let bottom = area.y + area.height - 24.0;
    canvas.text(area.x as i64 + 60, area.y as i64 + 6, title, BLACK, 1);
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let py = bottom - f * (bottom - top);
        let px = left + f * (right - left);
        canvas.line((left, py), (right, py), GRID, 1);
        canvas.line((px, top), (px, bottom), GRID, 1);
        let yl = tick_label(y.0 + f * (y.1 - y.0), y.1 - y.0);
        canvas.text(
            left as i64 - 6 - Canvas::text_width(&yl, 1),
            py as i64 - 4,
            &yl,
            BLACK,
            1,
        );
        let xl = tick_label(x.0 + f * (x.1 - x.0), x.1 - x.0);
        canvas.text(
            px as i64 - Canvas::text_width(&xl, 1) / 2,
            bottom as i64 + 8,
            &xl,
            BLACK,
            1,
        );
    }
    canvas.line((left, top), (left, bottom), BLACK, 1);
    canvas.line((left, bottom), (right, bottom), BLACK, 1);
    move |vx, vy| {
        (
            left + (vx - x.0) / (x.1 - x.0) * (right - left),
            bottom - (vy - y.0) / (y.1 - y.0) * (bottom - top),
        )
    }
}

fn legend(canvas: &mut Canvas, area: Area, entries: &[(String, [u8; 3])]) {
    let x = (area.x + area.width - 20.0) as i64;
    for (i, (label, color)) in entries.iter().enumerate() {
        let y = area.y as i64 + 32 + 12 * i as i64;
        let lx = x - Canvas::text_width(label, 1);
        canvas.text(lx, y, label, *color, 1);
        canvas.disc(((lx - 8) as f64, (y + 4) as f64), 3.0, *color);
    }
}

/// Lines of `series` in `area`.
pub fn line_chart(canvas: &mut Canvas, area: Area, title: &str, series: &[Series]) {
    let x = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let y = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let to_px = axes(canvas, area, title, x, y);
    for s in series {
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(a, b)| to_px(a, b))
            .collect();
        for pair in points.windows(2) {
            canvas.line(pair[0], pair[1], s.color, 2);
        }
        for &p in &points {
            canvas.disc(p, 2.5, s.color);
        }
    }
    let entries: Vec<(String, [u8; 3])> =
        series.iter().map(|s| (s.label.clone(), s.color)).collect();
    legend(canvas, area, &entries);
}

/// Points coloured by group (`groups[i]` indexes `names`).
pub fn scatter_chart(
    canvas: &mut Canvas,
    area: Area,
    title: &str,
    points: &[(f64, f64)],
    groups: &[usize],
    names: &[String],
) {
    let x = range(points.iter().map(|p| p.0));
    let y = range(points.iter().map(|p| p.1));
    let to_px = axes(canvas, area, title, x, y);
    for (&(a, b), &g) in points.iter().zip(groups) {
        canvas.disc(to_px(a, b), 2.5, PALETTE[g % PALETTE.len()]);
    }
    let entries: Vec<(String, [u8; 3])> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), PALETTE[i % PALETTE.len()]))
        .collect();
    legend(canvas, area, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_their_colours_and_save_a_png() {
        let mut canvas = Canvas::new(400, 300);
        let area = Area {
            x: 0.0,
            y: 0.0,
            width: 400.0,
            height: 300.0,
        };
        line_chart(
            &mut canvas,
            area,
            "loss",
            &[Series {
                label: "train".into(),
                color: PALETTE[3],
                points: vec![(1.0, 5.0), (2.0, 3.0), (3.0, f64::NAN), (4.0, 1.0)],
            }],
        );
        let red = image::Rgb(PALETTE[3]);
        assert!(canvas.as_image().pixels().filter(|&&p| p == red).count() > 100);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        canvas.save_png(&path).unwrap();
        let back = image::open(&path).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (400, 300));
        assert_eq!(back.as_raw(), canvas.as_image().as_raw());
    }
}
