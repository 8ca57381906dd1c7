//! `medxfer stats`, `medxfer evaluate` and `medxfer bench stats` from the command line.

use std::path::Path;
use std::process::{Command, Output};

fn medxfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medxfer"))
        .args(args)
        .env("MEDXFER_CACHE", "/nonexistent-medxfer-cache")
        .output()
        .expect("running medxfer")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn write_scores(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("scores.csv");
    let mut text = String::from("id,diagnosis,model_a,model_b,pred\n");
    for i in 0..40 {
        let malignant = i % 3 == 0;
        let a = ((i * 7) % 10) as f64 / 10.0 * 0.7 + if malignant { 0.3 } else { 0.0 };
        let b = ((i * 3) % 10) as f64 / 10.0 * 0.8 + if malignant { 0.15 } else { 0.0 };
        let label = if malignant { "malignant" } else { "benign" };
        let pred = if a >= 0.5 { "malignant" } else { "benign" };
        text.push_str(&format!("case{i},{label},{a},{b},{pred}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn stats_auc_json_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_scores(dir.path());
    let csv = csv.to_str().unwrap();
    let base = [
        "stats",
        "auc",
        "--csv",
        csv,
        "--label",
        "diagnosis",
        "--positive",
        "malignant",
        "--score",
        "model_a",
    ];
    let delong = stdout_json(&medxfer(&[&base[..], &["--json"]].concat()));
    assert_eq!(
        keys(&delong),
        [
            "auc", "ci_high", "ci_level", "ci_low", "n_neg", "n_pos", "variance"
        ]
    );
    assert_eq!(
        (delong["n_pos"].as_u64(), delong["n_neg"].as_u64()),
        (Some(14), Some(26))
    );
    let auc = delong["auc"].as_f64().unwrap();
    assert!(delong["ci_low"].as_f64().unwrap() < auc && auc < delong["ci_high"].as_f64().unwrap());
    let boot = stdout_json(&medxfer(
        &[
            &base[..],
            &["--ci", "bootstrap", "--resamples", "300", "--json"],
        ]
        .concat(),
    ));
    assert_eq!(boot["auc"].as_f64(), Some(auc));
    let table = medxfer(&base);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success() && text.contains("AUC") && text.contains("DeLong"),
        "{text}"
    );
}

#[test]
fn stats_compare_paired_and_unpaired() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_scores(dir.path());
    let csv = csv.to_str().unwrap();
    let args = [
        "stats",
        "compare",
        "--csv",
        csv,
        "--label",
        "diagnosis",
        "--positive",
        "malignant",
        "--score-a",
        "model_a",
        "--score-b",
        "model_b",
        "--json",
    ];
    let paired = stdout_json(&medxfer(&args));
    assert_eq!(
        keys(&paired),
        [
            "auc_a",
            "auc_b",
            "ci_high",
            "ci_low",
            "difference",
            "method",
            "p_value",
            "z"
        ]
    );
    assert_eq!(paired["method"], "DeLong paired");
    let unpaired = stdout_json(&medxfer(&[&args[..], &["--unpaired"]].concat()));
    assert_eq!(unpaired["method"], "DeLong unpaired");
    assert_eq!(unpaired["auc_a"], paired["auc_a"]);
}

#[test]
fn stats_metrics_from_predictions_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_scores(dir.path());
    let csv = csv.to_str().unwrap();
    let from_pred = stdout_json(&medxfer(&[
        "stats",
        "metrics",
        "--csv",
        csv,
        "--label",
        "diagnosis",
        "--pred",
        "pred",
        "--json",
    ]));
    let from_score = stdout_json(&medxfer(&[
        "stats",
        "metrics",
        "--csv",
        csv,
        "--label",
        "diagnosis",
        "--score",
        "model_a",
        "--positive",
        "malignant",
        "--json",
    ]));
    // The pred column is model_a thresholded at 0.5, so both give the same confusion matrix.
    assert_eq!(
        from_pred["confusion_matrix"],
        from_score["confusion_matrix"]
    );
    assert_eq!(from_pred["mcc"], from_score["mcc"]);
    assert!(from_score["auc"].as_f64().is_some() && from_score["brier"].as_f64().is_some());
    let youden = stdout_json(&medxfer(&[
        "stats",
        "metrics",
        "--csv",
        csv,
        "--label",
        "diagnosis",
        "--score",
        "model_a",
        "--positive",
        "malignant",
        "--threshold",
        "youden",
        "--json",
    ]));
    assert_eq!(youden["threshold_rule"]["rule"], "youden");
}

