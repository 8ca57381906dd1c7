//! The inputs the fuzzers found crashing (fuzz/crashes/) now give one-line errors: an RLE
//! segment shorter than Rows x Columns (a panic inside dicom-rs's decoder) and a NIfTI header
//! declaring 2.3 GB (an allocation of all of it).

use std::path::PathBuf;

use medxfer_dicom::nifti_volume::NiftiVolume;
use medxfer_dicom::{DicomImage, FrameSelection};

fn crash_input(target: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/crashes")
        .join(target)
        .join(name)
}

#[test]
fn a_short_rle_segment_is_an_error_not_a_panic() {
    let path = crash_input("dicom", "rle-segment-index-out-of-bounds.dcm");
    for selection in [FrameSelection::All, FrameSelection::One(0)] {
        let err = DicomImage::open(&path, selection)
            .err()
            .expect("a corrupt RLE frame must not decode");
        let message = err.to_string();
        assert!(
            message.contains("rle-segment-index-out-of-bounds.dcm")
                && message.contains("decodes to 2941 bytes"),
            "{message}"
        );
    }
}

#[test]
fn a_nifti_header_declaring_gigabytes_is_an_error() {
    let path = crash_input("nifti", "gzip-header-allocates-2.3GB.nii.gz");
    let message = NiftiVolume::open(&path)
        .err()
        .expect("a forged header must not open")
        .to_string();
    // Its header is inconsistent in several ways; any of the header checks refuses it
    // before the nifti crate reserves the declared volume.
    assert!(
        message.contains("gzip-header-allocates-2.3GB.nii.gz")
            && (message.contains("forged header")
                || message.contains("cannot inflate")
                || message.contains("bitpix says")),
        "{message}"
    );
}

#[test]
fn a_nifti_header_whose_bitpix_contradicts_its_datatype_is_an_error() {
    let path = crash_input("nifti", "raw-data-size-shape-panic.nii.gz");
    let message = NiftiVolume::open(&path)
        .err()
        .expect("an inconsistent header must not open")
        .to_string();
    assert!(message.contains("bitpix says 0"), "{message}");
}

#[test]
fn an_item_longer_than_the_file_inside_an_undefined_length_value_is_an_error() {
    let path = crash_input("dicom", "sequence-item-ob-reserves-3.7GB.dcm");
    let message = DicomImage::open(&path, FrameSelection::All)
        .err()
        .expect("a forged item length must not be read")
        .to_string();
    assert!(message.contains("declares 3758948352 bytes"), "{message}");
}

#[test]
fn a_length_the_header_walk_used_to_misread_is_checked_as_dicom_rs_reads_it() {
    let path = crash_input("dicom", "private-creator-length-2.1GB.dcm");
    let message = DicomImage::open(&path, FrameSelection::All)
        .err()
        .expect("a forged length must not be read")
        .to_string();
    assert!(message.contains("declares 2157805725 bytes"), "{message}");
}

#[test]
fn a_jpeg2000_frame_larger_than_rows_and_columns_is_an_error_not_a_panic() {
    let path = crash_input("dicom", "jpeg2000-larger-than-rows-columns.dcm");
    let message = DicomImage::open(&path, FrameSelection::All)
        .err()
        .expect("an oversized JPEG 2000 frame must not decode")
        .to_string();
    assert!(message.contains("636 x 512 image"), "{message}");
}

#[test]
fn a_jpeg_frame_larger_than_rows_and_columns_is_an_error_not_a_panic() {
    let path = crash_input("dicom", "jpeg-larger-than-rows-columns.dcm");
    let message = DicomImage::open(&path, FrameSelection::All)
        .err()
        .expect("an oversized JPEG frame must not decode")
        .to_string();
    assert!(message.contains("612 x 100 image"), "{message}");
}

/// The inflater of this build stops at the corrupt deflate block; the fuzz build's (other
/// flate2 features) yielded a few bytes more, enough for an extension header declaring
/// 1.8 GB, which the nifti crate reserved. The extension sizes are now checked (nifti_declared_size).
#[test]
fn a_nifti_extension_cut_short_by_a_corrupt_stream_is_an_error() {
    let path = crash_input("nifti", "extension-size-1.8GB.nii.gz");
    let message = NiftiVolume::open(&path)
        .err()
        .expect("the fuzz input must not open")
        .to_string();
    assert!(
        message.contains("extension-size-1.8GB.nii.gz") && message.contains("extension"),
        "{message}"
    );
}

/// The last meta element overruns the declared group length; dicom-object starts the data set
/// where that element ends, and so must the length check, or it walks different bytes than
/// dicom-rs parses (which then reserved 1.5 GB).
#[test]
fn a_meta_group_whose_last_element_overruns_its_length_is_checked_where_dicom_rs_reads() {
    let path = crash_input("dicom", "meta-group-misread-1.5GB.dcm");
    let message = DicomImage::open(&path, FrameSelection::All)
        .err()
        .expect("a forged length must not be read")
        .to_string();
    assert!(
        message.contains("meta-group-misread-1.5GB.dcm"),
        "{message}"
    );
    assert!(message.contains("declares"), "{message}");
}
