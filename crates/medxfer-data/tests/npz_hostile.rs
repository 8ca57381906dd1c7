//! Corrupt `.npz` files found by fuzzing (fuzz/npz): each is a one-line error naming the
//! file, never a panic or an allocation sized by a declared number.

use std::io::Write;

use medxfer_data::npy::{read_header, write_npy};
use medxfer_data::npz::NpzImages;
use medxfer_data::{Dataset, DatasetSource};

fn write_zip(path: &std::path::Path, members: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in members {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn a_huge_label_without_a_class_list_is_an_error_not_billions_of_classes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.npz");
    let labels: Vec<u8> = [0i64, i64::MAX]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_zip(
        &path,
        &[
            ("train_images.npy", write_npy("|u1", &[2, 1, 1], &[0, 1])),
            ("train_labels.npy", write_npy("<i8", &[2], &labels)),
        ],
    );
    let source = DatasetSource::Npz {
        path: path.clone(),
        classes: None,
    };
    let err = Dataset::load(&source).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: array 'train_labels'[1] = {} is above 65535, the largest class index accepted without a configured class list",
            path.display(),
            i64::MAX
        )
    );
    // The largest accepted index still loads.
    let labels: Vec<u8> = [0i64, 65535].iter().flat_map(|v| v.to_le_bytes()).collect();
    write_zip(
        &path,
        &[
            ("train_images.npy", write_npy("|u1", &[2, 1, 1], &[0, 1])),
            ("train_labels.npy", write_npy("<i8", &[2], &labels)),
        ],
    );
    assert_eq!(Dataset::load(&source).unwrap().class_names.len(), 65536);
}

#[test]
fn a_shape_whose_element_count_overflows_is_refused() {
    let huge = 1usize << 32;
    let npy = write_npy("|u1", &[huge, huge, 2], &[]);
    let err = read_header(&mut npy.as_slice()).unwrap_err();
    assert!(err.contains("more elements than memory can hold"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shape.npz");
    write_zip(&path, &[("train_images.npy", npy)]);
    let err = NpzImages::read(&path, "train_images")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&path.display().to_string()) && err.contains("more elements"),
        "{err}"
    );
}

#[test]
fn a_dtype_starting_with_a_multibyte_character_is_an_error() {
    for descr in ["\u{e9}u1", "\u{fffd} 1", "\u{e9}", "xu1"] {
        let npy = write_npy(descr, &[1], &[0]);
        let err = read_header(&mut npy.as_slice()).unwrap_err();
        assert!(
            err.contains("no byte order") || err.contains("is not supported"),
            "{descr}: {err}"
        );
    }
    for descr in ["<u1", "|u1", "=u1"] {
        let npy = write_npy(descr, &[1], &[0]);
        assert!(read_header(&mut npy.as_slice()).is_ok(), "{descr}");
    }
}