#[test]
fn csv_errors_name_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "label,score\n1,0.4\n0,0.2\n1,high\n").unwrap();
    let out = medxfer(&[
        "stats",
        "auc",
        "--csv",
        path.to_str().unwrap(),
        "--label",
        "label",
        "--positive",
        "1",
        "--score",
        "score",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("row 3") && err.contains("high"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    std::fs::write(&path, "label,score\n1,0.4\n1,0.2\n").unwrap();
    let out = medxfer(&[
        "stats",
        "auc",
        "--csv",
        path.to_str().unwrap(),
        "--label",
        "label",
        "--positive",
        "1",
        "--score",
        "score",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("needs both classes"),
        "{err}"
    );
}

#[test]
fn evaluate_writes_metrics_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("image_id,fold,split,label,score_benign,score_malignant\n");
    for i in 0..30 {
        let malignant = i % 3 == 0;
        let p = ((i * 7) % 10) as f64 / 10.0 * 0.6 + if malignant { 0.35 } else { 0.0 };
        let label = if malignant { "malignant" } else { "benign" };
        text.push_str(&format!("img{i},{},test,{label},{},{p}\n", i % 2, 1.0 - p));
    }
    std::fs::write(dir.path().join("predictions.csv"), text).unwrap();
    std::fs::write(
        dir.path().join("task.json"),
        r#"{"class_names":["benign","malignant"],"positive_class":"malignant"}"#,
    )
    .unwrap();
    let out = medxfer(&["evaluate", dir.path().to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && table.contains("mean +- sd")
            && table.contains("pooled over 30 test rows"),
        "{table}"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["folds"].as_array().unwrap().len(), 2);
    assert!(metrics["pooled"]["auc_ci"]["low"].as_f64().is_some());
    let missing = medxfer(&["evaluate", dir.path().join("nope").to_str().unwrap()]);
    assert!(
        !missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("task.json")
    );
}

/// `compare RUN_A RUN_B` pairs two run folders by image id and gives the same paired DeLong
/// result as `stats compare` on one table holding both scores.
#[test]
fn compare_two_runs_agrees_with_stats_compare_on_the_joined_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = write_scores(dir.path());
    let text = std::fs::read_to_string(&table).unwrap();
    for (run, column) in [("run_a", 2), ("run_b", 3)] {
        let run_dir = dir.path().join(run);
        std::fs::create_dir_all(&run_dir).unwrap();
        let mut csv = String::from("image_id,fold,split,label,score_benign,score_malignant\n");
        let mut rows: Vec<&str> = text.lines().skip(1).collect();
        if run == "run_b" {
            rows.reverse(); // pairing is by id, not by row order
        }
        for line in &rows {
            let cells: Vec<&str> = line.split(',').collect();
            let p: f64 = cells[column].parse().unwrap();
            let fold = cells[0]
                .trim_start_matches("case")
                .parse::<usize>()
                .unwrap()
                % 4;
            csv.push_str(&format!(
                "{},{fold},test,{},{},{p}\n",
                cells[0],
                cells[1],
                1.0 - p
            ));
        }
        std::fs::write(run_dir.join("predictions.csv"), csv).unwrap();
        std::fs::write(
            run_dir.join("task.json"),
            r#"{"class_names":["benign","malignant"],"positive_class":"malignant"}"#,
        )
        .unwrap();
    }
    let (a, b) = (dir.path().join("run_a"), dir.path().join("run_b"));
    let runs = stdout_json(&medxfer(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ]));
    let joined = stdout_json(&medxfer(&[
        "stats",
        "compare",
        "--csv",
        table.to_str().unwrap(),
        "--label",
        "diagnosis",
        "--positive",
        "malignant",
        "--score-a",
        "model_a",
        "--score-b",
        "model_b",
        "--json",
    ]));
    for key in [
        "auc_a",
        "auc_b",
        "difference",
        "p_value",
        "ci_low",
        "ci_high",
    ] {
        let (x, y) = (
            runs["auc"][key].as_f64().unwrap(),
            joined[key].as_f64().unwrap(),
        );
        assert!((x - y).abs() < 1e-12, "{key}: {x} vs {y}");
    }
    assert_eq!(runs["n"], 40);
    assert_eq!(runs["per_fold"]["folds"].as_array().unwrap().len(), 4);
    let table_out = medxfer(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&table_out.stdout).contains("McNemar"));

    let missing = medxfer(&["compare", a.to_str().unwrap(), dir.path().to_str().unwrap()]);
    assert!(
        !missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("task.json")
    );
}

