//! `medxfer baseline` on the toy dataset: a pixel and a backbone-feature baseline on the folds
//! of the toy training config, `evaluate` on the result, `compare` against the trained run
//! (same test images in the same folds) and against another baseline; folders that are not a
//! baseline's are refused.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::{
    assert_success, medxfer, one_line_error, train_to_the_end, write_toy_dataset,
    write_toy_run_config,
};

fn baseline(config: &Path, features: &str, model: &str, out: &Path) -> std::process::Output {
    medxfer()
        .args(["baseline", "--no-progress", "--config"])
        .arg(config)
        .args([
            "--features",
            features,
            "--model",
            model,
            "--pixel-size",
            "8",
        ])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// image id -> fold of a predictions file's test rows.
fn test_rows(run: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, fold, split) = (column("image_id"), column("fold"), column("split"));
    lines
        .map(|line| line.split(',').collect::<Vec<&str>>())
        .filter(|cells| cells[split] == "test")
        .map(|cells| (cells[id].to_string(), cells[fold].to_string()))
        .collect()
}

fn pooled_auc(run: &Path) -> f64 {
    let output = medxfer()
        .args(["evaluate", "--json"])
        .arg(run)
        .output()
        .unwrap();
    assert_success(&output);
    let metrics: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metrics["pooled"]["auc"].as_f64().unwrap()
}

#[test]
fn pixel_and_backbone_baselines_are_run_folders_that_evaluate_and_compare_work_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 12);
    let config = write_toy_run_config(dir.path(), &data, false);

    let logistic = dir.path().join("logistic-pixels");
    assert_success(&baseline(&config, "pixels", "logistic", &logistic));
    for file in [
        "predictions.csv",
        "task.json",
        "config.toml",
        "baseline.json",
    ] {
        assert!(logistic.join(file).is_file(), "{file} missing");
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(logistic.join("baseline.json")).unwrap())
            .unwrap();
    assert_eq!(record["n_features"], 64);
    let folds = record["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    for fold in folds {
        assert_eq!(fold["candidates"].as_array().unwrap().len(), 7);
        assert!(fold["chosen"]["c"].as_f64().is_some(), "{fold}");
    }
    // Every image is a test image of exactly one fold.
    let baseline_rows = test_rows(&logistic);
    assert_eq!(baseline_rows.len(), 24);
    let written = std::fs::read_to_string(logistic.join("predictions.csv")).unwrap();
    assert_eq!(written.lines().count(), 25, "only test rows, one per image");
    // Disc left vs right is linearly separable in 8 x 8 pixels.
    let auc = pooled_auc(&logistic);
    assert!(auc > 0.95, "pooled AUC {auc}");

    // The trained run's test images fall in the same folds as the baseline's.
    train_to_the_end(&config);
    let trained = dir.path().join("run");
    assert_eq!(test_rows(&trained), baseline_rows);
    let compared = medxfer()
        .arg("compare")
        .arg(&logistic)
        .arg(&trained)
        .output()
        .unwrap();
    assert_success(&compared);
    assert!(
        String::from_utf8_lossy(&compared.stdout).contains("DeLong"),
        "{}",
        String::from_utf8_lossy(&compared.stdout)
    );

    // Frozen (randomly initialised, as the config says) ResNet-18 features, k-NN.
    let knn = dir.path().join("knn-backbone");
    assert_success(&baseline(&config, "backbone", "knn", &knn));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(knn.join("baseline.json")).unwrap()).unwrap();
    assert_eq!(record["n_features"], 512);
    assert!(record["folds"][0]["chosen"]["k"].as_u64().is_some());
    pooled_auc(&knn);
    assert_success(
        &medxfer()
            .arg("compare")
            .arg(&knn)
            .arg(&logistic)
            .output()
            .unwrap(),
    );

    // Running again into a baseline folder replaces it; a folder of other files is refused.
    assert_success(&baseline(&config, "pixels", "svm-linear", &logistic));
    assert!(
        !logistic.join("metrics.json").exists(),
        "stale metrics kept"
    );
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let line = one_line_error(&baseline(&config, "pixels", "knn", &foreign));
    assert!(line.contains("notes.txt"), "{line}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "mine"
    );
    let line = one_line_error(&baseline(&config, "pixels", "knn", &trained));
    assert!(line.contains("not a medxfer baseline run"), "{line}");
    // A start that fails after the data are read (here: backbone weights that do not exist)
    // leaves no output folder.
    let nowhere = dir.path().join("never");
    let failed = medxfer()
        .args(["baseline", "--no-progress", "--config"])
        .arg(&config)
        .args([
            "--set",
            "model.init=\"file:/nonexistent/medxfer-weights.pth\"",
            "--set",
            "train.strategy.kind=\"full\"",
        ])
        .args(["--features", "backbone", "--model", "knn", "--out"])
        .arg(&nowhere)
        .output()
        .unwrap();
    let line = one_line_error(&failed);
    assert!(line.contains("medxfer-weights.pth"), "{line}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("decoded/loaded"),
        "failed before the images: {stderr}"
    );
    assert!(!nowhere.exists());
}
