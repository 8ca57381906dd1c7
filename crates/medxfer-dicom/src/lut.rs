//! Lookup tables: Modality LUT, VOI LUT and the palette of PALETTE COLOR images.

use std::path::Path;

use dicom_core::{PrimitiveValue, Tag};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::error::DicomError;

/// A table mapping input values `first_mapped..first_mapped + len` to entries of `bits` bits;
/// inputs below or above take the first or last entry (PS3.3 C.11.1 / C.11.2).
#[derive(Debug, Clone, PartialEq)]
pub struct LookupTable {
    pub first_mapped: i64,
    pub bits: u8,
    pub data: Vec<u16>,
}

impl LookupTable {
    #[inline]
    pub fn lookup(&self, value: i64) -> u16 {
        let last = self.data.len() as i64 - 1;
        let index = (value - self.first_mapped).clamp(0, last.max(0));
        self.data.get(index as usize).copied().unwrap_or(0)
    }

    /// Largest value an entry can hold (`2^bits - 1`).
    pub fn max_entry(&self) -> f64 {
        ((1u32 << self.bits.clamp(1, 16)) - 1) as f64
    }

    /// The first item of the VOI LUT Sequence (0028,3010), if present.
    pub fn voi_from_object(
        path: &Path,
        object: &InMemDicomObject,
        big_endian: bool,
    ) -> Result<Option<LookupTable>, DicomError> {
        let Some(item) = object
            .get(tags::VOILUT_SEQUENCE)
            .and_then(|e| e.items())
            .and_then(|items| items.first())
        else {
            return Ok(None);
        };
        read_table(
            path,
            item,
            tags::LUT_DESCRIPTOR,
            tags::LUT_DATA,
            "VOI LUT",
            big_endian,
        )
        .map(Some)
    }

    /// The first item of the Modality LUT Sequence (0028,3000), if present.
    pub fn modality_from_object(
        path: &Path,
        object: &InMemDicomObject,
        big_endian: bool,
    ) -> Result<Option<LookupTable>, DicomError> {
        let Some(item) = object
            .get(tags::MODALITY_LUT_SEQUENCE)
            .and_then(|e| e.items())
            .and_then(|items| items.first())
        else {
            return Ok(None);
        };
        read_table(
            path,
            item,
            tags::LUT_DESCRIPTOR,
            tags::LUT_DATA,
            "Modality LUT",
            big_endian,
        )
        .map(Some)
    }
}

/// Red, green and blue tables of a PALETTE COLOR image.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub red: LookupTable,
    pub green: LookupTable,
    pub blue: LookupTable,
}

impl Palette {
    pub fn from_object(
        path: &Path,
        object: &InMemDicomObject,
        big_endian: bool,
    ) -> Result<Palette, DicomError> {
        if object
            .get(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA)
            .is_none()
            && object
                .get(tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA)
                .is_some()
        {
            let table = |descriptor, data, what| {
                read_segmented_table(path, object, descriptor, data, what, big_endian)
            };
            return Ok(Palette {
                red: table(
                    tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                    tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                    "red palette",
                )?,
                green: table(
                    tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                    tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                    "green palette",
                )?,
                blue: table(
                    tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                    tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                    "blue palette",
                )?,
            });
        }
        Ok(Palette {
            red: read_table(
                path,
                object,
                tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                "red palette",
                big_endian,
            )?,
            green: read_table(
                path,
                object,
                tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                "green palette",
                big_endian,
            )?,
            blue: read_table(
                path,
                object,
                tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                "blue palette",
                big_endian,
            )?,
        })
    }
}

/// Reads a LUT Descriptor (entries, first mapped value, bits per entry) and its data.
fn read_table(
    path: &Path,
    object: &InMemDicomObject,
    descriptor_tag: Tag,
    data_tag: Tag,
    what: &str,
    big_endian: bool,
) -> Result<LookupTable, DicomError> {
    let invalid = |message: String| DicomError::InvalidAttribute {
        path: path.into(),
        message: format!("{what}: {message}"),
    };
    let (entries, first, bits) = read_descriptor(path, object, descriptor_tag, what)?;
    let element = object
        .get(data_tag)
        .ok_or_else(|| invalid("no LUT Data".into()))?;
    let data = read_words(element, entries, bits, big_endian)
        .map_err(|e| invalid(format!("unreadable LUT Data: {e}")))?;
    if data.len() < entries {
        return Err(invalid(format!(
            "LUT Data holds {} entries, descriptor says {entries}",
            data.len()
        )));
    }
    Ok(LookupTable {
        first_mapped: first,
        bits,
        data: data[..entries].to_vec(),
    })
}

