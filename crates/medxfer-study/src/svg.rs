//! Inline SVG plots for the study report: text, so the HTML file carries them itself and opens
//! without network access or image files.

use std::fmt::Write;

use medxfer_report::canvas::PALETTE;

const SIZE: f64 = 320.0;
const MARGIN: f64 = 44.0;

/// A colour of the report palette as `#rrggbb`; cells cycle through it.
pub fn colour(index: usize) -> String {
    let [r, g, b] = PALETTE[index % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One named series of (x, y) points (in [0, 1] x [0, 1] for [`unit_square_plot`]).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Curves on the unit square (ROC, precision-recall), with axis titles, a diagonal when asked
/// (a chance ROC) and a legend under the plot.
pub fn unit_square_plot(
    title: &str,
    x_title: &str,
    y_title: &str,
    series: &[Series],
    diagonal: bool,
) -> String {
    let axes = Axes {
        title,
        x_title,
        y_title,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    };
    line_plot(&axes, series, diagonal)
}

/// A plot's titles and the data ranges its square maps.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x_title: &'a str,
    pub y_title: &'a str,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
}

impl Axes<'_> {
    /// The range of `values` with 5% room on each side (a flat series gets a unit of room).
    pub fn fitted(values: impl Iterator<Item = f64>) -> (f64, f64) {
        let (low, high) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if !low.is_finite() {
            return (0.0, 1.0);
        }
        let pad = if high > low { (high - low) * 0.05 } else { 0.5 };
        (low - pad, high + pad)
    }
}

/// A tick label: whole numbers plainly, others with the digits the range needs.
fn tick_label(value: f64, span: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e6 {
        format!("{value}")
    } else if span >= 10.0 {
        format!("{value:.0}")
    } else if span >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Series as lines over `axes`' ranges, with axis titles, three ticks per axis, the diagonal
/// from the lower left to the upper right corner when asked, and a legend under the plot.
pub fn line_plot(axes: &Axes, series: &[Series], diagonal: bool) -> String {
    let legend_height = 16.0 * series.len() as f64;
    let (width, height) = (SIZE + 2.0 * MARGIN, SIZE + 2.0 * MARGIN + legend_height);
    let ((x0, x1), (y0, y1)) = (axes.x_range, axes.y_range);
    let to_x = |x: f64| MARGIN + (x - x0) / (x1 - x0) * SIZE;
    let to_y = |y: f64| MARGIN + (y1 - y) / (y1 - y0) * SIZE;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        crate::report::escape(axes.title)
    );
    let _ = write!(
        svg,
        r##"<rect x="{MARGIN}" y="{MARGIN}" width="{SIZE}" height="{SIZE}" fill="none" stroke="#333"/><text x="{}" y="20" text-anchor="middle" font-weight="bold">{}</text><text x="{}" y="{}" text-anchor="middle">{}</text><text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"##,
        width / 2.0,
        crate::report::escape(axes.title),
        MARGIN + SIZE / 2.0,
        MARGIN + SIZE + 32.0,
        crate::report::escape(axes.x_title),
        MARGIN + SIZE / 2.0,
        MARGIN + SIZE / 2.0,
        crate::report::escape(axes.y_title),
    );
    for fraction in [0.0, 0.5, 1.0] {
        let (x, y) = (x0 + fraction * (x1 - x0), y0 + fraction * (y1 - y0));
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="11">{}</text><text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>"#,
            to_x(x),
            MARGIN + SIZE + 14.0,
            tick_label(x, x1 - x0),
            MARGIN - 4.0,
            to_y(y) + 4.0,
            tick_label(y, y1 - y0)
        );
    }
    if diagonal {
        let _ = write!(
            svg,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#aaa" stroke-dasharray="4 4"/>"##,
            to_x(x0),
            to_y(y0),
            to_x(x1),
            to_y(y1)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", to_x(x), to_y(y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"/>"#,
            colour(i),
            points.join(" ")
        );
        legend_entry(&mut svg, i, &s.name, MARGIN + SIZE + 44.0 + 16.0 * i as f64);
    }
    svg.push_str("</svg>");
    svg
}

fn legend_entry(svg: &mut String, index: usize, name: &str, y: f64) {
    let _ = write!(
        svg,
        r#"<rect x="{MARGIN}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
        y - 9.0,
        colour(index),
        MARGIN + 14.0,
        y,
        crate::report::escape(name)
    );
}

