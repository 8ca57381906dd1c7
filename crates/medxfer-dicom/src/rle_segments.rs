//! RLE Lossless (PS3.5 Annex G) pixel data is checked before dicom-rs decodes it: its decoder
//! indexes past a segment that decodes to fewer than Rows x Columns bytes and panics (found
//! by fuzz/dicom). Each segment's PackBits stream is measured without decoding it.

use std::path::Path;

use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::error::DicomError;

pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Every fragment's segments (at most 15, inside the fragment) decode to at least
/// Rows x Columns bytes.
pub fn check_rle_segments(path: &Path, object: &InMemDicomObject) -> Result<(), DicomError> {
    let fail = |message: String| DicomError::InvalidAttribute {
        path: path.into(),
        message,
    };
    let number = |tag| {
        object
            .element(tag)
            .ok()
            .and_then(|e| e.to_int::<u64>().ok())
            .unwrap_or(0)
    };
    let needed = number(tags::ROWS).saturating_mul(number(tags::COLUMNS));
    let Some(Value::PixelSequence(sequence)) =
        object.element(tags::PIXEL_DATA).ok().map(|e| e.value())
    else {
        return Ok(());
    };
    for (frame, fragment) in sequence.fragments().iter().enumerate() {
        let offsets = segment_offsets(fragment)
            .ok_or_else(|| fail(format!("RLE frame {frame}: the 64-byte segment header is missing or lists more than 15 segments")))?;
        for (k, window) in offsets.windows(2).enumerate() {
            let (start, end) = (window[0] as usize, window[1] as usize);
            let Some(segment) = fragment.get(start..end) else {
                return Err(fail(format!(
                    "RLE frame {frame}, segment {k}: offsets {start}..{end} lie outside its {} bytes",
                    fragment.len()
                )));
            };
            let decoded = packbits_length(segment, needed);
            if decoded < needed {
                return Err(fail(format!(
                    "RLE frame {frame}, segment {k} decodes to {decoded} bytes but Rows x Columns is {needed}: truncated or corrupt"
                )));
            }
        }
    }
    Ok(())
}

/// The header's segment offsets followed by the fragment's end; None for a malformed header.
fn segment_offsets(fragment: &[u8]) -> Option<Vec<u32>> {
    let word = |i: usize| -> Option<u32> {
        let bytes = fragment.get(4 * i..4 * i + 4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    };
    let count = word(0)? as usize;
    if count > 15 || fragment.len() < 64 {
        return None;
    }
    let mut offsets: Vec<u32> = (1..=count).map(word).collect::<Option<_>>()?;
    offsets.push(u32::try_from(fragment.len()).ok()?);
    Some(offsets)
}

/// Bytes a PackBits stream decodes to, counting no further than `limit`.
fn packbits_length(stream: &[u8], limit: u64) -> u64 {
    let (mut at, mut out) = (0usize, 0u64);
    while at < stream.len() && out < limit {
        let header = stream[at] as i8;
        match header {
            0..=127 => {
                let literal = header as usize + 1;
                let available = stream.len().saturating_sub(at + 1).min(literal);
                out += available as u64;
                at += 1 + literal;
            }
            -127..=-1 => {
                if at + 1 < stream.len() {
                    out += (1 - i64::from(header)) as u64;
                }
                at += 2;
            }
            // -128 is a no-op.
            _ => at += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_lengths_follow_the_format() {
        // 3 literal bytes, then a run of 4, then a no-op.
        assert_eq!(packbits_length(&[2, 10, 11, 12, 0xFD, 7, 0x80], 100), 7);
        // A literal cut short counts only what is there.
        assert_eq!(packbits_length(&[5, 1, 2], 100), 2);
        // A run without its byte counts nothing.
        assert_eq!(packbits_length(&[0xFF], 100), 0);
        // Counting stops at the limit.
        assert!(packbits_length(&[0x81; 64], 10) >= 10);
    }

    #[test]
    fn segment_headers_are_checked() {
        let mut fragment = vec![0u8; 70];
        fragment[0] = 1;
        fragment[4] = 64;
        assert_eq!(segment_offsets(&fragment), Some(vec![64, 70]));
        fragment[0] = 16;
        assert_eq!(segment_offsets(&fragment), None);
        assert_eq!(segment_offsets(&[1, 0, 0, 0]), None);
    }
}
