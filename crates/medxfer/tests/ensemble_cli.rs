//! `medxfer ensemble`: two runs' test probabilities averaged per image into a folder that
//! `evaluate` and `compare` read; mismatched runs and foreign output folders are one-line
//! errors.

use std::path::{Path, PathBuf};

mod support;
use support::{assert_success, medxfer, one_line_error};

/// A finished binary run folder: 40 test images over 2 folds, scores from `score(i)`.
fn write_run(dir: &Path, name: &str, score: impl Fn(usize) -> f64) -> PathBuf {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("task.json"),
        r#"{"class_names": ["benign", "malignant"], "positive_class": "malignant"}"#,
    )
    .unwrap();
    let mut csv = String::from("image_id,fold,split,label,score_benign,score_malignant\n");
    for i in 0..40 {
        let label = if i % 2 == 0 { "benign" } else { "malignant" };
        let p = score(i);
        csv += &format!("img{i:02}.png,{},test,{label},{},{p}\n", i % 2, 1.0 - p);
    }
    std::fs::write(run.join("predictions.csv"), csv).unwrap();
    run
}

#[test]
fn two_runs_average_into_a_folder_that_evaluate_and_compare_read() {
    let dir = tempfile::tempdir().unwrap();
    // Each run alone ranks some malignant images below benign ones; their errors differ.
    let a = write_run(dir.path(), "a", |i| {
        let base = if i % 2 == 1 { 0.7 } else { 0.3 };
        if i % 8 == 1 { 0.1 } else { base }
    });
    let b = write_run(dir.path(), "b", |i| {
        let base = if i % 2 == 1 { 0.8 } else { 0.4 };
        if i % 8 == 5 { 0.35 } else { base }
    });
    let out = dir.path().join("ens");
    let result = medxfer()
        .args(["ensemble", "--weights", "1,3", "--out"])
        .arg(&out)
        .args([&a, &b])
        .output()
        .unwrap();
    assert_success(&result);
    let csv = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    // img01: a 0.1, b 0.8 -> (0.1 + 3 * 0.8) / 4 = 0.625.
    let row = csv.lines().find(|l| l.starts_with("img01.png")).unwrap();
    let p: f64 = row.rsplit(',').next().unwrap().parse().unwrap();
    assert!((p - 0.625).abs() < 1e-9, "{row}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ensemble.json")).unwrap()).unwrap();
    assert_eq!(record["members"][1]["weight"], 3.0);
    assert_eq!(record["images"], 40);
    assert_eq!(record["folds_agree"], true);

    let evaluate = medxfer().arg("evaluate").arg(&out).output().unwrap();
    assert_success(&evaluate);
    let text = String::from_utf8_lossy(&evaluate.stdout);
    assert!(text.contains("AUC 1.000"), "{text}");
    let compare = medxfer().arg("compare").arg(&out).arg(&a).output().unwrap();
    assert_success(&compare);

    // Re-running into its own earlier folder is fine; a foreign folder is not touched.
    let again = medxfer()
        .args(["ensemble", "--out"])
        .arg(&out)
        .args([&a, &b])
        .output()
        .unwrap();
    assert_success(&again);
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let refused = medxfer()
        .args(["ensemble", "--out"])
        .arg(&foreign)
        .args([&a, &b])
        .output()
        .unwrap();
    let message = one_line_error(&refused);
    assert!(message.contains("notes.txt"), "{message}");
    assert_eq!(
        std::fs::read_dir(&foreign).unwrap().count(),
        1,
        "nothing written into a foreign folder"
    );
}

#[test]
fn mismatched_runs_weights_and_output_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_run(dir.path(), "a", |i| (i % 7) as f64 / 7.0);
    let b = write_run(dir.path(), "b", |i| (i % 5) as f64 / 5.0);
    let fewer = dir.path().join("fewer");
    std::fs::create_dir_all(&fewer).unwrap();
    std::fs::copy(a.join("task.json"), fewer.join("task.json")).unwrap();
    let text = std::fs::read_to_string(a.join("predictions.csv")).unwrap();
    let kept: Vec<&str> = text.lines().take(30).collect();
    std::fs::write(fewer.join("predictions.csv"), kept.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str], runs: &[&PathBuf], out: &Path| {
        medxfer()
            .arg("ensemble")
            .args(extra)
            .arg("--out")
            .arg(out)
            .args(runs)
            .output()
            .unwrap()
    };
    let message = one_line_error(&run(&[], &[&a, &fewer], &out));
    assert!(
        message.contains("fewer") && message.contains("img29.png"),
        "{message}"
    );
    let message = one_line_error(&run(&["--weights", "1"], &[&a, &b], &out));
    assert!(message.contains("--weights"), "{message}");
    let message = one_line_error(&run(&["--weights", "1,-2"], &[&a, &b], &out));
    assert!(message.contains("weight -2"), "{message}");
    let message = one_line_error(&run(&[], &[&a, &b], &a));
    assert!(message.contains("output folder is one of"), "{message}");
    assert!(!out.exists());
}
