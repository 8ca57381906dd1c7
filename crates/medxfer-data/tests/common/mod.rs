//! Fixture writers shared by the integration tests (everything is written at run time).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use medxfer_data::npy::write_npy;

pub fn gray8(path: &Path, width: u32, height: u32, f: impl Fn(u32, u32) -> u8) {
    ImageBuffer::from_fn(width, height, |x, y| Luma([f(x, y)]))
        .save(path)
        .unwrap();
}

pub fn gray16(path: &Path, width: u32, height: u32, f: impl Fn(u32, u32) -> u16) {
    ImageBuffer::from_fn(width, height, |x, y| Luma([f(x, y)]))
        .save(path)
        .unwrap();
}

pub fn gray_alpha8(path: &Path, width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 2]) {
    ImageBuffer::from_fn(width, height, |x, y| LumaA(f(x, y)))
        .save(path)
        .unwrap();
}

pub fn rgb8(path: &Path, width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    ImageBuffer::from_fn(width, height, |x, y| Rgb(f(x, y)))
        .save(path)
        .unwrap();
}

pub fn rgba8(path: &Path, width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 4]) {
    ImageBuffer::from_fn(width, height, |x, y| Rgba(f(x, y)))
        .save(path)
        .unwrap();
}

/// A PNG cut off in the middle of its image data.
pub fn truncated_png(path: &Path) {
    let full = path.with_file_name("complete-before-truncation.png");
    gray8(&full, 64, 64, |x, y| ((x * 7 + y * 13) % 256) as u8);
    let bytes = std::fs::read(&full).unwrap();
    std::fs::remove_file(&full).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

/// A MedMNIST-like npz: per split `(name, images N x side x side, labels, labels_as_column)`.
pub fn npz(path: &Path, side: usize, splits: &[(&str, Vec<u8>, Vec<u8>, bool)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (split, images, labels, column) in splits {
        let n = labels.len();
        assert_eq!(images.len(), n * side * side);
        zip.start_file(format!("{split}_images.npy"), options)
            .unwrap();
        zip.write_all(&write_npy("|u1", &[n, side, side], images))
            .unwrap();
        let label_shape: Vec<usize> = if *column { vec![n, 1] } else { vec![n] };
        zip.start_file(format!("{split}_labels.npy"), options)
            .unwrap();
        zip.write_all(&write_npy("|u1", &label_shape, labels))
            .unwrap();
    }
    zip.finish().unwrap();
}

/// Root of the shared data sets (BUSI, MedMNIST) when present.
pub fn shared_data_dir(name: &str) -> Option<PathBuf> {
    let base = std::env::var_os("MEDXFER_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data"));
    let dir = base.join(name);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: shared data set '{name}' not found at {}",
            dir.display()
        );
        None
    }
}
