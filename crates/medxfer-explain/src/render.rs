//! Pictures of explanations: a heat map over the image at its original size with a caption,
//! and a contact sheet of several.

use image::{RgbImage, imageops};
use medxfer_report::canvas::{Canvas, WHITE};

use crate::Explanation;

/// Viridis at nine evenly spaced points: perceptually uniform and readable by colour-blind
/// viewers, unlike jet, which invents edges where the map is smooth.
const VIRIDIS: [[f32; 3]; 9] = [
    [68.0, 1.0, 84.0],
    [71.0, 45.0, 123.0],
    [59.0, 82.0, 139.0],
    [44.0, 114.0, 142.0],
    [33.0, 145.0, 140.0],
    [40.0, 174.0, 128.0],
    [94.0, 201.0, 98.0],
    [173.0, 220.0, 48.0],
    [253.0, 231.0, 37.0],
];

/// The colour of `t` in 0..=1 (clamped), linear between the anchors.
pub fn viridis(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [0, 1, 2].map(|c| (a[c] + (b[c] - a[c]) * f).round() as u8)
}

/// The map's positive part scaled to 0..=1 (evidence against the class shows as none).
fn display_values(map: &[f32]) -> Vec<f32> {
    let top = map.iter().fold(0f32, |m, &v| m.max(v));
    map.iter()
        .map(|&v| if top > 0.0 { v.max(0.0) / top } else { 0.0 })
        .collect()
}

/// Levels of the overlay's colour table: finer than the 8-bit colours it holds.
const HEAT_LEVELS: usize = 1024;

/// The heat map blended over the grey image with opacity `alpha`, same size as the image.
/// Colours come from a table of [`HEAT_LEVELS`] viridis entries (the nearest level, at most
/// half an 8-bit step from the exact colour), blended with 0.5 added and truncated instead of
/// `round` (a libm call per channel): this runs on every pixel of every served explanation.
pub fn overlay(explanation: &Explanation, alpha: f32) -> RgbImage {
    let image = &explanation.image;
    let (lo, hi) = image
        .pixels
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    let grey_scale = (1.0 - alpha) * 255.0 / (hi - lo).max(1e-6);
    let table: Vec<[f32; 3]> = (0..HEAT_LEVELS)
        .map(|i| viridis(i as f32 / (HEAT_LEVELS - 1) as f32).map(|c| alpha * c as f32 + 0.5))
        .collect();
    let top = (HEAT_LEVELS - 1) as f32;
    let heat = display_values(&explanation.map);
    let mut out = RgbImage::new(image.width, image.height);
    for ((pixel, &grey), &heat) in out.pixels_mut().zip(&image.pixels).zip(&heat) {
        let grey = (grey - lo) * grey_scale;
        // `heat` is in 0..=1, so the index is in range; `as` saturates at 255.
        let colour = table[(heat * top + 0.5) as usize];
        pixel.0 = colour.map(|c| (c + grey) as u8);
    }
    out
}

/// The caption under a picture: method, class and the ensemble's probability.
pub fn caption(explanation: &Explanation, method: &str) -> String {
    format!(
        "{method}: {} p={:.3}",
        explanation.class_name, explanation.probability
    )
}

/// `picture` with `text` in a black strip below it, wrapped to the picture's width (which
/// stays the image's own); the font grows with wide pictures so the caption stays legible at
/// the original resolution.
pub fn captioned(picture: &RgbImage, text: &str) -> Canvas {
    let scale = i64::from(picture.width() / 240).clamp(1, 4);
    let per_line = ((i64::from(picture.width()) - 2 * scale) / (8 * scale)).max(1) as usize;
    let chars: Vec<char> = text.chars().collect();
    let lines: Vec<String> = chars.chunks(per_line).map(|c| c.iter().collect()).collect();
    let strip = (lines.len() as i64 * 10 + 2) * scale;
    let height = picture.height() as i64;
    let mut canvas = Canvas::new(picture.width(), picture.height() + strip as u32);
    canvas.fill_rect(0, height, picture.width() as i64, strip, [0; 3]);
    canvas.paste(0, 0, picture);
    for (n, line) in lines.iter().enumerate() {
        let y = height + (2 + 10 * n as i64) * scale;
        canvas.text(scale, y, line, WHITE, scale);
    }
    canvas
}

