//! Decoding image files to luma. Dispatches on the file extension so other crates (e.g.
//! `medxfer-dicom` for `.dcm`) can plug in a decoder without this crate depending on them.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use image::{DynamicImage, ImageReader, Limits};

use crate::error::DataError;

/// A decoded image converted to luma, values in [0, 1], row-major `width * height`.
#[derive(Debug, Clone, PartialEq)]
pub struct LumaImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<f32>,
}

/// Caps on what a PNG/JPEG header may declare, checked before any pixel buffer is allocated,
/// so a tiny file claiming 100000 x 100000 pixels is an error rather than a 40 GB allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest `width * height` accepted (config key `data.max_image_pixels`).
    pub max_pixels: u64,
}

impl DecodeLimits {
    /// 64 megapixels: four times a full-field mammogram, and at most 512 MiB for a 16-bit RGBA
    /// decode (the image crate's own default allocation cap).
    pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: Self::DEFAULT_MAX_PIXELS,
        }
    }
}

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DecodeLimits::DEFAULT_MAX_PIXELS);

/// Sets the limits every later decode in this process uses (process-wide, like the decoder
/// registry, because decoding happens deep inside caches and worker threads).
pub fn set_decode_limits(limits: DecodeLimits) {
    MAX_PIXELS.store(limits.max_pixels, Ordering::Relaxed);
}

/// The limits in force (the default until `set_decode_limits` is called).
pub fn decode_limits() -> DecodeLimits {
    DecodeLimits {
        max_pixels: MAX_PIXELS.load(Ordering::Relaxed),
    }
}

/// A decoder for one file extension: gets the path (for messages) and the file's bytes.
pub type Decoder = fn(path: &Path, bytes: &[u8]) -> Result<LumaImage, DataError>;

/// Extensions the `image` crate decodes for us.
const BUILTIN_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Extensions that are images even without a decoder, so they surface as a clear error
/// instead of being silently skipped.
const KNOWN_EXTERNAL_EXTENSIONS: [&str; 1] = ["dcm"];

fn registry() -> &'static RwLock<HashMap<String, Decoder>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Decoder>>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Registers (or replaces) the decoder for files ending in `.extension` (case-insensitive).
pub fn register_decoder(extension: &str, decoder: Decoder) {
    let mut map = registry()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.insert(extension.to_ascii_lowercase(), decoder);
}

fn registered_decoder(extension: &str) -> Option<Decoder> {
    let map = registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.get(extension).copied()
}

/// Whether files with this extension are dataset images.
pub fn is_image_extension(extension: &str) -> bool {
    let extension = extension.to_ascii_lowercase();
    BUILTIN_EXTENSIONS.contains(&extension.as_str())
        || KNOWN_EXTERNAL_EXTENSIONS.contains(&extension.as_str())
        || registered_decoder(&extension).is_some()
}

pub fn decode_luma_file(path: &Path) -> Result<LumaImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_luma_bytes(path, &bytes)
}

/// Decodes `bytes` (the content of `path`) to luma, choosing the decoder by extension.
pub fn decode_luma_bytes(path: &Path, bytes: &[u8]) -> Result<LumaImage, DataError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if let Some(decoder) = registered_decoder(&extension) {
        return decoder(path, bytes);
    }
    if BUILTIN_EXTENSIONS.contains(&extension.as_str()) {
        return decode_with_image_crate(path, bytes);
    }
    let hint = if extension == "dcm" {
        " (DICOM support is not enabled in this build)".to_string()
    } else {
        " (supported: .png, .jpg, .jpeg)".to_string()
    };
    Err(DataError::UnsupportedFormat {
        path: path.to_path_buf(),
        extension,
        hint,
    })
}

fn decode_with_image_crate(path: &Path, bytes: &[u8]) -> Result<LumaImage, DataError> {
    let decode_error = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, DataError> {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| decode_error(e.to_string()))?;
        if reader.format().is_none() {
            return Err(decode_error("not a PNG or JPEG file".into()));
        }
        Ok(reader)
    };
    let limits = decode_limits();
    // Reading the header alone allocates nothing in proportion to the declared size.
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| decode_error(e.to_string()))?;
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(DataError::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    let mut reader = reader()?;
    reader.limits(image_crate_limits(limits));
    let image = reader.decode().map_err(|e| decode_error(e.to_string()))?;
    Ok(to_luma(image))
}

