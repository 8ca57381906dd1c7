//! `validate_masks` on generated files: size, binariness and missing masks.

mod common;

use std::path::{Path, PathBuf};

use image::{ImageBuffer, Luma};
use medxfer_data::{
    Dataset, ImageSource, MaskReport, MissingMask, PreparedMask, Sample, validate_masks,
};

fn sample(image: PathBuf, masks: Vec<PathBuf>) -> Sample {
    Sample {
        id: image.file_name().unwrap().to_string_lossy().into_owned(),
        source: ImageSource::File(image.clone()),
        path: image,
        label: 0,
        patient_id: None,
        center: None,
        origin: None,
        split: None,
        mask_paths: masks,
        metadata: Default::default(),
    }
}

fn dataset(samples: Vec<Sample>) -> Dataset {
    Dataset {
        class_names: vec!["lesion".into()],
        samples,
    }
}

fn square(x: u32, y: u32) -> bool {
    (3..9).contains(&x) && (2..6).contains(&y)
}

/// A 16 x 10 image and a mask written by `mask` (same size unless the writer says otherwise).
fn image_with_mask(dir: &Path, name: &str, mask: impl Fn(&Path)) -> Sample {
    let image = dir.join(format!("{name}.png"));
    common::gray8(&image, 16, 10, |x, y| (x * 10 + y) as u8);
    let mask_path = dir.join(format!("{name}_mask.png"));
    mask(&mask_path);
    sample(image, vec![mask_path])
}

fn good_mask(path: &Path) {
    common::gray8(path, 16, 10, |x, y| if square(x, y) { 255 } else { 0 });
}

fn error_of(data: &Dataset) -> String {
    let err = validate_masks(data, MissingMask::Error)
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    err
}

#[test]
fn valid_masks_pass_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples = vec![
        image_with_mask(dir.path(), "a", good_mask),
        // 0/1 masks are binary too, and an RGB white-on-black mask is binary in luma.
        image_with_mask(dir.path(), "b", |p| {
            common::gray8(p, 16, 10, |x, y| u8::from(square(x, y)))
        }),
        image_with_mask(dir.path(), "c", |p| {
            common::rgb8(p, 16, 10, |x, y| [if square(x, y) { 255 } else { 0 }; 3])
        }),
        image_with_mask(dir.path(), "empty", |p| common::gray8(p, 16, 10, |_, _| 0)),
        image_with_mask(dir.path(), "full", |p| {
            common::gray16(p, 16, 10, |_, _| 65535)
        }),
    ];
    // A second mask of the same sample (0/1 values) is checked on its own.
    let second = dir.path().join("a_mask_1.png");
    common::gray8(&second, 16, 10, |x, _| u8::from(x == 15));
    samples[0].mask_paths.push(second);
    let data = dataset(samples);
    let report = validate_masks(&data, MissingMask::Error).unwrap();
    assert_eq!(
        report,
        MaskReport {
            masks_checked: 6,
            missing: Vec::new(),
            all_background: vec![3],
        }
    );
}

#[test]
fn mask_of_another_size_names_the_mask_and_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(vec![
        image_with_mask(dir.path(), "ok", good_mask),
        image_with_mask(dir.path(), "wrong", |p| common::gray8(p, 10, 16, |_, _| 0)),
    ]);
    let err = error_of(&data);
    assert!(
        err.ends_with("wrong_mask.png: mask is 10x16 but its image is 16x10"),
        "{err}"
    );
}

#[test]
fn grey_or_antialiased_mask_names_the_file_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    // Three levels, as a bilinear-resampled mask has at its edges.
    let data = dataset(vec![image_with_mask(dir.path(), "grey", |p| {
        common::gray8(p, 16, 10, |x, y| match (square(x, y), x == 3) {
            (true, true) => 128,
            (true, false) => 255,
            _ => 0,
        })
    })]);
    let err = error_of(&data);
    assert!(
        err.contains("grey_mask.png: mask is not binary: 3 distinct values (0, 128, 255)"),
        "{err}"
    );
    // One anti-aliased pixel is enough to refuse.
    let data = dataset(vec![image_with_mask(dir.path(), "one", |p| {
        common::gray8(p, 16, 10, |x, y| match (square(x, y), (x, y) == (3, 2)) {
            (true, true) => 254,
            (true, false) => 255,
            _ => 0,
        })
    })]);
    assert!(error_of(&data).contains("one_mask.png: mask is not binary: 3 distinct"));
    // Two values without a background: 1 and 255 is not a 0/foreground mask.
    let data = dataset(vec![image_with_mask(dir.path(), "nozero", |p| {
        common::gray8(p, 16, 10, |x, y| if square(x, y) { 255 } else { 1 })
    })]);
    assert!(
        error_of(&data).contains("nozero_mask.png: mask is not binary: 2 distinct values (1, 255)")
    );
}

#[test]
fn jpeg_mask_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("scan.png");
    common::gray8(&image, 16, 10, |_, _| 40);
    let mask = dir.path().join("scan_mask.jpg");
    ImageBuffer::from_fn(16, 10, |x, y| Luma([if square(x, y) { 255u8 } else { 0 }]))
        .save(&mask)
        .unwrap();
    let err = error_of(&dataset(vec![sample(image, vec![mask])]));
    assert!(err.contains("scan_mask.jpg: mask is not binary:"), "{err}");
}

#[test]
fn missing_mask_is_an_error_or_an_empty_mask() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.png");
    common::gray8(&bare, 16, 10, |_, _| 9);
    let data = dataset(vec![
        image_with_mask(dir.path(), "a", good_mask),
        sample(bare.clone(), Vec::new()),
    ]);
    let err = error_of(&data);
    assert_eq!(
        err,
        format!("{}: image has no segmentation mask", bare.display())
    );
    let report = validate_masks(&data, MissingMask::Empty).unwrap();
    assert_eq!(report.missing, vec![1]);
    assert_eq!(report.masks_checked, 1);
    assert!(report.all_background.is_empty());
    let background = PreparedMask::background(4);
    assert_eq!(background.pixels, vec![0; 16]);
}

#[test]
fn unreadable_files_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(vec![image_with_mask(
        dir.path(),
        "cut",
        common::truncated_png,
    )]);
    let err = error_of(&data);
    assert!(err.contains("cut_mask.png: cannot decode image"), "{err}");
    let gone = dir.path().join("gone.png");
    let data = dataset(vec![sample(
        gone.clone(),
        vec![dir.path().join("cut_mask.png")],
    )]);
    assert!(error_of(&data).starts_with(&gone.display().to_string()));
}

#[test]
fn first_fault_in_dataset_order_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples: Vec<Sample> = (0..40)
        .map(|i| image_with_mask(dir.path(), &format!("ok{i}"), good_mask))
        .collect();
    samples.push(image_with_mask(dir.path(), "late", |p| {
        common::gray8(p, 3, 3, |_, _| 0)
    }));
    samples.insert(
        20,
        image_with_mask(dir.path(), "early", |p| common::gray8(p, 2, 2, |_, _| 0)),
    );
    let err = error_of(&dataset(samples));
    assert!(err.contains("early_mask.png"), "{err}");
}
