//! Deterministic preprocessing: luma -> pad to square (black, centred) -> resize.

use serde::{Deserialize, Serialize};

use crate::decode::LumaImage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessSpec {
    /// Output side length in pixels.
    pub size: u32,
    /// Channels the model expects (1 or 3); luma is replicated at normalisation time.
    pub channels: u8,
}

impl PreprocessSpec {
    /// A stable text form, part of the cache key: change it whenever preprocessing changes.
    pub fn cache_key_text(&self) -> String {
        format!(
            "preprocess-v1;luma-pil601;pad-square-center-black;resize-triangle-aa;size={};channels={}",
            self.size, self.channels
        )
    }
}

/// A preprocessed image: luma in [0, 1], row-major `size * size`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedImage {
    pub size: u32,
    pub pixels: Vec<f32>,
}

impl PreparedImage {
    pub fn get(&self, x: u32, y: u32) -> f32 {
        self.pixels[(y * self.size + x) as usize]
    }
}

/// A preprocessed binary mask (0 or 1), row-major `size * size`, aligned with its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMask {
    pub size: u32,
    pub pixels: Vec<u8>,
}

impl PreparedMask {
    /// An all-background mask, for samples without one (`MissingMask::Empty`).
    pub fn background(size: u32) -> PreparedMask {
        PreparedMask {
            size,
            pixels: vec![0; size as usize * size as usize],
        }
    }
}

/// Pads with black so the image is square, keeping it centred (extra pixel goes right/bottom).
pub fn pad_to_square(image: &LumaImage) -> LumaImage {
    let side = image.width.max(image.height);
    if image.width == image.height {
        return image.clone();
    }
    let (left, top) = square_offsets(image.width, image.height);
    let mut pixels = vec![0.0f32; (side * side) as usize];
    for y in 0..image.height {
        let src = (y * image.width) as usize;
        let dst = ((y + top) * side + left) as usize;
        pixels[dst..dst + image.width as usize]
            .copy_from_slice(&image.pixels[src..src + image.width as usize]);
    }
    LumaImage {
        width: side,
        height: side,
        pixels,
    }
}

/// Where a `width` x `height` image sits inside its centred square canvas.
fn square_offsets(width: u32, height: u32) -> (u32, u32) {
    let side = width.max(height);
    ((side - width) / 2, (side - height) / 2)
}

/// Bilinear (triangle) resampling; when shrinking the kernel widens by the scale factor,
/// i.e. it antialiases like PIL's / torchvision's bilinear resize.
pub fn resize_bilinear(
    pixels: &[f32],
    width: u32,
    height: u32,
    new_width: u32,
    new_height: u32,
) -> Vec<f32> {
    if width == new_width && height == new_height {
        return pixels.to_vec();
    }
    let canvas = Canvas {
        width,
        height,
        left: 0,
        top: 0,
    };
    resize_on_canvas(pixels, width, height, &canvas, new_width, new_height)
}

/// A black canvas with the content image placed at (`left`, `top`).
struct Canvas {
    width: u32,
    height: u32,
    left: u32,
    top: u32,
}

