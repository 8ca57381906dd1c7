//! `medxfer export RUN_DIR --to onnx --out DIR` from the CLI: a toy run's fold models exported
//! and run with ONNX Runtime (`export_onnxruntime.py` in the venv `.ci/setup.d/25-onnxruntime.sh`
//! makes; SKIP and pass when absent), whose fold-ensemble probabilities must match `medxfer
//! predict`'s within `TOLERANCE`; and every bad input a one-line error.

mod support;

use std::path::{Path, PathBuf};

use support::{
    assert_success, medxfer, one_line_error, train_to_the_end, write_toy_dataset,
    write_toy_run_config, write_toy_segmentation_dataset,
};

/// Max abs difference allowed between ONNX Runtime's and medxfer's probabilities (f32
/// arithmetic in a different order, and batch norm folded into the weights).
const TOLERANCE: f64 = 1e-4;

/// The toy run's image size: test images of exactly this size pass medxfer's pad-and-resize
/// unchanged, so the Python side can normalise their raw pixels itself.
const SIZE: u32 = 32;

fn venv_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cache = std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache"));
    let python = cache.join("venv/bin/python");
    let probe = std::process::Command::new(&python)
        .args(["-c", "import numpy, onnxruntime"])
        .output()
        .ok()?;
    probe.status.success().then_some(python)
}

/// Grey SIZE x SIZE test images (a disc at varying places, and a gradient), with their pixels.
fn write_test_images(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::create_dir_all(dir).unwrap();
    (0..4)
        .map(|i| {
            let image = image::GrayImage::from_fn(SIZE, SIZE, |x, y| {
                let cx = 6.0 + 6.0 * i as f32;
                let d = ((x as f32 - cx).powi(2) + (y as f32 - 16.0).powi(2)).sqrt();
                let base = if d < 7.0 { 210.0 } else { 30.0 };
                image::Luma([(base + (x * 3 + y * i) as f32 % 25.0) as u8])
            });
            let path = dir.join(format!("probe_{i}.png"));
            image.save(&path).unwrap();
            (path, image.into_raw())
        })
        .collect()
}

/// `medxfer predict --json` on the images, written with their pixels for the Python script.
fn write_cases(run: &Path, images: &[(PathBuf, Vec<u8>)], cases: &Path) {
    let output = medxfer()
        .args(["predict", "--json"])
        .arg(run)
        .args(images.iter().map(|(path, _)| path))
        .output()
        .unwrap();
    assert_success(&output);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), images.len());
    let joined: Vec<serde_json::Value> = rows
        .iter()
        .zip(images)
        .map(|(row, (_, pixels))| {
            serde_json::json!({ "pixels": pixels, "probabilities": row["probabilities"] })
        })
        .collect();
    std::fs::write(cases, serde_json::to_vec(&joined).unwrap()).unwrap();
}

fn export(run: &Path, out: &Path) -> std::process::Output {
    export_with(run, out, &[])
}

fn export_with(run: &Path, out: &Path, flags: &[&str]) -> std::process::Output {
    medxfer()
        .arg("export")
        .arg(run)
        .args(["--to", "onnx", "--out"])
        .arg(out)
        .args(flags)
        .output()
        .unwrap()
}

/// Export the run (with the one-graph ensemble when `flags` has `--ensemble`), check
/// export.json, and compare with ONNX Runtime (when installed).
fn export_and_cross_check(dir: &Path, run: &Path, label: &str, flags: &[&str]) {
    let out = dir.join(format!("onnx_{label}"));
    let output = export_with(run, &out, flags);
    assert_success(&output);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("export.json")).unwrap()).unwrap();
    assert_eq!(manifest["opset"], 13);
    assert_eq!(manifest["input"]["name"], "image");
    assert_eq!(
        manifest["input"]["shape"],
        serde_json::json!(["N", 1, 32, 32])
    );
    assert_eq!(
        manifest["class_names"],
        serde_json::json!(["left", "right"])
    );
    let folds = manifest["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2, "{manifest}");
    for fold in folds {
        let file = out.join(fold["file"].as_str().unwrap());
        assert!(std::fs::metadata(&file).unwrap().len() > 10_000, "{file:?}");
    }
    let with_ensemble = flags.contains(&"--ensemble");
    assert_eq!(out.join("ensemble.onnx").exists(), with_ensemble);
    assert_eq!(
        manifest["ensemble_file"].is_string(),
        with_ensemble,
        "{manifest}"
    );

    let Some(python) = venv_python() else {
        eprintln!("SKIP: .cache/venv with onnxruntime not found; ONNX export not run ({label})");
        return;
    };
    let images = write_test_images(&dir.join(format!("probes_{label}")));
    let cases = dir.join(format!("cases_{label}.json"));
    write_cases(run, &images, &cases);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/export_onnxruntime.py");
    let checked = std::process::Command::new(python)
        .arg(script)
        .arg(&out)
        .arg(&cases)
        .output()
        .unwrap();
    assert_success(&checked);
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let diff = report["max_abs_diff"].as_f64().unwrap();
    eprintln!("{label}: ONNX Runtime vs medxfer predict: {report}");
    assert_eq!(report["images"], 4);
    assert!(
        diff < TOLERANCE,
        "{label}: max abs difference {diff} >= {TOLERANCE}"
    );
    if with_ensemble {
        let one_graph = report["ensemble_max_abs_diff"].as_f64().unwrap();
        assert!(
            one_graph < TOLERANCE,
            "{label}: ensemble.onnx max abs difference {one_graph} >= {TOLERANCE}"
        );
    }
}

