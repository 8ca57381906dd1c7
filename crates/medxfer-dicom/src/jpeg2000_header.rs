//! JPEG 2000 and JPEG pixel data are checked before dicom-rs decodes them: its adapters write
//! every decoded sample into a buffer sized by Rows x Columns x Samples per Pixel, and panic
//! when the stream's own size (JPEG 2000's SIZ marker, JPEG's SOF) is larger (fuzz/dicom).

use std::path::Path;

use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::error::DicomError;

/// JPEG 2000 (lossless and lossy), and High-Throughput JPEG 2000.
pub fn is_jpeg2000(syntax_uid: &str) -> bool {
    matches!(
        syntax_uid,
        "1.2.840.10008.1.2.4.90"
            | "1.2.840.10008.1.2.4.91"
            | "1.2.840.10008.1.2.4.201"
            | "1.2.840.10008.1.2.4.202"
            | "1.2.840.10008.1.2.4.203"
    )
}

/// Image size and component count from a codestream's SIZ marker.
#[derive(Debug, PartialEq)]
struct Siz {
    width: u64,
    height: u64,
    components: u64,
}

/// Every frame whose first fragment starts a codestream declares at most Rows x Columns
/// pixels and Samples per Pixel components.
pub fn check_jpeg2000_frames(path: &Path, object: &InMemDicomObject) -> Result<(), DicomError> {
    check_fragments(path, object, "JPEG 2000", |fragment| {
        codestream(fragment).and_then(read_siz)
    })
}

/// Each fragment whose header `read` can read must fit Rows x Columns x Samples per Pixel.
fn check_fragments(
    path: &Path,
    object: &InMemDicomObject,
    codec: &str,
    read: impl Fn(&[u8]) -> Option<Siz>,
) -> Result<(), DicomError> {
    let number = |tag| {
        object
            .element(tag)
            .ok()
            .and_then(|e| e.to_int::<u64>().ok())
            .unwrap_or(0)
    };
    let (rows, cols) = (number(tags::ROWS), number(tags::COLUMNS));
    let samples = number(tags::SAMPLES_PER_PIXEL).max(1);
    let Some(Value::PixelSequence(sequence)) =
        object.element(tags::PIXEL_DATA).ok().map(|e| e.value())
    else {
        return Ok(());
    };
    for (index, fragment) in sequence.fragments().iter().enumerate() {
        let Some(siz) = read(fragment) else {
            continue;
        };
        if siz.width * siz.height > rows * cols || siz.components > samples {
            return Err(DicomError::InvalidAttribute {
                path: path.into(),
                message: format!(
                    "{codec} fragment {index} holds a {} x {} image of {} component(s), but Rows x Columns is {rows} x {cols} with {samples} sample(s) per pixel",
                    siz.width, siz.height, siz.components
                ),
            });
        }
    }
    Ok(())
}

/// The codestream of a fragment: itself (it starts with SOC, FF4F), or the `jp2c` box of a
/// JP2 file; None for a fragment that continues an earlier one.
fn codestream(fragment: &[u8]) -> Option<&[u8]> {
    if fragment.starts_with(&[0xFF, 0x4F]) {
        return Some(fragment);
    }
    let mut at = 0usize;
    while at + 8 <= fragment.len() {
        let size = u32::from_be_bytes(fragment[at..at + 4].try_into().ok()?) as usize;
        let kind = &fragment[at + 4..at + 8];
        if kind == b"jp2c" {
            return fragment.get(at + 8..);
        }
        if size < 8 {
            return None;
        }
        at = at.checked_add(size)?;
    }
    None
}

/// SIZ directly follows SOC: Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, ... , Csiz.
fn read_siz(stream: &[u8]) -> Option<Siz> {
    if stream.get(2..4)? != [0xFF, 0x51] {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            stream.get(at..at + 4)?.try_into().ok()?,
        )))
    };
    let (x, y, x0, y0) = (word(8)?, word(12)?, word(16)?, word(20)?);
    let components = u64::from(u16::from_be_bytes(stream.get(40..42)?.try_into().ok()?));
    Some(Siz {
        width: x.saturating_sub(x0),
        height: y.saturating_sub(y0),
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siz_stream(width: u32, height: u32, components: u16) -> Vec<u8> {
        let mut s = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [width, height, 0, 0, width, height, 0, 0] {
            s.extend_from_slice(&v.to_be_bytes());
        }
        s.extend_from_slice(&components.to_be_bytes());
        s
    }

    #[test]
    fn siz_is_read_from_a_codestream_and_from_a_jp2_box() {
        let stream = siz_stream(512, 256, 3);
        let expected = Siz {
            width: 512,
            height: 256,
            components: 3,
        };
        assert_eq!(codestream(&stream).and_then(read_siz), Some(expected));
        let mut jp2 = Vec::new();
        jp2.extend_from_slice(&12u32.to_be_bytes());
        jp2.extend_from_slice(b"jP  \r\n\x87\n");
        jp2.extend_from_slice(&((stream.len() + 8) as u32).to_be_bytes());
        jp2.extend_from_slice(b"jp2c");
        jp2.extend_from_slice(&stream);
        assert_eq!(
            codestream(&jp2).and_then(read_siz).map(|s| s.width),
            Some(512)
        );
        assert_eq!(codestream(&[1, 2, 3]), None);
    }
}

/// JPEG (baseline, extended, lossless: PS3.5 A.4.1-A.4.3).
pub fn is_jpeg(syntax_uid: &str) -> bool {
    matches!(
        syntax_uid,
        "1.2.840.10008.1.2.4.50"
            | "1.2.840.10008.1.2.4.51"
            | "1.2.840.10008.1.2.4.57"
            | "1.2.840.10008.1.2.4.70"
    )
}

/// Image size and component count from the first SOF marker of a JPEG stream (SOI first).
fn read_jpeg_sof(stream: &[u8]) -> Option<Siz> {
    if !stream.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2usize;
    while at + 4 <= stream.len() {
        if stream[at] != 0xFF {
            return None;
        }
        let marker = stream[at + 1];
        let length = usize::from(u16::from_be_bytes([stream[at + 2], stream[at + 3]]));
        let is_sof = matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
        if is_sof {
            let segment = stream.get(at + 4..at + 2 + length)?;
            let height = u64::from(u16::from_be_bytes([*segment.get(1)?, *segment.get(2)?]));
            let width = u64::from(u16::from_be_bytes([*segment.get(3)?, *segment.get(4)?]));
            let components = u64::from(*segment.get(5)?);
            return Some(Siz {
                width,
                height,
                components,
            });
        }
        at = at.checked_add(2 + length)?;
    }
    None
}

/// Every fragment that starts a JPEG stream declares at most Rows x Columns pixels and
/// Samples per Pixel components: dicom-rs's JPEG adapter copies the decoded frame into a
/// buffer of that size and panicked on a larger one (found by fuzz/dicom).
pub fn check_jpeg_frames(path: &Path, object: &InMemDicomObject) -> Result<(), DicomError> {
    check_fragments(path, object, "JPEG", read_jpeg_sof)
}