/// The taps of one output pixel along one axis, restricted to the content (the canvas
/// outside it is black and contributes nothing).
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// Triangle-filter taps mapping `canvas_len` samples to `out_len`, for content occupying
/// canvas positions `offset .. offset + content_len`.
fn axis_taps(canvas_len: u32, out_len: u32, offset: u32, content_len: u32) -> Vec<Taps> {
    let scale = canvas_len as f64 / out_len as f64;
    let stretch = scale.max(1.0);
    let support = stretch; // triangle radius 1, widened when downscaling
    (0..out_len)
        .map(|i| {
            let centre = (i as f64 + 0.5) * scale;
            let lo = ((centre - support).floor().max(0.0)) as i64;
            let hi = ((centre + support).ceil().min(canvas_len as f64)) as i64;
            let raw: Vec<(i64, f64)> = (lo..hi)
                .map(|x| {
                    let distance = (x as f64 + 0.5 - centre) / stretch;
                    (x, (1.0 - distance.abs()).max(0.0))
                })
                .collect();
            let total: f64 = raw.iter().map(|(_, w)| w).sum();
            let content: Vec<(i64, f64)> = raw
                .into_iter()
                .filter(|&(x, w)| {
                    w > 0.0 && x >= offset as i64 && x < (offset + content_len) as i64
                })
                .collect();
            match content.first() {
                Some(&(x0, _)) if total > 0.0 => Taps {
                    first: (x0 - offset as i64) as usize,
                    weights: content.iter().map(|&(_, w)| (w / total) as f32).collect(),
                },
                _ => Taps {
                    first: 0,
                    weights: Vec::new(),
                },
            }
        })
        .collect()
}

fn resize_on_canvas(
    pixels: &[f32],
    width: u32,
    height: u32,
    canvas: &Canvas,
    out_width: u32,
    out_height: u32,
) -> Vec<f32> {
    let (w, h, ow, oh) = (
        width as usize,
        height as usize,
        out_width as usize,
        out_height as usize,
    );
    let columns = axis_taps(canvas.width, out_width, canvas.left, width);
    let rows = axis_taps(canvas.height, out_height, canvas.top, height);
    // Horizontal pass over content rows only: h x ow.
    let mut horizontal = vec![0.0f32; h * ow];
    for (src_row, dst_row) in pixels.chunks_exact(w).zip(horizontal.chunks_exact_mut(ow)) {
        for (dst, taps) in dst_row.iter_mut().zip(&columns) {
            let src = &src_row[taps.first..taps.first + taps.weights.len()];
            *dst = src.iter().zip(&taps.weights).map(|(v, wt)| v * wt).sum();
        }
    }
    // Vertical pass: each output row is a weighted sum of horizontal rows.
    let mut out = vec![0.0f32; oh * ow];
    for (dst_row, taps) in out.chunks_exact_mut(ow).zip(&rows) {
        for (k, &weight) in taps.weights.iter().enumerate() {
            let src_row = &horizontal[(taps.first + k) * ow..(taps.first + k + 1) * ow];
            for (dst, src) in dst_row.iter_mut().zip(src_row) {
                *dst += weight * src;
            }
        }
    }
    out
}

/// Pads to a centred square and resizes to `size` in one pass (padding is never materialised).
pub fn pad_and_resize(image: &LumaImage, size: u32) -> Vec<f32> {
    let side = image.width.max(image.height);
    let (left, top) = square_offsets(image.width, image.height);
    let canvas = Canvas {
        width: side,
        height: side,
        left,
        top,
    };
    resize_on_canvas(
        &image.pixels,
        image.width,
        image.height,
        &canvas,
        size,
        size,
    )
}

pub fn prepare_image(image: &LumaImage, spec: &PreprocessSpec) -> PreparedImage {
    PreparedImage {
        size: spec.size,
        pixels: pad_and_resize(image, spec.size),
    }
}

