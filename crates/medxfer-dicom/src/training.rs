//! What the data crate calls: one DICOM frame as display values in [0, 1] for training.

use std::path::Path;

use crate::error::DicomError;
use crate::pixels::{DicomImage, FrameSelection, frames_in_object, open_object};
use crate::window::{WindowSpec, display_frame};

/// A decoded frame: row-major pixels in [0, 1], `channels` (1 grey, 3 RGB) interleaved.
/// MONOCHROME1 is already inverted (1 = white); the window has been applied.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<f32>,
}

/// Decodes the first frame of a DICOM file for training.
pub fn decode_for_training(path: &Path, window: &WindowSpec) -> Result<DecodedImage, DicomError> {
    decode_frame_for_training(path, 0, window)
}

/// Decodes one frame (0-based) of a DICOM file for training; only that frame is decompressed.
pub fn decode_frame_for_training(
    path: &Path,
    frame: u32,
    window: &WindowSpec,
) -> Result<DecodedImage, DicomError> {
    let image = DicomImage::open(path, FrameSelection::One(frame))?;
    Ok(decoded_frame(&image, 0, window))
}

/// Number of frames of a DICOM file (reads the header only), to expand a multi-frame file
/// into one sample per frame.
pub fn frame_count(path: &Path) -> Result<u32, DicomError> {
    let object = open_object(path, true)?;
    Ok(frames_in_object(&object))
}

/// One held frame of an already decoded image as display values.
pub fn decoded_frame(image: &DicomImage, frame: usize, window: &WindowSpec) -> DecodedImage {
    let pixels = display_frame(image, frame, window);
    let channels = if image.palette.is_some() {
        3
    } else {
        image.samples_per_pixel as u8
    };
    DecodedImage {
        width: image.cols,
        height: image.rows,
        channels,
        pixels,
    }
}

/// Whether a path looks like a DICOM file: `.dcm`/`.dicom` extension or the `DICM` magic
/// at byte 128 (PACS exports often have no extension).
pub fn is_dicom_file(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(ext.as_deref(), Some("dcm" | "dicom")) {
        return true;
    }
    use std::io::Read;
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head[128..132] == b"DICM")
        .unwrap_or(false)
}
