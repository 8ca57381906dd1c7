//! Multi-source training from the CLI: two image folders as one run (`kind = "sources"`),
//! folds stratified by source and class, a `source` column in predictions.csv and metrics
//! per source from `medxfer evaluate`.

mod support;

use std::path::Path;

use support::{assert_success, medxfer, train_to_the_end, write_toy_dataset, write_toy_run_config};

/// The toy run config, reading the folders `a` and `b` under `dir` as two sources.
fn write_two_source_config(dir: &Path) -> std::path::PathBuf {
    let (a, b) = (dir.join("a"), dir.join("b"));
    write_toy_dataset(&a, 6);
    write_toy_dataset(&b, 4);
    let config = write_toy_run_config(dir, &a, false);
    let text = std::fs::read_to_string(&config).unwrap();
    let single = format!(
        "source = {{ kind = \"folder\", root = \"{}\" }}",
        a.display()
    );
    let sources = format!(
        "source = {{ kind = \"sources\", sources = [ \
         {{ name = \"a\", source = {{ kind = \"folder\", root = \"{}\" }} }}, \
         {{ name = \"b\", source = {{ kind = \"folder\", root = \"{}\" }} }} ] }}",
        a.display(),
        b.display()
    );
    assert!(text.contains(&single));
    std::fs::write(&config, text.replace(&single, &sources)).unwrap();
    config
}

#[test]
fn two_sources_train_as_one_run_and_are_evaluated_per_source() {
    let dir = tempfile::tempdir().unwrap();
    train_to_the_end(&write_two_source_config(dir.path()));
    let run = dir.path().join("run");
    let predictions = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let mut lines = predictions.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("image_id,fold,split,label,source,score_left"),
        "{predictions}"
    );
    // Every image is a test image once; each fold's test part holds both sources.
    let test: Vec<Vec<&str>> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|cells| cells[2] == "test")
        .collect();
    assert_eq!(test.len(), 20);
    for fold in ["0", "1"] {
        let sources: Vec<&str> = test.iter().filter(|c| c[1] == fold).map(|c| c[4]).collect();
        assert_eq!(
            sources.iter().filter(|&&s| s == "a").count(),
            6,
            "fold {fold}"
        );
        assert_eq!(
            sources.iter().filter(|&&s| s == "b").count(),
            4,
            "fold {fold}"
        );
    }
    assert!(test.iter().all(|c| c[0].starts_with(&format!("{}/", c[4]))));
    let report = medxfer().arg("evaluate").arg(&run).output().unwrap();
    assert_success(&report);
    let table = String::from_utf8_lossy(&report.stdout);
    assert!(table.contains("per source"), "{table}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let per_source = metrics["breakdown"]["per_source"].as_array().unwrap();
    let counts: Vec<(String, u64)> = per_source
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_string(),
                g["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("a".to_string(), 12), ("b".to_string(), 8)]);
}

/// Leave-one-dataset-out (`kind = "leave_one_group_out"`, `by = "source"`): fold 0 tests every
/// image of source `a` and trains on `b` alone, fold 1 the reverse. A single-source run asked
/// to leave a source out is a one-line error.
#[test]
fn leave_one_source_out_tests_each_dataset_on_a_model_trained_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_two_source_config(dir.path());
    let kfold = "kind = \"kfold\"\nfolds = 2\n";
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(kfold));
    let by_source = "kind = \"leave_one_group_out\"\nby = \"source\"\n";
    std::fs::write(&config, text.replace(kfold, by_source)).unwrap();
    train_to_the_end(&config);
    let predictions = std::fs::read_to_string(dir.path().join("run/predictions.csv")).unwrap();
    let rows: Vec<Vec<&str>> = predictions
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for (fold, held_out, other) in [("0", "a", "b"), ("1", "b", "a")] {
        let of_fold = |split: &str| -> Vec<&str> {
            rows.iter()
                .filter(|c| c[1] == fold && c[2] == split)
                .map(|c| c[4])
                .collect()
        };
        let test = of_fold("test");
        assert_eq!(
            test.len(),
            if held_out == "a" { 12 } else { 8 },
            "fold {fold}"
        );
        assert!(test.iter().all(|&s| s == held_out), "fold {fold}: {test:?}");
        let val = of_fold("val");
        assert!(
            !val.is_empty() && val.iter().all(|&s| s == other),
            "fold {fold}: {val:?}"
        );
    }

    let (single_dir, data) = (dir.path().join("single"), dir.path().join("a"));
    std::fs::create_dir_all(&single_dir).unwrap();
    let single = write_toy_run_config(&single_dir, &data, false);
    let text = std::fs::read_to_string(&single).unwrap();
    std::fs::write(&single, text.replace(kfold, by_source)).unwrap();
    let output = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(&single)
        .output()
        .unwrap();
    let line = support::one_line_error(&output);
    assert!(line.contains("has no source"), "{line}");
}