/// Each cell's per-fold values as dots and their mean as a bar, one column per cell (numbered
/// as in the tables), on a y range fitted to the values.
pub fn fold_dot_plot(title: &str, cells: &[(String, Vec<f64>)]) -> String {
    let values: Vec<f64> = cells.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((high - low) * 0.1).max(1e-3);
    let (low, high) = (low - pad, high + pad);
    let column = 36.0;
    let width = 2.0 * MARGIN + column * cells.len().max(1) as f64;
    let height = SIZE * 0.75 + 2.0 * MARGIN;
    let plot_height = SIZE * 0.75;
    let to_y = |v: f64| MARGIN + (high - v) / (high - low) * plot_height;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{0}"><text x="{1}" y="20" text-anchor="middle" font-weight="bold">{0}</text><line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{2}" stroke="#333"/>"##,
        crate::report::escape(title),
        width / 2.0,
        MARGIN + plot_height
    );
    for v in [low + pad, (low + high) / 2.0, high - pad] {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="11">{v:.3}</text>"#,
            MARGIN - 4.0,
            to_y(v) + 4.0
        );
    }
    for (i, (_, fold_values)) in cells.iter().enumerate() {
        let x = MARGIN + column * (i as f64 + 0.5);
        for &v in fold_values {
            let _ = write!(
                svg,
                r#"<circle cx="{x:.1}" cy="{:.1}" r="3" fill="{}" fill-opacity="0.7"/>"#,
                to_y(v),
                colour(i)
            );
        }
        if !fold_values.is_empty() {
            let mean = fold_values.iter().sum::<f64>() / fold_values.len() as f64;
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{2:.1}" y2="{2:.1}" stroke="#000" stroke-width="2"/>"##,
                x - 10.0,
                x + 10.0,
                to_y(mean)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
            MARGIN + plot_height + 14.0,
            i + 1
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One small scatter panel: a title and points (x, y, group index, whether to draw the point
/// hollow).
pub struct ScatterPanel {
    pub title: String,
    pub points: Vec<(f64, f64, usize, bool)>,
}

/// Scatter panels side by side, each fitted to its own points (t-SNE coordinates have no
/// common scale), coloured by group, with a legend of the groups and of hollow points under
/// them. `title` labels the picture for screen readers; the page captions it (a long caption
/// wraps there, not in the picture).
pub fn scatter_panels(
    title: &str,
    panels: &[ScatterPanel],
    groups: &[String],
    hollow_means: &str,
) -> String {
    const PANEL: f64 = 170.0;
    const GAP: f64 = 10.0;
    let width = GAP + (PANEL + GAP) * panels.len().max(1) as f64;
    const TOP: f64 = 8.0;
    let legend_y = TOP + PANEL + 36.0;
    let height = legend_y + 16.0 * (groups.len() + 1) as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        crate::report::escape(title)
    );
    for (p, panel) in panels.iter().enumerate() {
        let left = GAP + (PANEL + GAP) * p as f64;
        let top = TOP;
        let (x0, x1) = Axes::fitted(panel.points.iter().map(|q| q.0));
        let (y0, y1) = Axes::fitted(panel.points.iter().map(|q| q.1));
        let _ = write!(
            svg,
            r##"<rect x="{left}" y="{top}" width="{PANEL}" height="{PANEL}" fill="none" stroke="#333"/><text x="{}" y="{}" text-anchor="middle" font-size="11">{}</text>"##,
            left + PANEL / 2.0,
            top + PANEL + 14.0,
            crate::report::escape(&panel.title)
        );
        for &(x, y, group, hollow) in &panel.points {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let (cx, cy) = (
                left + (x - x0) / (x1 - x0) * PANEL,
                top + (y1 - y) / (y1 - y0) * PANEL,
            );
            let fill = if hollow {
                "none".to_string()
            } else {
                colour(group)
            };
            let _ = write!(
                svg,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="2.5" fill="{fill}" stroke="{}" fill-opacity="0.8"/>"#,
                colour(group)
            );
        }
    }
    for (i, name) in groups.iter().enumerate() {
        legend_entry(&mut svg, i, name, legend_y + 16.0 * i as f64);
    }
    let y = legend_y + 16.0 * groups.len() as f64;
    let _ = write!(
        svg,
        r##"<circle cx="{}" cy="{}" r="4" fill="none" stroke="#333"/><text x="{}" y="{y}" font-size="12">{}</text></svg>"##,
        MARGIN + 5.0,
        y - 4.0,
        MARGIN + 14.0,
        crate::report::escape(hollow_means)
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_closed_svg_with_one_curve_per_series() {
        let svg = unit_square_plot(
            "ROC <pooled>",
            "1 - specificity",
            "sensitivity",
            &[
                Series {
                    name: "a".into(),
                    points: vec![(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)],
                },
                Series {
                    name: "b & c".into(),
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                },
            ],
            true,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("ROC &lt;pooled&gt;") && svg.contains("b &amp; c"));
        let dots = fold_dot_plot(
            "AUC",
            &[("a".into(), vec![0.8, 0.9]), ("b".into(), vec![0.7])],
        );
        assert_eq!(dots.matches("<circle").count(), 3);
        assert_eq!(colour(0), "#1f77b4");
    }

    #[test]
    fn scatter_panels_draw_every_finite_point_with_hollow_ones_unfilled() {
        let panels = [
            ScatterPanel {
                title: "fold 0".into(),
                points: vec![
                    (0.0, 0.0, 0, false),
                    (1.0, 2.0, 1, true),
                    (f64::NAN, 1.0, 0, false),
                ],
            },
            ScatterPanel {
                title: "fold 1 <b>".into(),
                points: vec![(5.0, 5.0, 1, false)],
            },
        ];
        let groups = ["benign".to_string(), "malignant".to_string()];
        let svg = scatter_panels("t-SNE", &panels, &groups, "misclassified");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Three finite points plus the legend's hollow marker.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches(r#"r="2.5" fill="none""#).count(), 1);
        assert!(svg.contains("fold 1 &lt;b&gt;") && svg.contains("malignant"));
    }
}
