//! Segmentation from the command line at toy size: a U-Net run writes its masks and the
//! segmentation report; killed and restarted it ends exactly like an uninterrupted run; bad
//! masks are one-line errors naming the file.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{
    assert_success, medxfer, one_line_error, run_until_committed_then_kill,
    write_toy_segmentation_dataset,
};

fn write_config(dir: &Path, data: &Path, out: &Path, epochs: usize) -> PathBuf {
    let path = dir.join(format!(
        "seg-{}.toml",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &path,
        format!(
            r#"
seed = 11
out_dir = "{out}"
task = "segmentation"
[data]
source = {{ kind = "folder", root = "{data}" }}
image_size = 32
cache_dir = "{cache}"
[split]
kind = "kfold"
folds = 2
val_fraction = 0.25
[model]
backbone = "resnet18"
init = "scratch"
in_channels = 1
[train]
strategy = {{ kind = "scratch" }}
epochs = {epochs}
lr = 3e-3
batch_size = 4
[augment]
hflip = 0.5
rotation_degrees = 10.0
[segmentation]
decoder_channels = [32, 16, 16, 8, 8]
loss = {{ dice = 1.0, bce = 1.0 }}
"#,
            out = out.display(),
            data = data.display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

fn train(config: &Path) -> Output {
    medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

/// Every predicted mask PNG of a run, by relative path.
fn predicted_masks(run: &Path) -> Vec<(String, Vec<u8>)> {
    let csv = std::fs::read_to_string(run.join("segmentations.csv")).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let prediction = line.rsplit(',').next().unwrap().to_string();
            let bytes = std::fs::read(run.join(&prediction)).unwrap();
            (prediction, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_killed_segmentation_run_resumes_to_the_same_masks_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 6);
    let straight = dir.path().join("straight");
    let out = train(&write_config(dir.path(), &data, &straight, 4));
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Dice"), "{stdout}");
    let expected = predicted_masks(&straight);
    let csv = std::fs::read_to_string(straight.join("segmentations.csv")).unwrap();
    let test_rows = csv.lines().filter(|l| l.contains(",test,")).count();
    assert_eq!(test_rows, 12, "every image is tested once: {csv}");
    assert_eq!(expected.len(), csv.lines().count() - 1);
    for file in [
        "segmentations.csv",
        "task.json",
        "metrics.json",
        "fold_0/curves.csv",
        "gallery.png",
    ] {
        assert!(straight.join(file).exists(), "{file}");
    }
    let curves = std::fs::read_to_string(straight.join("fold_0/curves.csv")).unwrap();
    assert!(
        curves.starts_with("phase,epoch,lr,train_loss,val_loss,val_dice,val_iou,seconds\n"),
        "{curves}"
    );

    let resumed = dir.path().join("resumed");
    let config = write_config(dir.path(), &data, &resumed, 4);
    let progress = resumed.join("fold_0/progress.json");
    run_until_committed_then_kill("train", &config, &progress, "\"epochs_done\": 2");
    let out = train(&config);
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming"));
    assert_eq!(
        predicted_masks(&resumed),
        expected,
        "resumed masks differ from the uninterrupted run's"
    );

    let evaluated = medxfer().arg("evaluate").arg(&resumed).output().unwrap();
    assert_success(&evaluated);
    assert!(String::from_utf8_lossy(&evaluated.stdout).contains("Dice"));
}

/// Failed with one `error:` line naming `culprit`.
fn assert_error_naming(output: &Output, culprit: &str) {
    let line = one_line_error(output);
    assert!(line.contains(culprit), "{line}");
}

#[test]
fn bad_masks_are_one_line_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 3);
    let config = write_config(dir.path(), &data, &dir.path().join("out"), 1);
    // A missing mask.
    let mask = data.join("left/left (1)_mask.png");
    std::fs::rename(&mask, dir.path().join("kept.png")).unwrap();
    assert_error_naming(&train(&config), "left (1).png");
    std::fs::rename(dir.path().join("kept.png"), &mask).unwrap();
    // A mask of another size than its image.
    image::GrayImage::new(20, 16).save(&mask).unwrap();
    assert_error_naming(&train(&config), "left (1)_mask.png");
    // A mask with grey levels (resampled or JPEG-compressed).
    let mut grey = image::GrayImage::new(40, 32);
    for (x, _, p) in grey.enumerate_pixels_mut() {
        p.0 = [(x * 6) as u8];
    }
    grey.save(&mask).unwrap();
    assert_error_naming(&train(&config), "left (1)_mask.png");
    assert!(
        !dir.path().join("out/config.toml").exists(),
        "a refused run claimed its folder"
    );
}
