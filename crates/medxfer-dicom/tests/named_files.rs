//! Checks on named pydicom test files: MONOCHROME1 inversion, windowing (file window, VOI
//! LUT, override, percentile default), CT rescale to Hounsfield units, multi-frame, and
//! one clear error naming the file for bad inputs.

mod common;

use std::path::Path;

use medxfer_dicom::window::apply_window;
use medxfer_dicom::{
    DicomError, DicomImage, FrameSelection, WindowSpec, decode_for_training,
    decode_frame_for_training, frame_count,
};

/// Tolerance of display values (f32 on a 0..1 scale).
const DISPLAY_TOL: f32 = 1e-5;

fn stored(image: &DicomImage) -> Vec<i64> {
    (0..image.frame_len())
        .map(|i| image.samples.get(i))
        .collect()
}

#[test]
fn monochrome1_is_inverted_so_that_low_values_are_white() {
    let Some(path) = common::test_file("pydicom_data", "RG1_UNCR.dcm") else {
        return;
    };
    let image = DicomImage::open(&path, FrameSelection::All).unwrap();
    assert_eq!(image.photometric.as_str(), "MONOCHROME1");
    let decoded = decode_for_training(&path, &WindowSpec::Auto).unwrap();
    assert_eq!(
        (decoded.width, decoded.height, decoded.channels),
        (image.cols, image.rows, 1)
    );
    let values = stored(&image);
    let (argmin, _) = values.iter().enumerate().min_by_key(|(_, v)| **v).unwrap();
    let (argmax, _) = values.iter().enumerate().max_by_key(|(_, v)| **v).unwrap();
    assert!(
        decoded.pixels[argmin] > 0.9,
        "lowest value shows {}",
        decoded.pixels[argmin]
    );
    assert!(
        decoded.pixels[argmax] < 0.2,
        "highest value shows {}",
        decoded.pixels[argmax]
    );
    // Exactly 1 - LINEAR window(15000, 30000) of the file.
    let window = image.window_for(0).expect("RG1 has a window");
    assert_eq!((window.center, window.width), (15000.0, 30000.0));
    let as_f64: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    let expected = apply_window(&as_f64, window, dicom_pixeldata::VoiLutFunction::Linear);
    for (got, want) in decoded.pixels.iter().zip(&expected) {
        assert!((got - (1.0 - want)).abs() <= DISPLAY_TOL);
    }
}

#[test]
fn ct_rescale_gives_hounsfield_units_and_window_override_applies() {
    let Some(path) = common::test_file("pydicom_test_files", "CT_small.dcm") else {
        return;
    };
    let image = DicomImage::open(&path, FrameSelection::All).unwrap();
    let hu = image.modality_frame(0);
    for (value, raw) in hu.iter().zip(stored(&image)) {
        assert_eq!(*value, raw as f64 - 1024.0, "slope 1, intercept -1024");
    }
    // Soft-tissue window 40/400: <= -160 HU black, > 239 HU white, linear between.
    let spec: WindowSpec = "40,400".parse().unwrap();
    let decoded = decode_for_training(&path, &spec).unwrap();
    for (&h, &d) in hu.iter().zip(&decoded.pixels) {
        let want = if h <= 40.0 - 0.5 - 199.5 {
            0.0
        } else if h > 40.0 - 0.5 + 199.5 {
            1.0
        } else {
            ((h - 39.5) / 399.0 + 0.5) as f32
        };
        assert!((d - want).abs() <= DISPLAY_TOL, "HU {h}: {d} vs {want}");
    }
}

#[test]
fn files_without_a_window_get_the_robust_percentile_window() {
    let Some(path) = common::test_file("pydicom_test_files", "CT_small.dcm") else {
        return;
    };
    let image = DicomImage::open(&path, FrameSelection::All).unwrap();
    assert!(image.window_for(0).is_none() && image.voi_lut.is_none());
    let decoded = decode_for_training(&path, &WindowSpec::Auto).unwrap();
    let n = decoded.pixels.len() as f64;
    let black = decoded.pixels.iter().filter(|&&v| v == 0.0).count() as f64 / n;
    let white = decoded.pixels.iter().filter(|&&v| v == 1.0).count() as f64 / n;
    // 0.5th / 99.5th percentiles: about 0.5 % clipped at each end (ties may add a little).
    assert!((0.004..0.03).contains(&black), "black fraction {black}");
    assert!((0.004..0.03).contains(&white), "white fraction {white}");
    let minmax = decode_for_training(&path, &WindowSpec::MinMax).unwrap();
    let ones = minmax.pixels.iter().filter(|&&v| v == 1.0).count();
    assert!(ones >= 1 && ones < decoded.pixels.len() / 100);
}

