//! `medxfer evaluate` and `medxfer table` on a hand-made segmentation run folder (the file
//! contract of `medxfer_eval::segmentations`): the numbers are checked against a hand
//! computation of every metric.

use std::path::Path;

// This file uses the binary and the assertions, not the toy classification dataset.
#[allow(dead_code)]
mod support;

use support::{assert_success, medxfer};

const SIDE: u32 = 10;

/// A 10x10 0/255 mask, foreground on rows `rows` and columns `cols`.
fn write_mask(path: &Path, rows: std::ops::Range<u32>, cols: std::ops::Range<u32>) {
    image::GrayImage::from_fn(SIDE, SIDE, |x, y| {
        image::Luma([if rows.contains(&y) && cols.contains(&x) {
            255
        } else {
            0
        }])
    })
    .save(path)
    .unwrap();
}

type Square = (std::ops::Range<u32>, std::ops::Range<u32>);

/// A run folder: per row (id, fold, split, label, truth, prediction) the three PNGs and a line
/// of segmentations.csv.
fn write_run(dir: &Path, rows: &[(&str, usize, &str, &str, Square, Square)]) {
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    std::fs::write(
        dir.join("task.json"),
        r#"{"class_names": ["benign", "malignant", "normal"], "positive_class": null, "task": "segmentation"}"#,
    )
    .unwrap();
    let mut csv = String::from("image_id,fold,split,label,image,truth,prediction\n");
    for (id, fold, split, label, truth, pred) in rows {
        let stem = format!("masks/{id}_{fold}_{split}");
        image::GrayImage::from_fn(SIDE, SIDE, |x, y| image::Luma([(x * 20 + y * 5) as u8]))
            .save(dir.join(format!("{stem}_image.png")))
            .unwrap();
        write_mask(
            &dir.join(format!("{stem}_truth.png")),
            truth.0.clone(),
            truth.1.clone(),
        );
        write_mask(
            &dir.join(format!("{stem}_pred.png")),
            pred.0.clone(),
            pred.1.clone(),
        );
        csv.push_str(&format!(
            "{id},{fold},{split},{label},{stem}_image.png,{stem}_truth.png,{stem}_pred.png\n"
        ));
    }
    std::fs::write(dir.join("segmentations.csv"), csv).unwrap();
}

fn square() -> Square {
    (2..6, 2..6)
}

fn empty() -> Square {
    (0..0, 0..0)
}

/// Fold 0: a (benign) shifted one column; b (malignant) exact. Fold 1: c (benign) both empty;
/// d (malignant) the top half of the square; e (benign) nothing predicted. A val row that would
/// change every number if it were counted.
fn scratch_rows() -> Vec<(
    &'static str,
    usize,
    &'static str,
    &'static str,
    Square,
    Square,
)> {
    vec![
        ("a", 0, "test", "benign", square(), (2..6, 3..7)),
        ("b", 0, "test", "malignant", square(), square()),
        ("v", 0, "val", "benign", square(), empty()),
        ("c", 1, "test", "benign", empty(), empty()),
        ("d", 1, "test", "malignant", square(), (2..4, 2..6)),
        ("e", 1, "test", "benign", square(), empty()),
    ]
}

fn close(value: &serde_json::Value, expected: f64) {
    let v = value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"));
    assert!((v - expected).abs() < 1e-9, "{v} vs {expected}");
}

