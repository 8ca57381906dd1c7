//! Deterministic preprocessing: luma -> pad to square (black, centred) -> resize.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Luma};
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

/// Pads with black so the image is square, keeping it centred (extra pixel goes right/bottom).
pub fn pad_to_square(image: &LumaImage) -> LumaImage {
    let side = image.width.max(image.height);
    if image.width == image.height {
        return image.clone();
    }
    let left = (side - image.width) / 2;
    let top = (side - image.height) / 2;
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

/// Bilinear (triangle) resampling; when shrinking the kernel widens, i.e. it antialiases
/// like PIL's / torchvision's bilinear resize.
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
    let buffer: ImageBuffer<Luma<f32>, &[f32]> =
        ImageBuffer::from_raw(width, height, pixels).expect("pixel count matches dimensions");
    imageops::resize(&buffer, new_width, new_height, FilterType::Triangle).into_raw()
}

pub fn prepare_image(image: &LumaImage, spec: &PreprocessSpec) -> PreparedImage {
    let square = pad_to_square(image);
    let pixels = resize_bilinear(
        &square.pixels,
        square.width,
        square.height,
        spec.size,
        spec.size,
    );
    PreparedImage {
        size: spec.size,
        pixels,
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