/// Thumbnails (longest side `thumb` px) of the captioned overlays in a grid of up to 6
/// columns; each thumbnail's caption names the image.
pub fn contact_sheet(items: &[(String, RgbImage)], thumb: u32) -> Canvas {
    let columns = items.len().clamp(1, 6) as u32;
    let rows = (items.len() as u32).div_ceil(columns).max(1);
    let (cell_w, cell_h) = (thumb + 8, thumb + 8 + 2 * 12);
    let mut canvas = Canvas::new(columns * cell_w, rows * cell_h);
    for (n, (label, picture)) in items.iter().enumerate() {
        let (col, row) = (n as u32 % columns, n as u32 / columns);
        let scale = thumb as f32 / picture.width().max(picture.height()) as f32;
        let (w, h) = (
            ((picture.width() as f32 * scale).round() as u32).max(1),
            ((picture.height() as f32 * scale).round() as u32).max(1),
        );
        let small = imageops::resize(picture, w, h, imageops::FilterType::Triangle);
        let (x, y) = (i64::from(col * cell_w + 4), i64::from(row * cell_h + 4));
        canvas.paste(x, y, &small);
        // Long captions are cut to the cell: the full text is in each overlay's own file.
        let fits = (thumb / 8) as usize;
        for (line, text) in label.lines().take(2).enumerate() {
            let cut: String = text.chars().take(fits).collect();
            canvas.text(
                x,
                y + i64::from(thumb) + 2 + 11 * line as i64,
                &cut,
                [0; 3],
                1,
            );
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_from_purple_to_yellow_with_rising_lightness() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(-3.0), viridis(0.0));
        let luma = |c: [u8; 3]| 0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32;
        let steps: Vec<f32> = (0..=20).map(|i| luma(viridis(i as f32 / 20.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]), "{steps:?}");
    }

    /// The table-driven overlay is within one 8-bit level of the exact blend
    /// `round(alpha * viridis(heat) + (1 - alpha) * grey)` on every pixel.
    #[test]
    fn overlay_matches_the_exact_blend_within_one_level() {
        let (width, height) = (37u32, 23u32);
        let n = (width * height) as usize;
        let pixels: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 3.0).collect();
        let map: Vec<f32> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f32 - 300.0)
            .collect();
        let explanation = Explanation {
            path: "x.png".into(),
            image: medxfer_data::decode::LumaImage {
                width,
                height,
                pixels: pixels.clone(),
            },
            class_name: "c".into(),
            probability: 0.5,
            probabilities: vec![0.5, 0.5],
            map: map.clone(),
        };
        let alpha = 0.5;
        let out = overlay(&explanation, alpha);
        let (lo, hi) = (0.0f32, pixels.iter().fold(0f32, |m, &v| m.max(v)));
        let top = map.iter().fold(0f32, |m, &v| m.max(v));
        for (i, pixel) in out.pixels().enumerate() {
            let grey = (pixels[i] - lo) / (hi - lo) * 255.0;
            let colour = viridis(map[i].max(0.0) / top);
            for c in 0..3 {
                let exact = (alpha * colour[c] as f32 + (1.0 - alpha) * grey).round();
                let got = f32::from(pixel.0[c]);
                assert!(
                    (got - exact).abs() <= 1.0,
                    "pixel {i} channel {c}: {got} vs {exact}"
                );
            }
        }
    }

    /// A caption longer than a narrow image wraps instead of being cut; the image keeps its width.
    #[test]
    fn captions_wrap_to_the_image_width() {
        let picture = RgbImage::new(40, 32);
        let canvas = captioned(&picture, "occlusion: right p=0.500");
        assert_eq!(canvas.width(), 40);
        // 4 characters of 8 px per line, 24 characters: 6 lines of 10 px, plus 2.
        assert_eq!(canvas.height(), 32 + 62);
        let wide = captioned(&RgbImage::new(500, 400), "gradcam: benign p=0.912");
        assert_eq!((wide.width(), wide.height()), (500, 400 + 24));
    }
}