#[test]
fn evaluate_and_table_on_a_segmentation_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("scratch");
    write_run(&run, &scratch_rows());
    let out = medxfer()
        .args(["evaluate", "--json"])
        .arg(&run)
        .output()
        .unwrap();
    assert_success(&out);
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Hand computation (10x10 grid, distances in pixels):
    // a: overlap 12 of 16 + 16: Dice 0.75, IoU 0.6, precision = recall = 0.75, 8 pixels
    //    wrong: accuracy 0.92; surfaces 12 + 12 pixels, 6 of each at distance 1 and 6 at 0:
    //    HD95 1, ASSD 12/24 = 0.5.
    // b: exact: 1, 1, 1, 1, 1; HD95 0, ASSD 0.
    // c: both empty: 1, 1, 1, 1, 1; no distances.
    // d: 8 of 16 found: Dice 16/24, IoU 0.5, precision 1, recall 0.5, accuracy 0.92;
    //    prediction -> truth: 6 at 0, 2 at 1; truth -> prediction: 6 at 0, 2 at 1, 4 at 2:
    //    HD95 2, ASSD 12/20 = 0.6.
    // e: nothing predicted: 0, 0, 0, 0, accuracy 0.84; no distances.
    let fold0 = &m["folds"][0];
    let fold1 = &m["folds"][1];
    close(&fold0["mean"]["dice"], 0.875);
    close(&fold0["mean"]["iou"], 0.8);
    close(&fold0["mean"]["pixel_accuracy"], 0.96);
    close(&fold0["mean"]["hd95"], 0.5);
    close(&fold0["mean"]["assd"], 0.25);
    close(&fold1["mean"]["dice"], (1.0 + 2.0 / 3.0) / 3.0);
    close(&fold1["mean"]["iou"], 0.5);
    close(&fold1["mean"]["pixel_accuracy"], (1.0 + 0.92 + 0.84) / 3.0);
    close(&fold1["mean"]["precision"], 2.0 / 3.0);
    close(&fold1["mean"]["recall"], 0.5);
    close(&fold1["mean"]["hd95"], 2.0);
    close(&fold1["mean"]["assd"], 0.6);
    assert_eq!(fold1["n_images"], 3);
    assert_eq!(fold1["n_undefined_distance"], 2);
    let fold_dice = [0.875, 5.0 / 9.0];
    let dice = &m["across_folds"]["dice"];
    close(&dice["mean"], (fold_dice[0] + fold_dice[1]) / 2.0);
    close(
        &dice["sd"],
        (fold_dice[0] - fold_dice[1]).abs() / 2f64.sqrt(),
    );
    close(&m["across_folds"]["hd95"]["mean"], 1.25);
    close(&m["across_folds"]["hd95"]["sd"], 1.5 / 2f64.sqrt());
    close(
        &m["pooled"]["mean"]["dice"],
        (0.75 + 1.0 + 1.0 + 2.0 / 3.0) / 5.0,
    );
    close(&m["pooled"]["mean"]["hd95"], 1.0);
    assert_eq!(m["pooled"]["n_undefined_distance"], 2);
    let ci = &m["pooled"]["ci"]["dice"];
    assert!(ci["low"].as_f64().unwrap() < 0.6833 && ci["high"].as_f64().unwrap() > 0.6834);
    assert_eq!(m["per_class"][0]["class"], "benign");
    close(&m["per_class"][0]["mean"]["dice"], 1.75 / 3.0);
    close(&m["per_class"][1]["mean"]["dice"], 5.0 / 6.0);
    assert_eq!(m["per_class"].as_array().unwrap().len(), 2);
    assert_eq!(
        (m["n_test_images"].clone(), m["distance_unit"].clone()),
        (5.into(), "pixel".into())
    );
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(on_disk, m);
    let per_image = std::fs::read_to_string(run.join("segmentation_per_image.csv")).unwrap();
    assert_eq!(per_image.lines().count(), 6);
    assert!(
        per_image.contains(",prediction_only,0,0,0.84,"),
        "{per_image}"
    );
    assert_eq!(
        image::image_dimensions(run.join("gallery.png")).unwrap().0,
        626
    );

    // The readable report states the rule and where the files went.
    let out = medxfer().arg("evaluate").arg(&run).output().unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "5 test images in 2 fold(s)",
        "Dice       0.715 +- 0.226",
        "both empty: Dice = IoU = precision = recall = 1",
        "gallery.png",
        "segmentation_per_image.csv",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }

    // A second arm that predicts every truth exactly, then paper 003's Table 6.2 layout.
    let imagenet = dir.path().join("imagenet");
    let perfect: Vec<_> = scratch_rows()
        .into_iter()
        .map(|(id, fold, split, label, truth, _)| (id, fold, split, label, truth.clone(), truth))
        .collect();
    write_run(&imagenet, &perfect);
    assert_success(&medxfer().arg("evaluate").arg(&imagenet).output().unwrap());
    let out = medxfer()
        .args(["table", "--row-heading", "Encoder init"])
        .arg(format!("Scratch={}", run.display()))
        .arg(format!("ImageNet={}", imagenet.display()))
        .output()
        .unwrap();
    assert_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "| Encoder init | Dice | IoU | Pixel acc. | Precision | Recall | HD95 |"
    );
    // Scratch: Dice 0.875 / 0.556, IoU 0.8 / 0.5, accuracy 0.96 / 0.92, precision
    // 0.875 / 0.667, recall 0.875 / 0.5, HD95 0.5 / 2.
    assert_eq!(
        lines[2],
        "| Scratch | 0.715 ± 0.226 | 0.650 ± 0.212 | 0.940 ± 0.028 | 0.771 ± 0.147 | 0.688 ± 0.265 | 1.250 ± 1.061 |"
    );
    assert_eq!(
        lines[3],
        "| ImageNet | **1.000 ± 0.000** | **1.000 ± 0.000** | **1.000 ± 0.000** | **1.000 ± 0.000** | **1.000 ± 0.000** | **0.000 ± 0.000** |"
    );
}

#[test]
fn bad_segmentation_runs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_run(&run, &scratch_rows());
    std::fs::remove_file(run.join("masks/d_1_test_pred.png")).unwrap();
    let out = medxfer().arg("evaluate").arg(&run).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("d_1_test_pred.png"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let mut csv = std::fs::read_to_string(run.join("segmentations.csv")).unwrap();
    csv.push_str("f,1,test,benign,masks/x.png,masks/y.png\n");
    std::fs::write(run.join("segmentations.csv"), csv).unwrap();
    let out = medxfer().arg("evaluate").arg(&run).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("segmentations.csv") && stderr.contains("line 8"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
