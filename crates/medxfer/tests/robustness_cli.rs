//! `medxfer robustness` on a toy two-fold run whose images have lesion masks beside them:
//! the bbox and corruption suites write their tables, per-image scores and plot, repeat
//! exactly with the same seed, reproduce the run's own out-of-fold scores on the unperturbed
//! images, and a missing mask or a bad --out is a one-line error.

use std::path::Path;
use std::process::Output;

mod support;
use support::{
    assert_success, medxfer, one_line_error, train_to_the_end, write_toy_run_config,
    write_toy_segmentation_dataset,
};

fn robustness(run: &Path, suite: &str, out: &Path, extra: &[&str]) -> Output {
    medxfer()
        .args(["robustness", "--no-progress", "--suite", suite])
        .arg(run)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// A CSV's columns by header name (plain comma splitting: the toy ids hold no commas).
fn columns_by_name(csv: &str) -> std::collections::HashMap<String, Vec<String>> {
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    (0..rows[0].len())
        .map(|c| {
            let values = rows[1..].iter().map(|r| r[c].to_string()).collect();
            (rows[0][c].to_string(), values)
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn both_suites_score_every_condition_reproducibly_and_bad_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 8);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, false));
    let run = dir.path().join("run");
    let out = dir.path().join("robust");

    let output = robustness(&run, "bbox", &out, &[]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("16 out-of-fold test images"), "{stdout}");
    assert!(stdout.contains("2 fold model(s)"), "{stdout}");
    let table = read(&out.join("robustness_bbox.csv"));
    // Header, the unperturbed images, the crop at strengths 0, 0.1, ..., 0.5.
    assert_eq!(table.lines().count(), 1 + 1 + 6, "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with("none,0,"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .nth(7)
            .unwrap()
            .starts_with("bbox_crop,5,0.5,"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&out.join("robustness_bbox.json"))).unwrap();
    assert_eq!(json["images"], 16);
    // The unperturbed images through this command score as in the run's predictions.csv.
    let gap = json["largest_gap_from_recorded"].as_f64().unwrap();
    assert!(
        gap < 1e-5,
        "unperturbed scores differ from predictions.csv by {gap}"
    );
    let p = json["conditions"][1]["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    assert!(json["conditions"][0]["p_value"].is_null());
    assert_eq!(
        image::image_dimensions(out.join("robustness_bbox.png")).unwrap(),
        (900, 560)
    );

    // Same seed, same numbers; another seed moves the random crops.
    let scores = read(&out.join("robustness_bbox_scores.csv"));
    assert_eq!(scores.lines().count(), 1 + 16);
    let again = dir.path().join("again");
    assert_success(&robustness(&run, "bbox", &again, &[]));
    assert_eq!(read(&again.join("robustness_bbox_scores.csv")), scores);
    assert_success(&robustness(&run, "bbox", &again, &["--seed", "9"]));
    let reseeded = read(&again.join("robustness_bbox_scores.csv"));
    assert_ne!(reseeded, scores);
    // ... but not the unperturbed images or the centred crop (strength 0).
    let columns = |text: &str, k: usize| -> Vec<String> {
        text.lines()
            .map(|l| l.split(',').take(k).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(columns(&reseeded, 4), columns(&scores, 4));

    let output = robustness(&run, "corruptions", &out, &["--seed", "3"]);
    assert_success(&output);
    let table = read(&out.join("robustness_corruptions.csv"));
    assert_eq!(table.lines().count(), 1 + 1 + 6 * 5, "{table}");
    for name in [
        "gaussian_noise",
        "speckle_noise",
        "gaussian_blur",
        "contrast",
        "gamma",
        "jpeg",
    ] {
        assert_eq!(
            table
                .lines()
                .filter(|l| l.starts_with(&format!("{name},")))
                .count(),
            5,
            "{name}"
        );
    }
    assert!(out.join("robustness_corruptions.png").is_file());
    // A subset of corruptions scores exactly as in the full suite (each draw is seeded by the
    // image and condition, not by what else runs).
    let subset = dir.path().join("subset");
    let args = [
        "--seed",
        "3",
        "--corruption",
        "jpeg",
        "--corruption",
        "gaussian_noise",
    ];
    assert_success(&robustness(&run, "corruptions", &subset, &args));
    let table = read(&subset.join("robustness_corruptions.csv"));
    assert_eq!(table.lines().count(), 1 + 1 + 2 * 5, "{table}");
    let full = columns_by_name(&read(&out.join("robustness_corruptions_scores.csv")));
    let part = columns_by_name(&read(&subset.join("robustness_corruptions_scores.csv")));
    assert_eq!(part.len(), 2 + 1 + 10);
    for (name, values) in &part {
        assert_eq!(Some(values), full.get(name), "{name}");
    }
    let error = one_line_error(&robustness(
        &run,
        "bbox",
        &subset,
        &["--corruption", "jpeg"],
    ));
    assert!(error.contains("--corruption"), "{error}");

    // --out may not be the run's own folder or a file.
    let error = one_line_error(&robustness(&run, "corruptions", &run, &[]));
    assert!(error.contains("own folder"), "{error}");
    let error = one_line_error(&robustness(
        &run,
        "bbox",
        &out.join("robustness_bbox.csv"),
        &[],
    ));
    assert!(error.contains("not a folder"), "{error}");

    // An image without a lesion mask stops the bbox suite with a line naming it.
    std::fs::remove_file(data.join("left/left (3)_mask.png")).unwrap();
    let error = one_line_error(&robustness(&run, "bbox", &dir.path().join("x"), &[]));
    assert!(
        error.contains("left (3).png") && error.contains("no lesion mask"),
        "{error}"
    );
    assert!(
        !dir.path().join("x").exists(),
        "a failed study left a folder"
    );
}
