//! Decodes every file pydicom can decode (pydicom's test_files and pydicom-data) and compares
//! with pydicom's pixel arrays dumped by `tests/reference/dump_pydicom.py`:
//! stored values exactly for lossless syntaxes; for lossy ones (JPEG baseline/extended,
//! JPEG-LS near-lossless, JPEG 2000) within LOSSY_MAX_ABS of the sample range and a mean
//! absolute difference below LOSSY_MEAN_ABS of the range; modality values (after rescale or
//! Modality LUT) within 1e-9 relative; palette colours exactly; VOI LUT / window output
//! (on a 0..1 scale) within VOI_MAX_ABS.

mod common;

use std::path::Path;

use medxfer_dicom::WindowSpec;
use medxfer_dicom::samples::Samples;
use medxfer_dicom::window::display_frame;
use medxfer_dicom::{DicomImage, FrameSelection};

/// Largest allowed |ours - pydicom| for lossy syntaxes, as a fraction of 2^bits_stored - 1.
const LOSSY_MAX_ABS: f64 = 0.10;
/// Largest allowed mean |ours - pydicom| for lossy syntaxes, fraction of the range.
const LOSSY_MEAN_ABS: f64 = 0.01;
/// Largest allowed |ours - pydicom| of VOI LUT / window output on the 0..1 scale (ours is
/// f32, pydicom's f64 rounded to f32).
const VOI_MAX_ABS: f64 = 1e-5;
/// Largest allowed |ours - pydicom| after converting native/RLE YBR to RGB (rounding).
const YBR_MAX_ABS: f64 = 1.0;

/// Files pydicom decodes that this build does not, with the reason (checked to still fail,
/// so the list stays honest).
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    (
        "pydicom_test_files__JPGExtended.dcm",
        "12-bit JPEG Extended: the jpeg-decoder crate used by dicom-rs only decodes 8-bit DCT JPEG",
    ),
    (
        "pydicom_test_files__SC_jpeg_no_color_transform.dcm",
        "RGB JPEG marked only by component ids R,G,B (no Adobe marker): jpeg-decoder applies a YCbCr transform",
    ),
    (
        "pydicom_test_files__SC_rgb_jpeg.dcm",
        "file meta says explicit VR but the data set is implicit VR; pydicom guesses, dicom-object does not",
    ),
    (
        "pydicom_test_files__SC_rgb_rle_32bit.dcm",
        "RLE with 32-bit samples: the dicom-rs 0.10 RLE decoder supports 8 and 16 bits",
    ),
    (
        "pydicom_test_files__SC_rgb_rle_32bit_2frame.dcm",
        "RLE with 32-bit samples: the dicom-rs 0.10 RLE decoder supports 8 and 16 bits",
    ),
    (
        "pydicom_test_files__rtdose_rle.dcm",
        "RLE with 32-bit samples: the dicom-rs 0.10 RLE decoder supports 8 and 16 bits",
    ),
    (
        "pydicom_test_files__rtdose_rle_1frame.dcm",
        "RLE with 32-bit samples: the dicom-rs 0.10 RLE decoder supports 8 and 16 bits",
    ),
];

/// Expected failures not run each time: dicom-parser allocates the bogus 1.2 GB value length
/// it reads (implicit VR parsed as explicit) before failing, which takes ~20 s and 1.2 GB.
const NOT_RUN: &[&str] = &["pydicom_test_files__SC_rgb_jpeg.dcm"];

/// JPEG-LS files: decoded only with the `jpeg-ls` feature (CharLS needs cmake + C++).
const JPEG_LS_FILES: &[&str] = &[
    "pydicom_test_files__JPEGLSNearLossless_08.dcm",
    "pydicom_test_files__JPEGLSNearLossless_16.dcm",
    "pydicom_test_files__MR_small_jpeg_ls_lossless.dcm",
    "pydicom_test_files__SC_rgb_jls_lossy_line.dcm",
    "pydicom_test_files__SC_rgb_jls_lossy_sample.dcm",
    "pydicom_data__emri_small_jpeg_ls_lossless.dcm",
];

/// Big-endian files whose palette pydicom misreads, with their little-endian twins.
const PYDICOM_BIG_ENDIAN_PALETTE_BUG: &[(&str, &str)] = &[
    (
        "pydicom_data__OBXXXX1A_expb.dcm",
        "pydicom_data__OBXXXX1A.dcm",
    ),
    (
        "pydicom_data__OBXXXX1A_expb_2frame.dcm",
        "pydicom_data__OBXXXX1A_2frame.dcm",
    ),
];

#[derive(Default)]
struct Tally {
    exact: Vec<String>,
    within: Vec<String>,
    failed: Vec<(String, String)>,
}

