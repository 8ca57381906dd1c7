//! PNG output of display values (8- or 16-bit, grey or RGB), written atomically.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb};

use crate::atomic_write::write_atomically;
use crate::error::DicomError;
use crate::training::DecodedImage;

/// PNG sample depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PngDepth {
    Eight,
    Sixteen,
}

/// Writes display values in [0, 1] as a PNG.
pub fn write_png(path: &Path, image: &DecodedImage, depth: PngDepth) -> Result<(), DicomError> {
    let (w, h) = (image.width, image.height);
    let bad = || DicomError::Write {
        path: path.into(),
        message: format!(
            "{} values do not fit {w}x{h}x{}",
            image.pixels.len(),
            image.channels
        ),
    };
    let dynamic = match (depth, image.channels) {
        (PngDepth::Eight, 1) => DynamicImage::ImageLuma8(
            ImageBuffer::<Luma<u8>, _>::from_raw(w, h, to_u8(&image.pixels)).ok_or_else(bad)?,
        ),
        (PngDepth::Eight, _) => DynamicImage::ImageRgb8(
            ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, to_u8(&image.pixels)).ok_or_else(bad)?,
        ),
        (PngDepth::Sixteen, 1) => DynamicImage::ImageLuma16(
            ImageBuffer::<Luma<u16>, _>::from_raw(w, h, to_u16(&image.pixels)).ok_or_else(bad)?,
        ),
        (PngDepth::Sixteen, _) => DynamicImage::ImageRgb16(
            ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, to_u16(&image.pixels)).ok_or_else(bad)?,
        ),
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    dynamic
        .write_to(&mut bytes, ImageFormat::Png)
        .map_err(|e| DicomError::Write {
            path: path.into(),
            message: e.to_string(),
        })?;
    let bytes = bytes.into_inner();
    write_atomically(path, |w| {
        std::io::Write::write_all(w, &bytes).map_err(|e| e.to_string())
    })
}

fn to_u8(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

fn to_u16(values: &[f32]) -> Vec<u16> {
    values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 65535.0).round() as u16)
        .collect()
}
