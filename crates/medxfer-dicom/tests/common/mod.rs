//! Shared helpers of the integration tests: locating the test-file cache, reading .npy.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `$MEDXFER_CACHE`, else `<workspace root>/.cache`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("MEDXFER_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"),
    }
}

/// The `key=path` lines written by `.ci/setup.d/30-dicom-test-files.sh`, or None (SKIP).
pub fn test_file_locations() -> Option<HashMap<String, PathBuf>> {
    let list = cache_dir().join("dicom-test-files.txt");
    let Ok(text) = std::fs::read_to_string(&list) else {
        eprintln!(
            "SKIP: DICOM test files not found at {} (run .ci/setup.d/30-dicom-test-files.sh)",
            list.display()
        );
        return None;
    };
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect(),
    )
}

/// A file of pydicom's test_files (`pydicom_test_files`) or pydicom-data (`pydicom_data`).
pub fn test_file(source: &str, name: &str) -> Option<PathBuf> {
    let path = test_file_locations()?.get(source)?.join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIP: {} not found", path.display());
        None
    }
}

/// A numpy array: shape plus raw little/big-endian data, read element by element as f64.
pub struct NpyArray {
    pub shape: Vec<usize>,
    kind: Kind,
    big: bool,
    data: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Kind {
    U1,
    I1,
    U2,
    I2,
    U4,
    I4,
    U8,
    I8,
    F4,
    F8,
}

impl NpyArray {
    /// The data as bytes when the dtype is uint8.
    pub fn as_u8(&self) -> Option<&[u8]> {
        matches!(self.kind, Kind::U1).then(|| &self.data[..self.len()])
    }

    /// Whether the array has numpy dtype `descr` (e.g. "u2") in little-endian order and
    /// exactly the bytes `native` (our samples, on a little-endian machine): a fast path so
    /// that large identical arrays are not compared element by element.
    pub fn same_bytes(&self, descr: &str, native: &[u8]) -> bool {
        let kind_matches = matches!(
            (self.kind, descr),
            (Kind::U1, "u1")
                | (Kind::U2, "u2")
                | (Kind::I2, "i2")
                | (Kind::U4, "u4")
                | (Kind::I4, "i4")
        );
        cfg!(target_endian = "little")
            && !self.big
            && kind_matches
            && self.data.len() >= native.len()
            && self.data[..native.len()] == *native
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        macro_rules! at {
            ($t:ty, $n:expr) => {{
                let arr: [u8; $n] = self.data[i * $n..(i + 1) * $n].try_into().unwrap();
                (if self.big {
                    <$t>::from_be_bytes(arr)
                } else {
                    <$t>::from_le_bytes(arr)
                }) as f64
            }};
        }
        match self.kind {
            Kind::U1 => self.data[i] as f64,
            Kind::I1 => self.data[i] as i8 as f64,
            Kind::U2 => at!(u16, 2),
            Kind::I2 => at!(i16, 2),
            Kind::U4 => at!(u32, 4),
            Kind::I4 => at!(i32, 4),
            Kind::U8 => at!(u64, 8),
            Kind::I8 => at!(i64, 8),
            Kind::F4 => at!(f32, 4),
            Kind::F8 => at!(f64, 8),
        }
    }
}

/// Reads a C-order .npy file of (u)int8/16/32/64 or float32/64, either byte order.
pub fn read_npy(path: &Path) -> Result<NpyArray, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(format!("{}: not an .npy file", path.display()));
    }
    let (header_len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header =
        std::str::from_utf8(&bytes[start..start + header_len]).map_err(|e| e.to_string())?;
    let field = |name: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{name}':"))
            .ok_or(format!("npy header lacks {name}: {header}"))?;
        Ok(header[at + name.len() + 3..].trim_start())
    };
    if field("fortran_order")?.starts_with("True") {
        return Err("fortran-order npy not supported".into());
    }
    let descr = field("descr")?;
    let descr = &descr[1..descr[1..].find('\'').ok_or("bad descr")? + 1];
    let shape_text = field("shape")?;
    let shape_text = &shape_text[1..shape_text.find(')').ok_or("bad shape")?];
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let (kind, width) = match &descr[1..] {
        "u1" | "b1" => (Kind::U1, 1),
        "i1" => (Kind::I1, 1),
        "u2" => (Kind::U2, 2),
        "i2" => (Kind::I2, 2),
        "u4" => (Kind::U4, 4),
        "i4" => (Kind::I4, 4),
        "f4" => (Kind::F4, 4),
        "u8" => (Kind::U8, 8),
        "i8" => (Kind::I8, 8),
        "f8" => (Kind::F8, 8),
        other => return Err(format!("npy dtype {other} not supported")),
    };
    let data = bytes[start + header_len..].to_vec();
    let n: usize = shape.iter().product();
    if data.len() < n * width {
        return Err(format!(
            "{}: npy data shorter than its shape",
            path.display()
        ));
    }
    Ok(NpyArray {
        shape,
        big: descr.starts_with('>'),
        kind,
        data,
    })
}

/// A small synthetic 8-bit MONOCHROME2 CT image (Explicit VR Little Endian) with `extra`
/// attributes, as a complete DICOM file: tests build hostile or identifying inputs from it.
pub fn synthetic_dicom(
    rows: u16,
    cols: u16,
    extra: Vec<dicom_object::mem::InMemElement>,
) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    let sop_class = "1.2.840.10008.5.1.4.1.1.2";
    let sop_instance = "1.2.826.0.1.3680043.9.7777.1.1";
    let pixels: Vec<u8> = (0..rows as usize * cols as usize)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let mut object = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, PrimitiveValue::from(sop_class)),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(sop_instance),
        ),
        DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("CT")),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1_u16)),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(rows)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(cols)),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(8_u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(8_u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(7_u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0_u16),
        ),
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(pixels)),
    ]);
    for element in extra {
        object.put(element);
    }
    let file = object
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid(sop_class)
                .media_storage_sop_instance_uid(sop_instance),
        )
        .unwrap();
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).unwrap();
    bytes
}

/// `bytes` with the explicit-VR Pixel Data header's 32-bit length replaced by `length`.
pub fn with_pixel_data_length(mut bytes: Vec<u8>, length: u32) -> Vec<u8> {
    let header = [0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0];
    let at = bytes
        .windows(header.len())
        .rposition(|w| w == header)
        .expect("an OB Pixel Data header");
    bytes[at + 8..at + 12].copy_from_slice(&length.to_le_bytes());
    bytes
}
