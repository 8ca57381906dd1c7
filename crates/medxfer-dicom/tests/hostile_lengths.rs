//! A small file whose Pixel Data declares 0xFFFFFFF0 bytes must be refused with a one-line
//! error naming the file, by every entry point, before anything allocates the declared size
//! (dicom-rs zero-fills a value's declared length before reading it).

mod common;

use std::path::PathBuf;

use medxfer_dicom::convert::{ConvertFormat, ConvertOptions, FrameChoice, convert};
use medxfer_dicom::deid::{DeidOptions, deidentify};
use medxfer_dicom::png_out::PngDepth;
use medxfer_dicom::{
    DicomImage, FrameSelection, Pseudonymizer, WindowSpec, decode_for_training, frame_count,
};

const FORGED: u32 = 0xFFFF_FFF0;

/// A 140 x 140 image (about 20 KB) whose Pixel Data header declares 4294967280 bytes.
fn forged_file(dir: &std::path::Path) -> PathBuf {
    let bytes = common::with_pixel_data_length(common::synthetic_dicom(140, 140, vec![]), FORGED);
    let path = dir.join("forged.dcm");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn assert_refused(message: &str) {
    assert!(message.contains("forged.dcm"), "{message}");
    assert!(
        message.contains("PixelData (7FE0,0010) declares 4294967280 bytes but the file has 19 KB"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn forged_pixel_data_length_is_refused_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = forged_file(dir.path());
    let err = DicomImage::open(&path, FrameSelection::All).unwrap_err();
    assert_refused(&err.to_string());
    let err = decode_for_training(&path, &WindowSpec::Auto).unwrap_err();
    assert_refused(&err.to_string());
    // The header-only scan refuses it too: the file is broken for training either way.
    let err = frame_count(&path).unwrap_err();
    assert_refused(&err.to_string());
}

#[test]
fn forged_pixel_data_length_is_skipped_by_convert_and_deid() {
    let dir = tempfile::tempdir().unwrap();
    let path = forged_file(dir.path());
    let options = ConvertOptions {
        format: ConvertFormat::Png(PngDepth::Eight),
        window: WindowSpec::Auto,
        frames: FrameChoice::All,
        nifti_axis: 2,
        mask_suffix: None,
        labels: None,
        pseudonyms: Pseudonymizer::new("salt"),
    };
    let summary = convert(
        std::slice::from_ref(&path),
        &dir.path().join("png"),
        &options,
    )
    .unwrap();
    assert_eq!(summary.converted_files, 0);
    assert_refused(&summary.skipped[0].to_string());

    let options = DeidOptions {
        pseudonyms: Pseudonymizer::new("salt"),
        keep_names: false,
        allow_burned_in: false,
        reject_likely_burned_in: false,
    };
    let summary = deidentify(&[path], &dir.path().join("deid"), &options).unwrap();
    assert!(summary.written.is_empty());
    assert_refused(&summary.skipped[0].to_string());
}

#[test]
fn honest_file_of_the_same_shape_still_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("honest.dcm");
    std::fs::write(&path, common::synthetic_dicom(140, 140, vec![])).unwrap();
    let image = DicomImage::open(&path, FrameSelection::All).unwrap();
    assert_eq!((image.rows, image.cols), (140, 140));
    assert_eq!(frame_count(&path).unwrap(), 1);
}

/// RLE Lossless pixel data (one tiny fragment) declaring `rows` x `cols`: compressed data can
/// decode to far more than the file holds, so the declared dimensions decide the buffer.
fn forged_rle_file(dir: &std::path::Path, rows: u16, cols: u16) -> PathBuf {
    use dicom_core::value::{PixelFragmentSequence, Value};
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;

    let bytes = common::synthetic_dicom(4, 4, vec![]);
    let object = dicom_object::from_reader(&bytes[128..]).unwrap();
    let mut meta = object.meta().clone();
    meta.transfer_syntax = "1.2.840.10008.1.2.5".into();
    let mut object = object.into_inner();
    object.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(rows),
    ));
    object.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(cols),
    ));
    // An RLE header declaring one segment, then a few literal bytes.
    let mut fragment = vec![0u8; 64];
    fragment[0] = 1;
    fragment[4] = 64;
    fragment.extend([3, 1, 2, 3, 4, 0]);
    object.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(vec![], vec![fragment])),
    ));
    let path = dir.join("forged-rle.dcm");
    object.with_exact_meta(meta).write_to_file(&path).unwrap();
    path
}

#[test]
fn forged_dimensions_of_compressed_pixel_data_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    // 65535 x 65535 x 8 bits = 4 GiB from a file of about 500 bytes.
    let path = forged_rle_file(dir.path(), 65535, 65535);
    assert!(std::fs::metadata(&path).unwrap().len() < 1000);
    for selection in [FrameSelection::All, FrameSelection::One(0)] {
        let message = DicomImage::open(&path, selection).unwrap_err().to_string();
        assert!(message.contains("forged-rle.dcm"), "{message}");
        assert!(
            message.contains("4294836225 bytes of decoded pixels"),
            "{message}"
        );
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}
