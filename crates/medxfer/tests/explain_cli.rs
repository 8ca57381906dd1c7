//! `medxfer explain` on a toy two-fold run: overlays at the images' original size, raw maps and
//! a contact sheet for each method; unsupported requests are one-line errors and write nothing.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{
    assert_success, medxfer, one_line_error, train_to_the_end, write_toy_dataset,
    write_toy_run_config, write_toy_segmentation_dataset,
};

fn explain(run: &Path, images: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    medxfer()
        .args(["explain", "--no-progress"])
        .arg(run)
        .args(images)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// (width, height) of a PNG.
fn png_size(path: &Path) -> (u32, u32) {
    image::image_dimensions(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_classification_run_is_explained_by_every_method_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 8);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, false));
    let run = dir.path().join("run");
    let images = vec![
        data.join("left/left (0).png"),
        data.join("right/right (1).png"),
    ];
    let out = dir.path().join("explained");

    let methods: [(&str, &str, &[&str]); 6] = [
        ("lime", "lime", &["--samples", "24", "--segments", "10"]),
        ("gradcam", "gradcam", &[]),
        ("eigencam", "eigencam", &["--stage", "2"]),
        ("gradcam++", "gradcampp", &["--stage", "3"]),
        ("occlusion", "occlusion", &["--patch", "8", "--stride", "8"]),
        (
            "integrated-gradients",
            "integrated-gradients",
            &["--steps", "4", "--class", "left"],
        ),
    ];
    for (method, tag, extra) in methods {
        let output = explain(
            &run,
            &images,
            &out,
            &[&["--method", method], extra].concat(),
        );
        assert_success(&output);
        for stem in ["left (0)", "right (1)"] {
            // The toy images are 40 x 32; the caption strip is added below.
            let (width, height) = png_size(&out.join(format!("{stem}_{tag}.png")));
            assert!(width == 40 && height > 32, "{method}: {width} x {height}");
            let npy = std::fs::read(out.join(format!("{stem}_{tag}.npy"))).unwrap();
            assert!(npy.starts_with(b"\x93NUMPY"), "{method}");
            let header = u16::from_le_bytes([npy[8], npy[9]]) as usize;
            assert_eq!(npy.len(), 10 + header + 40 * 32 * 4, "{method}");
        }
        assert!(
            out.join(format!("contact_sheet_{tag}.png")).is_file(),
            "{method}"
        );
    }
    let stdout = String::from_utf8_lossy(&explain(&run, &images, &out, &[]).stdout).to_string();
    assert!(stdout.contains("2 model(s)"), "{stdout}");

    // Images with lesion masks beside them (BUSI layout): localisation scores.
    let with_masks = dir.path().join("with_masks");
    write_toy_segmentation_dataset(&with_masks, 2);
    let lesions = vec![
        with_masks.join("left/left (0).png"),
        with_masks.join("right/right (1).png"),
    ];
    // Two methods side by side: one table, a row per method.
    let scored = explain(
        &run,
        &lesions,
        &out,
        &[
            "--score-masks",
            "--method",
            "gradcam",
            "--method",
            "occlusion",
        ],
    );
    assert_success(&scored);
    let stdout = String::from_utf8_lossy(&scored.stdout).to_string();
    for column in ["energy in mask", "pointing game", "IoU (half max)"] {
        assert!(stdout.contains(column), "{stdout}");
    }
    let table = &stdout[stdout
        .find("localisation over 2 image(s)")
        .expect("one table")..];
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].trim_start().starts_with("gradcam"), "{table}");
    assert!(rows[1].trim_start().starts_with("occlusion"), "{table}");
    for method in ["gradcam", "occlusion"] {
        let csv = std::fs::read_to_string(out.join(format!("localisation_{method}.csv"))).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(
            csv.starts_with("image,class,energy_in_mask,pointing_hit,iou"),
            "{csv}"
        );
    }

    // Out of fold: each image by the one model that never trained on it, so its probability
    // is the one predictions.csv holds for the image's test row.
    let oof = explain(&run, &images, &out, &["--out-of-fold"]);
    assert_success(&oof);
    let stdout = String::from_utf8_lossy(&oof.stdout).to_string();
    assert!(
        stdout.contains("each image's out-of-fold model"),
        "{stdout}"
    );
    let predictions = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    for image in &images {
        let id = image
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let row: Vec<&str> = predictions
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[0] == id && c[2] == "test")
            .expect("a test row");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&image.display().to_string()))
            .unwrap();
        let cells: Vec<&str> = line.split('\t').collect();
        let column = if cells[1] == "left" { 4 } else { 5 };
        let expected: f64 = row[column].parse().unwrap();
        let got: f64 = cells[2].parse().unwrap();
        assert!((got - expected).abs() < 1e-4, "{id}: {got} vs {expected}");
    }
    let stranger = dir.path().join("stranger.png");
    std::fs::copy(&images[0], &stranger).unwrap();
    let line = one_line_error(&explain(&run, &[stranger], &out, &["--out-of-fold"]));
    assert!(line.contains("is no test image of this run"), "{line}");

    let refused = dir.path().join("refused");
    let line = one_line_error(&explain(&run, &images, &refused, &["--score-masks"]));
    assert!(line.contains("no lesion mask"), "{line}");
    let cases: [(&[&str], &str); 2] = [
        (&["--stage", "99"], "stage 99 does not exist"),
        (
            &["--class", "middle"],
            "class \"middle\" is not one of the run's classes",
        ),
    ];
    for (extra, expected) in cases {
        let line = one_line_error(&explain(&run, &images, &refused, extra));
        assert!(line.contains(expected), "{line}");
    }
    let not_an_image = dir.path().join("notes.txt");
    std::fs::write(&not_an_image, "not pixels").unwrap();
    let line = one_line_error(&explain(&run, &[not_an_image], &refused, &[]));
    assert!(line.contains("notes.txt"), "{line}");
    assert!(!refused.join("notes_gradcam.png").exists());
    let line = one_line_error(&explain(&run, &images, &images[0], &[]));
    assert!(line.contains("not a folder"), "{line}");
}

#[test]
fn a_segmentation_run_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 6);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, true));
    let image = data.join("left/left (0).png");
    let out = dir.path().join("explained");
    let line = one_line_error(&explain(&dir.path().join("run"), &[image], &out, &[]));
    assert!(line.contains("segmentation run"), "{line}");
    assert!(!out.exists());
}
