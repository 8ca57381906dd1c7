//! `.npz` output: a zip of `.npy` arrays (numpy's format), written atomically.

use std::io::Write;
use std::path::Path;

use crate::atomic_write::write_atomically;
use crate::error::DicomError;

/// A float32 array in C order with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyF32 {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The bytes of a version-1.0 `.npy` file holding `array`.
pub fn npy_bytes(array: &NpyF32) -> Vec<u8> {
    let shape = match array.shape.len() {
        1 => format!("({},)", array.shape[0]),
        _ => format!(
            "({})",
            array
                .shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + newline must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + array.values.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &array.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes `arrays` (name without `.npy`, array) as a deflate-compressed `.npz`.
pub fn write_npz(path: &Path, arrays: &[(&str, &NpyF32)]) -> Result<(), DicomError> {
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut zipped);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(
                arrays
                    .iter()
                    .any(|(_, a)| a.values.len() * 4 > u32::MAX as usize / 2),
            );
        for (name, array) in arrays {
            let fail = |e: zip::result::ZipError| DicomError::Write {
                path: path.into(),
                message: e.to_string(),
            };
            zip.start_file(format!("{name}.npy"), options)
                .map_err(fail)?;
            zip.write_all(&npy_bytes(array))
                .map_err(|e| DicomError::Write {
                    path: path.into(),
                    message: e.to_string(),
                })?;
        }
        zip.finish().map_err(|e| DicomError::Write {
            path: path.into(),
            message: e.to_string(),
        })?;
    }
    let bytes = zipped.into_inner();
    write_atomically(path, |w| w.write_all(&bytes).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_padded_to_64_bytes() {
        let bytes = npy_bytes(&NpyF32 {
            shape: vec![2, 3],
            values: vec![0.0; 6],
        });
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 24);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2, 3)"), "{header}");
    }
}