/// The same cap handed to the decoder itself, in case a decoder reads different dimensions
/// later than its header: no side above `max_pixels`, and 8 bytes (16-bit RGBA) per allowed
/// pixel, with a floor for the decoders' own working buffers when the pixel cap is tiny.
fn image_crate_limits(limits: DecodeLimits) -> Limits {
    const MIN_ALLOC: u64 = 64 * 1024 * 1024;
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut image_limits = Limits::default();
    image_limits.max_image_width = Some(side);
    image_limits.max_image_height = Some(side);
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(MIN_ALLOC));
    image_limits
}

/// ITU-R 601-2 luma. 8-bit RGB uses PIL's fixed-point rounding so results match `convert("L")`.
pub fn to_luma(image: DynamicImage) -> LumaImage {
    let (width, height) = (image.width(), image.height());
    // Raw-buffer loops (not per-pixel iterators) keep this fast even in unoptimised builds.
    let pixels: Vec<f32> = match image {
        DynamicImage::ImageLuma8(buf) => buf.as_raw().iter().map(|&v| u8_to_unit(v)).collect(),
        DynamicImage::ImageLumaA8(buf) => buf
            .as_raw()
            .chunks_exact(2)
            .map(|p| u8_to_unit(p[0]))
            .collect(),
        DynamicImage::ImageRgb8(buf) => rgb8_to_luma(buf.as_raw(), 3),
        DynamicImage::ImageRgba8(buf) => rgb8_to_luma(buf.as_raw(), 4),
        DynamicImage::ImageLuma16(buf) => buf.as_raw().iter().map(|&v| u16_to_unit(v)).collect(),
        DynamicImage::ImageLumaA16(buf) => buf
            .as_raw()
            .chunks_exact(2)
            .map(|p| u16_to_unit(p[0]))
            .collect(),
        DynamicImage::ImageRgb16(buf) => rgb16_to_luma(buf.as_raw(), 3),
        DynamicImage::ImageRgba16(buf) => rgb16_to_luma(buf.as_raw(), 4),
        other => other
            .into_rgb32f()
            .as_raw()
            .chunks_exact(3)
            .map(|p| float_luma(p[0], p[1], p[2]).clamp(0.0, 1.0))
            .collect(),
    };
    LumaImage {
        width,
        height,
        pixels,
    }
}

fn rgb8_to_luma(raw: &[u8], stride: usize) -> Vec<f32> {
    raw.chunks_exact(stride)
        .map(|p| u8_to_unit(pil_luma_u8(p[0], p[1], p[2])))
        .collect()
}

fn rgb16_to_luma(raw: &[u16], stride: usize) -> Vec<f32> {
    raw.chunks_exact(stride)
        .map(|p| float_luma(p[0] as f32, p[1] as f32, p[2] as f32) / 65535.0)
        .collect()
}

fn u8_to_unit(v: u8) -> f32 {
    v as f32 / 255.0
}

fn u16_to_unit(v: u16) -> f32 {
    v as f32 / 65535.0
}

fn pil_luma_u8(r: u8, g: u8, b: u8) -> u8 {
    // 0.299, 0.587, 0.114 in 16-bit fixed point, rounded (as Pillow's Convert.c does).
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

fn float_luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pil_luma_matches_reference_values() {
        // Pillow: Image.new("RGB",(1,1),c).convert("L").getpixel((0,0))
        assert_eq!(pil_luma_u8(255, 255, 255), 255);
        assert_eq!(pil_luma_u8(255, 0, 0), 76);
        assert_eq!(pil_luma_u8(0, 255, 0), 150);
        assert_eq!(pil_luma_u8(0, 0, 255), 29);
        assert_eq!(pil_luma_u8(10, 20, 30), 18);
        for v in 0..=255u8 {
            assert_eq!(pil_luma_u8(v, v, v), v);
        }
    }

    #[test]
    fn unknown_extension_is_a_clear_error() {
        let err = decode_luma_bytes(Path::new("/x/scan.dcm"), b"DICM").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("scan.dcm") && text.contains("DICOM"),
            "{text}"
        );
    }

    #[test]
    fn registered_decoder_is_used() {
        fn fake(_: &Path, bytes: &[u8]) -> Result<LumaImage, DataError> {
            Ok(LumaImage {
                width: 1,
                height: 1,
                pixels: vec![bytes.len() as f32 / 10.0],
            })
        }
        register_decoder("FAKEXT", fake);
        assert!(is_image_extension("fakext"));
        let image = decode_luma_bytes(Path::new("a.fakext"), b"12345").unwrap();
        assert_eq!(image.pixels, vec![0.5]);
    }
}