#[test]
fn bench_stats_small_without_reference() {
    let out = medxfer(&[
        "bench",
        "stats",
        "--n",
        "2000",
        "--resamples",
        "50",
        "--repeats",
        "1",
        "--python",
        "/nonexistent/python",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("medxfer") && text.contains("reference  missing"),
        "{text}"
    );
}

#[test]
fn paired_mcnemar_and_adjust() {
    let dir = tempfile::tempdir().unwrap();
    let folds = dir.path().join("folds.csv");
    std::fs::write(
        &folds,
        "fold,imagenet,scratch\n0,0.91,0.85\n1,0.88,0.86\n2,0.93,0.88\n3,0.87,0.84\n4,0.90,0.86\n",
    )
    .unwrap();
    let paired = stdout_json(&medxfer(&[
        "stats",
        "paired",
        "--csv",
        folds.to_str().unwrap(),
        "--a",
        "imagenet",
        "--b",
        "scratch",
        "--json",
    ]));
    // All five differences positive: exact Wilcoxon p = 2 / 32.
    assert!((paired["wilcoxon"]["p_value"].as_f64().unwrap() - 0.0625).abs() < 1e-12);
    assert!(paired["t_test"]["p_value"].as_f64().unwrap() < 0.01);

    let csv = write_scores(dir.path());
    let mcnemar = stdout_json(&medxfer(&[
        "stats",
        "mcnemar",
        "--csv",
        csv.to_str().unwrap(),
        "--label",
        "diagnosis",
        "--pred-a",
        "pred",
        "--pred-b",
        "pred",
        "--json",
    ]));
    assert_eq!(
        (
            mcnemar["only_a_correct"].as_u64(),
            mcnemar["p_value"].as_f64()
        ),
        (Some(0), Some(1.0))
    );

    let pvalues = dir.path().join("p.csv");
    std::fs::write(&pvalues, "test,p\na,0.01\nb,0.04\nc,0.03\nd,0.005\n").unwrap();
    let adjusted = stdout_json(&medxfer(&[
        "stats",
        "adjust",
        "--csv",
        pvalues.to_str().unwrap(),
        "--p",
        "p",
        "--json",
    ]));
    let holm: Vec<f64> = adjusted["holm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (got, want) in holm.iter().zip([0.03, 0.06, 0.06, 0.02]) {
        assert!((got - want).abs() < 1e-12, "{holm:?}");
    }
}

#[test]
fn segmentation_of_mask_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (pred, truth) = (dir.path().join("pred"), dir.path().join("truth"));
    std::fs::create_dir_all(&pred).unwrap();
    std::fs::create_dir_all(&truth).unwrap();
    let square = |left: u32| {
        image::GrayImage::from_fn(12, 10, move |x, y| {
            image::Luma([if (left..left + 4).contains(&x) && (3..7).contains(&y) {
                255
            } else {
                0
            }])
        })
    };
    square(2).save(truth.join("case1.png")).unwrap();
    square(3).save(pred.join("case1.png")).unwrap();
    let out = stdout_json(&medxfer(&[
        "stats",
        "segmentation",
        "--pred",
        pred.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--spacing",
        "0.5,2",
        "--json",
    ]));
    assert_eq!(out["n_images"], 1);
    assert!((out["mean"]["dice"].as_f64().unwrap() - 0.75).abs() < 1e-12);
    // A one-column shift with a column spacing of 2.
    assert_eq!(out["images"][0]["metrics"]["hausdorff"].as_f64(), Some(2.0));
    let bad = medxfer(&[
        "stats",
        "segmentation",
        "--pred",
        pred.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--spacing",
        "1",
    ]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("spacing"));
}