fn train_toy(dir: &Path, settings: &[&str]) -> PathBuf {
    let data = dir.join("data");
    write_toy_dataset(&data, 6);
    let config = write_toy_run_config(dir, &data, false);
    if settings.is_empty() {
        train_to_the_end(&config);
    } else {
        let mut command = medxfer();
        command
            .args(["train", "--no-progress", "--config"])
            .arg(&config);
        for setting in settings {
            command.args(["--set", setting]);
        }
        assert_success(&command.output().unwrap());
    }
    dir.join("run")
}

#[test]
fn a_resnet18_run_exports_to_onnx_matching_predict_and_bad_outputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(dir.path(), &[]);
    export_and_cross_check(dir.path(), &run, "resnet18", &["--ensemble"]);

    // Exporting again over the earlier export is allowed (model files export.json no longer
    // lists, of a fold the run does not have or the ensemble not asked for, are removed); any
    // other file is not ours.
    let earlier = dir.path().join("onnx_resnet18");
    std::fs::write(earlier.join("fold_7.onnx"), "stale").unwrap();
    assert_success(&export(&run, &earlier));
    assert!(!earlier.join("fold_7.onnx").exists());
    assert!(!earlier.join("ensemble.onnx").exists());
    assert!(earlier.join("fold_1.onnx").exists());
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "keep").unwrap();
    let message = one_line_error(&export(&run, &busy));
    assert!(
        message.contains("holds other files (notes.txt)"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "keep"
    );

    let message = one_line_error(&export(&run, &run.join("onnx")));
    assert!(message.contains("inside the run folder"), "{message}");
    assert!(!run.join("onnx").exists());

    let message = one_line_error(&export(&dir.path().join("data"), &dir.path().join("x")));
    assert!(message.contains("not a medxfer run folder"), "{message}");
}

/// The depthwise convolutions, ReLU6 (`Clip`) and TensorFlow "SAME" padding of
/// EfficientNet-Lite0, with an MLP head.
#[test]
fn an_efficientnet_lite0_run_with_an_mlp_head_exports_to_onnx_matching_predict() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(
        dir.path(),
        &[
            r#"model.backbone="efficientnet_lite0""#,
            r#"model.head={ kind = "mlp", hidden = 16 }"#,
        ],
    );
    export_and_cross_check(dir.path(), &run, "lite0_mlp", &["--ensemble"]);
}

/// ResNet-50's bottleneck blocks.
#[test]
fn a_resnet50_run_exports_to_onnx_matching_predict() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(dir.path(), &[r#"model.backbone="resnet50""#]);
    export_and_cross_check(dir.path(), &run, "resnet50", &[]);
}

/// DenseNet-121's concatenations, unfolded pre-activation batch norms (`Mul` + `Add`) and
/// transition average pooling; the toy run also trains DenseNet through `medxfer train`.
#[test]
fn a_densenet121_run_exports_to_onnx_matching_predict() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(dir.path(), &[r#"model.backbone="densenet121""#]);
    export_and_cross_check(dir.path(), &run, "densenet121", &[]);
}

/// VGG16's convolutions with bias (not folded from a batch norm) and its max pooling.
#[test]
fn a_vgg16_run_exports_to_onnx_matching_predict() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(dir.path(), &[r#"model.backbone="vgg16""#]);
    export_and_cross_check(dir.path(), &run, "vgg16", &[]);
}

/// Inception-v3's concatenated branches, 1x7 / 7x1 convolutions, average pooling that counts
/// the padding and padded stride-2 reductions.
#[test]
fn an_inception_v3_run_exports_to_onnx_matching_predict() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(dir.path(), &[r#"model.backbone="inception_v3""#]);
    export_and_cross_check(dir.path(), &run, "inception_v3", &[]);
}

#[test]
fn a_segmentation_run_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 4);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, true));
    let out = dir.path().join("onnx");
    let message = one_line_error(&export(&dir.path().join("run"), &out));
    assert!(
        message.contains("a segmentation run cannot be exported"),
        "{message}"
    );
    assert!(!out.exists());
}

/// The conv1d head (stem and residual blocks as k x 1 convolutions over the pooled features).
#[test]
fn a_conv1d_head_run_exports_to_onnx_matching_predict() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_toy(
        dir.path(),
        &[r#"model.head={ kind = "conv1d", channels = 4, blocks = 2 }"#],
    );
    export_and_cross_check(dir.path(), &run, "conv1d", &[]);
}
