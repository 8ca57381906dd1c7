//! A small RGB drawing surface for report pictures (charts, image galleries): pixels, lines,
//! discs, rectangles, pasted images and text in an embedded 8x8 bitmap font, so the same
//! picture comes out on any machine without font files or system libraries. Written as PNG
//! atomically.
//!
//! This is the generic part of `medxfer-train`'s `ssl/plot.rs` (which should switch to it).

use std::path::Path;

use font8x8::{BASIC_FONTS, UnicodeFonts};
use image::{ImageEncoder, RgbImage};

use crate::ReportError;

/// Tableau-10 colours: distinguishable, and readable on white.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
pub const BLACK: [u8; 3] = [0, 0, 0];
pub const WHITE: [u8; 3] = [255, 255, 255];

pub struct Canvas {
    image: RgbImage,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: u32, height: u32) -> Self {
        Canvas {
            image: RgbImage::from_pixel(width, height, image::Rgb(WHITE)),
        }
    }

    pub fn width(&self) -> u32 {
        self.image.width()
    }

    pub fn height(&self) -> u32 {
        self.image.height()
    }

    /// Sets one pixel; outside the canvas is ignored (shapes may be clipped).
    pub fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as u32) < self.image.width() && (y as u32) < self.image.height() {
            self.image.put_pixel(x as u32, y as u32, image::Rgb(color));
        }
    }

    /// Bresenham line, `width` pixels thick.
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), color: [u8; 3], width: i64) {
        let (mut x0, mut y0) = (from.0.round() as i64, from.1.round() as i64);
        let (x1, y1) = (to.0.round() as i64, to.1.round() as i64);
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        let half = width / 2;
        loop {
            for ox in -half..=(width - 1 - half) {
                for oy in -half..=(width - 1 - half) {
                    self.set(x0 + ox, y0 + oy, color);
                }
            }
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    pub fn disc(&mut self, center: (f64, f64), radius: f64, color: [u8; 3]) {
        let r = radius.ceil() as i64;
        let (cx, cy) = (center.0.round() as i64, center.1.round() as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                if ((dx * dx + dy * dy) as f64) <= radius * radius {
                    self.set(cx + dx, cy + dy, color);
                }
            }
        }
    }

    /// A filled rectangle with its top-left corner at (x, y).
    pub fn fill_rect(&mut self, x: i64, y: i64, width: i64, height: i64, color: [u8; 3]) {
        for yy in y..y + height {
            for xx in x..x + width {
                self.set(xx, yy, color);
            }
        }
    }

    /// Pastes `picture` with its top-left corner at (x, y).
    pub fn paste(&mut self, x: i64, y: i64, picture: &RgbImage) {
        for (px, py, p) in picture.enumerate_pixels() {
            self.set(x + px as i64, y + py as i64, p.0);
        }
    }

    /// Text with its top-left corner at (x, y); each glyph is 8 x 8 pixels times `scale`.
    /// Characters outside the font's basic Latin set are drawn as '?'.
    pub fn text(&mut self, x: i64, y: i64, text: &str, color: [u8; 3], scale: i64) {
        for (n, ch) in text.chars().enumerate() {
            let glyph = BASIC_FONTS
                .get(ch)
                .or_else(|| BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let gx = x + (n as i64 * 8 + col) * scale;
                        self.fill_rect(gx, y + row as i64 * scale, scale, scale, color);
                    }
                }
            }
        }
    }

    pub fn text_width(text: &str, scale: i64) -> i64 {
        text.chars().count() as i64 * 8 * scale
    }

    pub fn as_image(&self) -> &RgbImage {
        &self.image
    }

    /// Encode as PNG and write atomically.
    pub fn save_png(&self, path: &Path) -> Result<(), ReportError> {
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(
                self.image.as_raw(),
                self.image.width(),
                self.image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| ReportError::format(path, format!("cannot encode PNG: {e}")))?;
        medxfer_atomic::write_atomic(path, &bytes).map_err(|e| ReportError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_is_clipped_and_text_has_ink() {
        let mut canvas = Canvas::new(40, 20);
        canvas.line((-5.0, 5.0), (100.0, 5.0), BLACK, 1);
        assert_eq!(canvas.as_image().get_pixel(39, 5).0, BLACK);
        assert_eq!(canvas.as_image().get_pixel(0, 6).0, WHITE);
        canvas.text(0, 10, "Hi", PALETTE[3], 1);
        let ink = canvas
            .as_image()
            .enumerate_pixels()
            .filter(|(_, y, p)| *y >= 10 && p.0 == PALETTE[3])
            .count();
        assert!(ink > 10, "{ink}");
        assert_eq!(Canvas::text_width("Hi", 2), 32);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        canvas.save_png(&path).unwrap();
        assert_eq!(image::image_dimensions(&path).unwrap(), (40, 20));
    }
}