/// A Segmented Palette Color LUT (PS3.3 C.7.9.2): discrete and linear segments.
fn read_segmented_table(
    path: &Path,
    object: &InMemDicomObject,
    descriptor_tag: Tag,
    data_tag: Tag,
    what: &str,
    big_endian: bool,
) -> Result<LookupTable, DicomError> {
    let invalid = |message: String| DicomError::InvalidAttribute {
        path: path.into(),
        message: format!("{what}: {message}"),
    };
    let (entries, first, bits) = read_descriptor(path, object, descriptor_tag, what)?;
    let element = object
        .get(data_tag)
        .ok_or_else(|| invalid("no segmented LUT Data".into()))?;
    // Segment words are 16-bit for 16-bit tables; 8-bit tables use bytes.
    let words: Vec<u16> = if bits == 8 {
        element
            .to_bytes()
            .map_err(|e| invalid(format!("unreadable segmented LUT Data: {e}")))?
            .iter()
            .map(|&b| b as u16)
            .collect()
    } else {
        read_words(element, usize::MAX, bits, big_endian)
            .map_err(|e| invalid(format!("unreadable segmented LUT Data: {e}")))?
    };
    let mut data: Vec<u16> = Vec::with_capacity(entries);
    let mut at = 0;
    while at + 1 < words.len() {
        let (opcode, length) = (words[at], words[at + 1] as usize);
        at += 2;
        match opcode {
            0 => {
                let end = (at + length).min(words.len());
                data.extend(&words[at..end]);
                at = end;
            }
            1 => {
                let (Some(&y0), Some(&y1)) = (data.last(), words.get(at)) else {
                    return Err(invalid("linear segment without a previous value".into()));
                };
                at += 1;
                let step = (y1 as f64 - y0 as f64) / length.max(1) as f64;
                // Round half to even, like numpy's `around` in pydicom's expansion.
                data.extend(
                    (1..=length).map(|i| (y0 as f64 + step * i as f64).round_ties_even() as u16),
                );
            }
            other => {
                return Err(invalid(format!(
                    "segment type {other} (indirect) is not supported"
                )));
            }
        }
    }
    if data.len() < entries {
        return Err(invalid(format!(
            "segmented LUT expands to {} entries, descriptor says {entries}",
            data.len()
        )));
    }
    data.truncate(entries);
    Ok(LookupTable {
        first_mapped: first,
        bits,
        data,
    })
}

/// LUT Descriptor: (entries, first mapped value, bits per entry).
fn read_descriptor(
    path: &Path,
    object: &InMemDicomObject,
    descriptor_tag: Tag,
    what: &str,
) -> Result<(usize, i64, u8), DicomError> {
    let invalid = |message: String| DicomError::InvalidAttribute {
        path: path.into(),
        message: format!("{what}: {message}"),
    };
    let descriptor: Vec<i64> = object
        .get(descriptor_tag)
        .ok_or_else(|| invalid("no LUT Descriptor".into()))?
        .to_multi_int::<i64>()
        .map_err(|e| invalid(format!("unreadable LUT Descriptor: {e}")))?;
    let [entries, first, bits] = descriptor[..] else {
        return Err(invalid(format!(
            "LUT Descriptor has {} values, expected 3",
            descriptor.len()
        )));
    };
    let entries = if entries == 0 {
        65536
    } else {
        entries as usize
    };
    if !(1..=16).contains(&bits) {
        return Err(invalid(format!(
            "LUT entry size {bits} bits (expected 1..=16)"
        )));
    }
    // A first-mapped value in an unsigned descriptor may stand for a negative one.
    let first = if first > 32767 && descriptor_is_signed_context(object) {
        first - 65536
    } else {
        first
    };
    Ok((entries, first, bits as u8))
}

/// LUT data words, whatever VR dicom-rs gave them; `entries` tells packed 8-bit tables.
fn read_words(
    element: &dicom_object::mem::InMemElement,
    entries: usize,
    bits: u8,
    big_endian: bool,
) -> Result<Vec<u16>, String> {
    Ok(match element.value().primitive() {
        Some(PrimitiveValue::U16(words)) if bits == 8 && words.len() * 2 == entries => {
            // 8-bit tables may pack two entries per 16-bit word (first entry in the low byte).
            words.iter().flat_map(|w| [w & 0xFF, w >> 8]).collect()
        }
        Some(PrimitiveValue::U16(words)) => words.to_vec(),
        Some(PrimitiveValue::I16(words)) => words.iter().map(|&w| w as u16).collect(),
        Some(PrimitiveValue::U8(bytes)) if bytes.len() == entries => {
            bytes.iter().map(|&b| b as u16).collect()
        }
        Some(PrimitiveValue::U8(bytes)) => bytes
            .chunks_exact(2)
            .map(|c| {
                // Raw OW bytes keep the transfer syntax's byte order.
                if big_endian {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect(),
        _ => element.to_multi_int::<u16>().map_err(|e| e.to_string())?,
    })
}

fn descriptor_is_signed_context(object: &InMemDicomObject) -> bool {
    object
        .get(tags::PIXEL_REPRESENTATION)
        .and_then(|e| e.to_int::<u16>().ok())
        == Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_table_take_the_end_entries() {
        let lut = LookupTable {
            first_mapped: -2,
            bits: 8,
            data: vec![10, 20, 30],
        };
        assert_eq!(lut.lookup(-100), 10);
        assert_eq!(lut.lookup(-1), 20);
        assert_eq!(lut.lookup(500), 30);
        assert_eq!(lut.max_entry(), 255.0);
    }
}
