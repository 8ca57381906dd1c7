//! External validation from the command line at toy size: a finished run's fold models on
//! another image folder, written in the run's own contract so `evaluate` reports it; the run
//! folder and folders that are not validations are never written; a class the run never
//! learnt is a one-line error.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{
    assert_success, medxfer, one_line_error, train_to_the_end, write_toy_dataset,
    write_toy_run_config, write_toy_segmentation_dataset,
};

fn write_data_file(dir: &Path, root: &Path) -> PathBuf {
    let path = dir.join("external.toml");
    std::fs::write(
        &path,
        format!(
            "[data]\nsource = {{ kind = \"folder\", root = \"{}\" }}\ncache_dir = \"{}\"\n",
            root.display(),
            dir.join("cache").display()
        ),
    )
    .unwrap();
    path
}

fn medxfer_output(args: &[&Path]) -> Output {
    let mut command = medxfer();
    for arg in args {
        command.arg(arg);
    }
    command.output().unwrap()
}

fn validate(run: &Path, data: &Path, out: &Path) -> Output {
    medxfer()
        .args(["validate", "--no-progress"])
        .arg(run)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Data rows of a CSV file, and how many name each split.
fn rows_and_test_rows(csv: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(csv).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let tests = rows.iter().filter(|r| r.contains(",test,")).count();
    (rows.len(), tests)
}

#[test]
fn a_segmentation_run_is_validated_on_another_folder_and_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 6);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, true));
    let external = dir.path().join("elsewhere");
    write_toy_segmentation_dataset(&external, 5);
    let data_file = write_data_file(dir.path(), &external);
    let out = dir.path().join("validation");
    let run = dir.path().join("run");
    assert_success(&validate(&run, &data_file, &out));
    // Each of the 2 fold models segments all 10 external images, every row a test row.
    assert_eq!(rows_and_test_rows(&out.join("segmentations.csv")), (20, 20));
    let report = medxfer_output(&[Path::new("evaluate"), &out]);
    assert_success(&report);
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains("Dice") && text.contains("pooled over 20 rows of 10 images"),
        "{text}"
    );
    assert!(out.join("gallery.png").exists());
    // A second validation into the same folder replaces the first.
    assert_success(&validate(&run, &data_file, &out));

    let message = one_line_error(&validate(&run, &data_file, &run));
    assert!(message.contains("own folder"), "{message}");
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "keep me").unwrap();
    let message = one_line_error(&validate(&run, &data_file, &theirs));
    assert!(
        message.contains("theirs") && message.contains("notes.txt"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(theirs.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn a_classification_run_is_validated_and_a_class_it_never_learnt_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, false));
    let run = dir.path().join("run");
    let external = dir.path().join("elsewhere");
    write_toy_dataset(&external, 4);
    let data_file = write_data_file(dir.path(), &external);
    let out = dir.path().join("validation");
    assert_success(&validate(&run, &data_file, &out));
    assert_eq!(rows_and_test_rows(&out.join("predictions.csv")), (16, 16));
    let report = medxfer_output(&[Path::new("evaluate"), &out]);
    assert_success(&report);
    let table = String::from_utf8_lossy(&report.stdout);
    // Every fold model scored every image: pooled metrics are the ensemble's, one per image.
    assert!(
        table.contains("AUC")
            && table.contains("fold ensemble (mean probability of 2 models) on 8 images"),
        "{table}"
    );
    assert!(table.contains("after temperature scaling"), "{table}");
    assert!(out.join("reliability.png").is_file());

    // A mistyped key names the file and the key; data that does not load leaves no folder.
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[data]\nsourc = 1\n").unwrap();
    let message = one_line_error(&validate(&run, &typo, &dir.path().join("v1")));
    assert!(
        message.contains("typo.toml") && message.contains("unknown field `sourc`"),
        "{message}"
    );
    let elsewhere = dir.path().join("other-data-file");
    std::fs::create_dir(&elsewhere).unwrap();
    let gone = write_data_file(&elsewhere, &dir.path().join("no-such-folder"));
    let message = one_line_error(&validate(&run, &gone, &dir.path().join("v1")));
    assert!(message.contains("no-such-folder"), "{message}");
    assert!(!dir.path().join("v1").exists());

    std::fs::create_dir(external.join("middle")).unwrap();
    std::fs::copy(
        external.join("left").join("left (0).png"),
        external.join("middle").join("middle (0).png"),
    )
    .unwrap();
    let message = one_line_error(&validate(&run, &data_file, &dir.path().join("v2")));
    assert!(
        message.contains("\"middle\"") && message.contains("data.classes"),
        "{message}"
    );
}

/// Each predictions.csv row's key (image, fold model) and its last score column.
fn scores(csv: &Path) -> std::collections::BTreeMap<(String, String), f64> {
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let key = (cells[0].to_string(), cells[1].to_string());
            (key, cells.last().unwrap().parse().unwrap())
        })
        .collect()
}

#[test]
fn hflip_test_time_augmentation_averages_each_image_with_its_mirror_image() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, false));
    let run = dir.path().join("run");
    let external = dir.path().join("external");
    write_toy_dataset(&external, 3);
    // The same images mirrored, under the same names.
    let mirrored = dir.path().join("mirrored");
    for class in ["left", "right"] {
        std::fs::create_dir_all(mirrored.join(class)).unwrap();
        for entry in std::fs::read_dir(external.join(class)).unwrap() {
            let path = entry.unwrap().path();
            let flipped = image::imageops::flip_horizontal(&image::open(&path).unwrap().to_luma8());
            flipped
                .save(mirrored.join(class).join(path.file_name().unwrap()))
                .unwrap();
        }
    }
    let outputs: Vec<PathBuf> = ["plain", "mirror", "tta"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    let data_dirs = [&external, &mirrored, &external];
    for (k, (out, root)) in outputs.iter().zip(data_dirs).enumerate() {
        let data_dir = dir.path().join(format!("d{k}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let data_file = write_data_file(&data_dir, root);
        let mut command = medxfer();
        command
            .args(["validate", "--no-progress"])
            .arg(&run)
            .arg("--data")
            .arg(&data_file);
        command.arg("--out").arg(out);
        if k == 2 {
            command.args(["--tta", "hflip"]);
        }
        assert_success(&command.output().unwrap());
    }
    let [plain, mirror, tta] = [0, 1, 2].map(|k| scores(&outputs[k].join("predictions.csv")));
    assert_eq!(tta.len(), 12);
    for (key, p) in &tta {
        let expected = (plain[key] + mirror[key]) / 2.0;
        // f32 softmax outputs averaged in f32 on one side, in f64 here.
        assert!((p - expected).abs() < 1e-5, "{key:?}: {p} vs {expected}");
    }
    let record = std::fs::read_to_string(outputs[2].join("external.json")).unwrap();
    assert!(
        record.contains("\"test_time_augmentation\": \"hflip\""),
        "{record}"
    );
}