#[test]
fn file_window_is_used_by_default() {
    let Some(path) = common::test_file("pydicom_test_files", "MR_small.dcm") else {
        return;
    };
    let image = DicomImage::open(&path, FrameSelection::All).unwrap();
    let window = image.window_for(0).unwrap();
    assert_eq!((window.center, window.width), (600.0, 1600.0));
    let decoded = decode_for_training(&path, &WindowSpec::Auto).unwrap();
    for (&v, &d) in stored(&image).iter().zip(&decoded.pixels) {
        let want = (((v as f64 - 599.5) / 1599.0 + 0.5).clamp(0.0, 1.0)) as f32;
        assert!((d - want).abs() <= DISPLAY_TOL);
    }
}

#[test]
fn multi_frame_files_decode_frame_by_frame() {
    let Some(path) = common::test_file("pydicom_data", "emri_small.dcm") else {
        return;
    };
    let frames = frame_count(&path).unwrap();
    assert_eq!(frames, 10);
    let all = DicomImage::open(&path, FrameSelection::All).unwrap();
    let last = DicomImage::open(&path, FrameSelection::One(frames - 1)).unwrap();
    let len = all.frame_len();
    for i in 0..len {
        assert_eq!(
            all.samples.get((frames as usize - 1) * len + i),
            last.samples.get(i)
        );
    }
    let decoded = decode_frame_for_training(&path, 3, &WindowSpec::MinMax).unwrap();
    assert_eq!(decoded.pixels.len(), len);
    match decode_frame_for_training(&path, frames, &WindowSpec::Auto) {
        Err(DicomError::FrameOutOfRange {
            frame, frames: n, ..
        }) => {
            assert_eq!((frame, n), (frames, frames))
        }
        other => panic!("expected FrameOutOfRange, got {other:?}"),
    }
}

#[test]
fn rgb_and_palette_images_decode_to_three_channels() {
    for (source, name) in [
        ("pydicom_data", "US1_UNCR.dcm"),
        ("pydicom_data", "OBXXXX1A.dcm"),
    ] {
        let Some(path) = common::test_file(source, name) else {
            return;
        };
        let decoded = decode_for_training(&path, &WindowSpec::Auto).unwrap();
        assert_eq!(decoded.channels, 3, "{name}");
        assert_eq!(
            decoded.pixels.len(),
            (decoded.width * decoded.height * 3) as usize
        );
        assert!(decoded.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

fn error_of(path: &Path) -> String {
    let err = decode_for_training(path, &WindowSpec::Auto).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error must name the file: {text}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
    text
}

#[test]
fn bad_files_give_one_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let not_dicom = dir.path().join("notes.dcm");
    std::fs::write(&not_dicom, b"this is not a DICOM file at all").unwrap();
    assert!(error_of(&not_dicom).contains("not a readable DICOM file"));
    let missing = dir.path().join("missing.dcm");
    assert!(error_of(&missing).contains("cannot read file"));

    let Some(locations) = common::test_file_locations() else {
        return;
    };
    let pyd = &locations["pydicom_test_files"];
    // No Pixel Data: a structured report.
    assert!(error_of(&pyd.join("test-SR.dcm")).contains("no Pixel Data"));
    // Truncated pixel data.
    assert!(error_of(&pyd.join("MR_truncated.dcm")).contains("truncated"));
    // A file cut in the middle of its data set.
    let cut = dir.path().join("cut.dcm");
    let bytes = std::fs::read(pyd.join("CT_small.dcm")).unwrap();
    std::fs::write(&cut, &bytes[..700]).unwrap();
    let text = error_of(&cut);
    assert!(
        text.contains("not a readable DICOM file") || text.contains("Pixel Data"),
        "{text}"
    );
    // Unsupported transfer syntax (JPEG-LS without the `jpeg-ls` feature) names the syntax.
    if !cfg!(feature = "jpeg-ls") {
        let text = error_of(&pyd.join("MR_small_jpeg_ls_lossless.dcm"));
        assert!(
            text.contains("1.2.840.10008.1.2.4.80") && text.contains("JPEG-LS"),
            "{text}"
        );
    }
}
