//! A run folder loses nothing and mixes nothing: a folder that is not a run is never written,
//! a second process is refused while one trains, a failed start can be corrected, changed
//! data is not resumed silently, an undefined validation AUC does not block a resume, and an
//! unfinished run says so; `--fold` processes share a run but never a fold.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{assert_success, medxfer, one_line_error, write_toy_dataset};

fn write_config(dir: &Path, data: &Path, out: &Path, folds: usize, val_fraction: f64) -> PathBuf {
    let path = dir.join("run.toml");
    std::fs::write(
        &path,
        format!(
            r#"
seed = 3
out_dir = "{out}"
[data]
source = {{ kind = "folder", root = "{data}" }}
positive = "right"
image_size = 24
cache_dir = "{cache}"
[split]
kind = "kfold"
folds = {folds}
val_fraction = {val_fraction}
[model]
backbone = "resnet18"
init = "scratch"
[train]
strategy = {{ kind = "scratch" }}
epochs = 1
lr = 1e-3
batch_size = 4
"#,
            out = out.display(),
            data = data.display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

fn train(config: &Path, extra: &[&str]) -> Output {
    medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_folder_that_is_not_a_run_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4);
    let theirs = dir.path().join("someone-elses");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("predictions.csv"), "their,work\n").unwrap();
    let config = write_config(dir.path(), &data, &theirs, 2, 0.25);
    let message = one_line_error(&train(&config, &[]));
    assert!(
        message.contains("someone-elses") && message.contains("not a medxfer run folder"),
        "{message}"
    );
    let names: Vec<_> = std::fs::read_dir(&theirs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["predictions.csv"]);
    assert_eq!(
        std::fs::read_to_string(theirs.join("predictions.csv")).unwrap(),
        "their,work\n"
    );
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4);
    let out = dir.path().join("busy");
    std::fs::create_dir(&out).unwrap();
    // This test process holds the lock, as a training process would.
    let _lock = medxfer_atomic::FolderLock::acquire(&out).unwrap();
    let config = write_config(dir.path(), &data, &out, 2, 0.25);
    let message = one_line_error(&train(&config, &[]));
    assert!(
        message.contains(&format!("pid {}", std::process::id())) && message.contains("busy"),
        "{message}"
    );
    assert!(!out.join("config.toml").exists());
}

#[test]
fn a_failed_start_can_be_corrected_and_changed_data_is_not_resumed_silently() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4);
    let out = dir.path().join("run");
    // More folds than images of a class: refused before the folder is claimed.
    let message = one_line_error(&train(&write_config(dir.path(), &data, &out, 9, 0.25), &[]));
    assert!(message.contains("fold"), "{message}");
    let config = write_config(dir.path(), &data, &out, 2, 0.25);
    assert_success(&train(&config, &["--fold", "0"]));

    // Predicting with the unfinished run says what is missing.
    let image = data.join("left/left (0).png");
    let predicted = medxfer()
        .arg("predict")
        .arg(&out)
        .arg(&image)
        .output()
        .unwrap();
    let message = one_line_error(&predicted);
    assert!(
        message.contains("unfinished") && message.contains("without --fold"),
        "{message}"
    );

    // One more image: the manifest changed, so resuming is refused unless allowed.
    std::fs::copy(&image, data.join("left/left (extra).png")).unwrap();
    let message = one_line_error(&train(&config, &[]));
    assert!(
        message.contains("data changed")
            && message.contains("8 images then, 9 now")
            && message.contains("--allow-data-change"),
        "{message}"
    );
    let allowed = train(&config, &["--allow-data-change", "--fold", "0"]);
    assert_success(&allowed);
    assert!(String::from_utf8_lossy(&allowed.stderr).contains("resuming anyway"));
}

#[test]
fn a_one_class_validation_split_warns_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4);
    let out = dir.path().join("run");
    // Two training images per fold leave one validation image: AUC is undefined.
    let config = write_config(dir.path(), &data, &out, 2, 0.1);
    let first = train(&config, &["--fold", "0"]);
    assert_success(&first);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("validation AUC is undefined"),
        "{stderr}"
    );
    // The finished fold's progress (AUC NaN) reads back, so the run can be completed.
    let second = train(&config, &[]);
    assert_success(&second);
    assert!(out.join("predictions.csv").exists());
}

#[test]
fn a_missing_file_names_its_os_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let message = one_line_error(
        &medxfer()
            .args(["train", "--config"])
            .arg(dir.path().join("missing.toml"))
            .output()
            .unwrap(),
    );
    assert!(message.contains("missing.toml"), "{message}");
    assert_eq!(message.matches("os error 2").count(), 1, "{message}");
    let message = one_line_error(
        &medxfer()
            .arg("predict")
            .arg(dir.path().join("no-run"))
            .arg(dir.path().join("x.png"))
            .output()
            .unwrap(),
    );
    assert!(
        message.contains("no-run") && message.contains("no such run folder"),
        "{message}"
    );
}

fn spawn_fold(config: &Path, fold: &str) -> std::process::Child {
    medxfer()
        .args(["train", "--no-progress", "--fold", fold, "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `fold_dir` has committed an epoch, while `child` keeps running.
fn wait_for_first_epoch(fold_dir: &Path, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !fold_dir.join("progress.json").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the fold process ended"
        );
        assert!(std::time::Instant::now() < deadline, "no epoch committed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn fold_processes_train_one_run_side_by_side_but_never_the_same_fold() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4);
    let out = dir.path().join("run");
    let config = write_config(dir.path(), &data, &out, 2, 0.25);
    // Both processes need the same configuration; this many epochs never finish here.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("epochs = 1", "epochs = 100000")).unwrap();

    let mut fold_0 = spawn_fold(&config, "0");
    wait_for_first_epoch(&out.join("fold_0"), &mut fold_0);
    let holder = format!("pid {}", fold_0.id());
    let same_fold = one_line_error(&train(&config, &["--fold", "0"]));
    assert!(
        same_fold.contains("fold_0") && same_fold.contains(&holder),
        "{same_fold}"
    );
    let every_fold = one_line_error(&train(&config, &[]));
    assert!(
        every_fold.contains("fold_0") && every_fold.contains(&holder),
        "{every_fold}"
    );
    // A second fold trains while the first still does.
    let mut fold_1 = spawn_fold(&config, "1");
    wait_for_first_epoch(&out.join("fold_1"), &mut fold_1);
    assert!(fold_0.try_wait().unwrap().is_none());
    for mut child in [fold_0, fold_1] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