/// Merges mask files by OR (any non-zero pixel), then pads and resizes like the image and
/// thresholds the resampled coverage at 0.5.
pub fn prepare_mask(masks: &[LumaImage], spec: &PreprocessSpec) -> Option<PreparedMask> {
    let first = masks.first()?;
    let mut merged = vec![0.0f32; first.pixels.len()];
    for mask in masks {
        for (m, &v) in merged.iter_mut().zip(&mask.pixels) {
            if v > 0.0 {
                *m = 1.0;
            }
        }
    }
    let merged = LumaImage {
        width: first.width,
        height: first.height,
        pixels: merged,
    };
    let resized = prepare_image(&merged, spec);
    Some(PreparedMask {
        size: spec.size,
        pixels: resized.pixels.iter().map(|&v| u8::from(v >= 0.5)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_centres_the_image() {
        let image = LumaImage {
            width: 2,
            height: 4,
            pixels: vec![1.0; 8],
        };
        let square = pad_to_square(&image);
        assert_eq!((square.width, square.height), (4, 4));
        for y in 0..4 {
            let row: Vec<f32> = square.pixels[y * 4..y * 4 + 4].to_vec();
            assert_eq!(row, vec![0.0, 1.0, 1.0, 0.0]);
        }
        let wide = LumaImage {
            width: 3,
            height: 1,
            pixels: vec![0.5; 3],
        };
        let square = pad_to_square(&wide);
        assert_eq!(square.pixels[3..6], [0.5, 0.5, 0.5]);
        assert!(
            square.pixels[..3]
                .iter()
                .chain(&square.pixels[6..])
                .all(|&v| v == 0.0)
        );
    }

    #[test]
    fn downscaling_averages_and_preserves_constants() {
        let constant = vec![0.25f32; 64 * 64];
        let out = resize_bilinear(&constant, 64, 64, 16, 16);
        assert!(out.iter().all(|&v| (v - 0.25).abs() < 1e-5));
        // A fine checkerboard must average to grey when shrunk (antialiasing), not alias.
        let checker: Vec<f32> = (0..64 * 64)
            .map(|i| ((i % 64 + i / 64) % 2) as f32)
            .collect();
        let out = resize_bilinear(&checker, 64, 64, 8, 8);
        assert!(out.iter().all(|&v| (v - 0.5).abs() < 0.05), "{out:?}");
    }

    #[test]
    fn pad_and_resize_equals_padding_then_resizing() {
        let image = LumaImage {
            width: 37,
            height: 23,
            pixels: (0..37 * 23)
                .map(|i| ((i * 7919) % 101) as f32 / 100.0)
                .collect(),
        };
        let square = pad_to_square(&image);
        for size in [8, 16, 37, 50] {
            let direct = pad_and_resize(&image, size);
            let two_step = resize_bilinear(&square.pixels, 37, 37, size, size);
            for (a, b) in direct.iter().zip(&two_step) {
                assert!((a - b).abs() < 1e-5, "size {size}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn triangle_weights_match_pil_bilinear() {
        // PIL Image.resize((2,1), BILINEAR) of [0, 10, 20, 30] (scale 2, support 2):
        // out0 centre 1.0 taps x=0,1,2 weights .75,.75,.25 (x=-1 clipped) -> 7.142857.
        let out = resize_bilinear(&[0.0, 10.0, 20.0, 30.0], 4, 1, 2, 1);
        assert!((out[0] - 50.0 / 7.0).abs() < 1e-4, "{out:?}");
        assert!(
            (out[1] - (10.0 * 0.25 + 20.0 * 0.75 + 30.0 * 0.75) / 1.75).abs() < 1e-4,
            "{out:?}"
        );
        // Upscaling 2 -> 4 is plain linear interpolation with edge clamping.
        let up = resize_bilinear(&[0.0, 1.0], 2, 1, 4, 1);
        let expected = [0.0, 0.25, 0.75, 1.0];
        for (a, b) in up.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{up:?}");
        }
    }

    #[test]
    fn mask_or_merge_and_threshold() {
        let a = LumaImage {
            width: 4,
            height: 4,
            pixels: (0..16).map(|i| if i < 8 { 1.0 } else { 0.0 }).collect(),
        };
        let b = LumaImage {
            width: 4,
            height: 4,
            pixels: (0..16).map(|i| if i >= 12 { 1.0 } else { 0.0 }).collect(),
        };
        let spec = PreprocessSpec {
            size: 4,
            channels: 1,
        };
        let mask = prepare_mask(&[a, b], &spec).unwrap();
        let expected: Vec<u8> = (0..16).map(|i| u8::from(!(8..12).contains(&i))).collect();
        assert_eq!(mask.pixels, expected);
        assert!(prepare_mask(&[], &spec).is_none());
    }
}
