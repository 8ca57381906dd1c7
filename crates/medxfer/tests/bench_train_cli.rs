//! `medxfer bench train-step`: a row per backbone and mode with medxfer's images per second
//! (and PyTorch's with the ratio where a Python with torch and timm exists); bad sizes are a
//! one-line error.

mod support;
use support::{assert_success, medxfer, one_line_error};

#[test]
fn a_small_step_is_timed_in_both_modes() {
    let output = medxfer()
        .args([
            "bench",
            "train-step",
            "--backbone",
            "resnet18",
            "--size",
            "32",
            "--batch",
            "2",
            "--rounds",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for (row, mode) in rows.iter().zip(["train", "inference"]) {
        assert_eq!(row["mode"], mode);
        assert_eq!(row["backbone"], "resnet18");
        let rate = row["medxfer_images_per_second"].as_f64().unwrap();
        assert!(rate > 0.0, "{row}");
        // With a reference, the ratio is ours over PyTorch's best layout.
        if let Some(best) = row["pytorch"]["best"].as_f64() {
            let ratio = row["ratio"].as_f64().unwrap();
            assert!((ratio - rate / best).abs() < 1e-9, "{row}");
        } else {
            assert!(row["ratio"].is_null(), "{row}");
        }
    }
}

#[test]
fn bad_sizes_and_missing_pythons_are_one_line_errors() {
    let small = medxfer()
        .args(["bench", "train-step", "--size", "8"])
        .output()
        .unwrap();
    assert!(one_line_error(&small).contains("--size"));
    let missing = medxfer()
        .args([
            "bench",
            "train-step",
            "--size",
            "32",
            "--batch",
            "1",
            "--rounds",
            "1",
            "--mode",
            "inference",
            "--backbone",
            "resnet18",
            "--python",
            "/nonexistent/python",
        ])
        .output()
        .unwrap();
    assert!(one_line_error(&missing).contains("/nonexistent/python"));
}