#[test]
fn every_file_pydicom_decodes_matches_its_pixel_array() {
    let reference = common::cache_dir().join("dicom-reference");
    let index_path = reference.join("index.json");
    let Ok(text) = std::fs::read_to_string(&index_path) else {
        eprintln!(
            "SKIP: pydicom reference not found at {} (run .ci/setup.d/30-dicom-test-files.sh)",
            index_path.display()
        );
        return;
    };
    let index: serde_json::Value = serde_json::from_str(&text).expect("index.json is JSON");
    let files = index["files"].as_array().expect("files array");
    let mut tally = Tally::default();
    let mut skipped_by_pydicom = 0;
    for entry in files {
        let key = entry["key"].as_str().unwrap_or_default().to_string();
        if entry.get("skipped").is_some() {
            skipped_by_pydicom += 1;
            continue;
        }
        let path = Path::new(entry["path"].as_str().unwrap_or_default());
        if NOT_RUN.contains(&key.as_str()) {
            tally
                .failed
                .push((key, "not run (known failure, see NOT_RUN)".into()));
            continue;
        }
        match compare_one(&reference, &key, path, entry) {
            Ok(Outcome::Exact) => tally.exact.push(key),
            Ok(Outcome::Within(note)) => tally.within.push(format!("{key} ({note})")),
            Err(reason) => tally.failed.push((key, reason)),
        }
    }
    eprintln!(
        "pydicom cross-check: {} exact, {} within tolerance, {} failed ({} files pydicom itself cannot decode or that hold no image)",
        tally.exact.len(),
        tally.within.len(),
        tally.failed.len(),
        skipped_by_pydicom
    );
    for item in &tally.within {
        eprintln!("  within tolerance: {item}");
    }
    for (key, reason) in &tally.failed {
        eprintln!("  FAILED: {key}: {reason}");
    }
    let jpeg_ls_expected_to_fail = !cfg!(feature = "jpeg-ls");
    let unexpected: Vec<_> = tally
        .failed
        .iter()
        .filter(|(key, reason)| {
            let listed = EXPECTED_FAILURES.iter().any(|(k, _)| k == key);
            let jpeg_ls = jpeg_ls_expected_to_fail
                && JPEG_LS_FILES.contains(&key.as_str())
                && reason.contains("JPEG-LS");
            !(listed || jpeg_ls)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures: {unexpected:#?}"
    );
    for (key, reason) in EXPECTED_FAILURES {
        assert!(
            tally.failed.iter().any(|(k, _)| k == key),
            "{key} is listed as failing ({reason}) but now decodes: update EXPECTED_FAILURES"
        );
    }
    assert!(
        tally.exact.len() + tally.within.len() >= 100,
        "too few files compared"
    );
}

enum Outcome {
    Exact,
    Within(String),
}

fn compare_one(
    reference: &Path,
    key: &str,
    path: &Path,
    entry: &serde_json::Value,
) -> Result<Outcome, String> {
    let started = std::time::Instant::now();
    let image = DicomImage::open(path, FrameSelection::All).map_err(|e| e.to_string())?;
    if started.elapsed().as_secs_f64() > 1.0 {
        eprintln!(
            "  slow decode: {key} {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    let expected = common::read_npy(&reference.join(format!("{key}.stored.npy")))?;
    let mut shape = vec![
        image.frames as usize,
        image.rows as usize,
        image.cols as usize,
    ];
    if image.samples_per_pixel > 1 {
        shape.push(image.samples_per_pixel as usize);
    }
    let expected_shape: Vec<usize> = if image.frames == 1 {
        std::iter::once(1)
            .chain(expected.shape.iter().copied())
            .collect()
    } else {
        expected.shape.clone()
    };
    if shape != expected_shape {
        return Err(format!("shape {shape:?}, pydicom {:?}", expected.shape));
    }
    let range = ((1u64 << image.bits_stored.clamp(1, 32)) - 1) as f64;
    let (max_abs, mean_abs) = if expected.len() == image.samples.len()
        && expected.same_bytes(descr(&image.samples), native_bytes(&image.samples))
    {
        (0.0, 0.0)
    } else if let (Samples::U8(ours), Some(theirs)) = (&image.samples, expected.as_u8()) {
        differences_u8(ours, theirs)
    } else {
        differences(image.samples.len(), &expected, |i| {
            image.samples.get(i) as f64
        })
    };
    let lossy = entry["lossy"].as_bool().unwrap_or(false);
    let ybr = image.photometric.is_ybr_full();
    let outcome = if max_abs == 0.0 {
        Outcome::Exact
    } else if lossy && max_abs <= LOSSY_MAX_ABS * range && mean_abs <= LOSSY_MEAN_ABS * range {
        Outcome::Within(format!("lossy: max |diff| {max_abs}, mean {mean_abs:.3}"))
    } else if ybr && max_abs <= YBR_MAX_ABS {
        Outcome::Within(format!("YBR->RGB rounding: max |diff| {max_abs}"))
    } else {
        return Err(format!(
            "stored values differ: max |diff| {max_abs}, mean {mean_abs:.4} (lossy: {lossy}, photometric {})",
            image.photometric.as_str()
        ));
    };
    if entry["modality"].as_bool() == Some(true) {
        let expected = common::read_npy(&reference.join(format!("{key}.modality.npy")))?;
        let per_frame = image.frame_len();
        let ours: Vec<f64> = (0..image.frames as usize)
            .flat_map(|f| image.modality_frame(f))
            .collect();
        debug_assert_eq!(ours.len(), per_frame * image.frames as usize);
        let worst = ours
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let b = expected.get(i);
                (a - b).abs() / b.abs().max(1.0)
            })
            .fold(0.0, f64::max);
        let tolerance = if lossy { LOSSY_MAX_ABS * range } else { 1e-9 };
        if ours.len() != expected.len() || worst > tolerance {
            return Err(format!(
                "modality values differ: worst relative diff {worst}"
            ));
        }
    }
    if entry["voi"].as_bool() == Some(true) {
        let expected = common::read_npy(&reference.join(format!("{key}.voi.npy")))?;
        let invert = image.photometric == medxfer_dicom::photometric::Photometric::Monochrome1;
        let ours: Vec<f64> = (0..image.frames as usize)
            .flat_map(|f| display_frame(&image, f, &WindowSpec::Auto))
            .map(|v| if invert { 1.0 - v as f64 } else { v as f64 })
            .collect();
        let (max_abs, _) = differences(ours.len(), &expected, |i| ours[i]);
        let tolerance = if lossy { LOSSY_MAX_ABS } else { VOI_MAX_ABS };
        if max_abs > tolerance {
            return Err(format!("VOI / window output differs: max |diff| {max_abs}"));
        }
    }
    if entry["palette"].as_bool() == Some(true) {
        // pydicom 3.0.2 reads big-endian OW palette data as little-endian; the big-endian
        // copies must give the colours pydicom gives for their little-endian originals.
        let palette_key = PYDICOM_BIG_ENDIAN_PALETTE_BUG
            .iter()
            .find(|(be, _)| *be == key)
            .map_or(key, |(_, le)| *le);
        let expected = common::read_npy(&reference.join(format!("{palette_key}.palette.npy")))?;
        let palette = image.palette.as_ref().ok_or("no palette decoded")?;
        let ours: Vec<f64> = (0..image.frames as usize)
            .flat_map(|f| medxfer_dicom::window::palette_rgb_frame(&image, f, palette))
            .map(f64::from)
            .collect();
        let (max_abs, _) = differences(ours.len(), &expected, |i| ours[i]);
        if max_abs > 0.0 {
            return Err(format!("palette colours differ: max |diff| {max_abs}"));
        }
    }
    Ok(outcome)
}

fn descr(samples: &Samples) -> &'static str {
    match samples {
        Samples::U8(_) => "u1",
        Samples::U16(_) => "u2",
        Samples::I16(_) => "i2",
        Samples::U32(_) => "u4",
        Samples::I32(_) => "i4",
    }
}

/// The samples' memory as bytes (machine order).
fn native_bytes(samples: &Samples) -> &[u8] {
    fn bytes_of<T>(v: &[T]) -> &[u8] {
        // SAFETY: plain integer slices; any byte pattern is a valid u8 and the length covers
        // exactly the slice's memory.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
    }
    match samples {
        Samples::U8(v) => v,
        Samples::U16(v) => bytes_of(v),
        Samples::I16(v) => bytes_of(v),
        Samples::U32(v) => bytes_of(v),
        Samples::I32(v) => bytes_of(v),
    }
}

/// Max and mean |ours - theirs| of two byte arrays (large lossy colour cines).
fn differences_u8(ours: &[u8], theirs: &[u8]) -> (f64, f64) {
    if ours.len() != theirs.len() {
        return (f64::INFINITY, f64::INFINITY);
    }
    let mut max = 0u8;
    let mut sum = 0u64;
    for chunk in ours.chunks(1 << 16).zip(theirs.chunks(1 << 16)) {
        let mut chunk_sum = 0u64;
        for (a, b) in chunk.0.iter().zip(chunk.1) {
            let d = a.abs_diff(*b);
            max = max.max(d);
            chunk_sum += d as u64;
        }
        sum += chunk_sum;
    }
    (max as f64, sum as f64 / ours.len().max(1) as f64)
}

/// Max and mean |ours(i) - theirs(i)|; infinite when the lengths differ.
fn differences(len: usize, theirs: &common::NpyArray, ours: impl Fn(usize) -> f64) -> (f64, f64) {
    if len != theirs.len() {
        return (f64::INFINITY, f64::INFINITY);
    }
    let mut max = 0.0f64;
    let mut sum = 0.0;
    for i in 0..len {
        let d = (ours(i) - theirs.get(i)).abs();
        max = max.max(d);
        sum += d;
    }
    (max, sum / len.max(1) as f64)
}
