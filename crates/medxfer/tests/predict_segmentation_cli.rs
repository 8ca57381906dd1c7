//! `medxfer predict RUN IMAGE... --masks-out DIR` on a toy segmentation run: the fold
//! ensemble's masks come back at each image's original size and cover the lesion; wrong
//! uses (unfinished run, corrupt image, missing or misplaced --masks-out, a classification
//! run) are one-line errors naming the culprit.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{
    assert_success, medxfer, one_line_error, write_toy_dataset, write_toy_segmentation_dataset,
};

fn write_config(dir: &Path, data: &Path, out: &Path, task: &str, epochs: usize) -> PathBuf {
    let name = out.file_name().unwrap().to_string_lossy();
    let path = dir.join(format!("{name}.toml"));
    let (positive, segmentation) = if task == "segmentation" {
        (
            "",
            "[segmentation]\ndecoder_channels = [32, 16, 16, 8, 8]\nloss = { dice = 1.0, bce = 1.0 }\n",
        )
    } else {
        ("positive = \"right\"", "")
    };
    std::fs::write(
        &path,
        format!(
            r#"
seed = 11
out_dir = "{out}"
task = "{task}"
[data]
source = {{ kind = "folder", root = "{data}" }}
image_size = 32
cache_dir = "{cache}"
{positive}
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
{segmentation}"#,
            out = out.display(),
            data = data.display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

fn train(config: &Path) {
    let out = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert_success(&out);
}

fn predict(run: &Path, images: &[PathBuf], extra: &[&str]) -> Output {
    medxfer()
        .arg("predict")
        .arg(run)
        .args(images)
        .args(extra)
        .output()
        .unwrap()
}

/// A mask PNG as (width, height, pixels).
fn read_mask(path: &Path) -> (u32, u32, Vec<u8>) {
    let mask = image::open(path).unwrap().to_luma8();
    (mask.width(), mask.height(), mask.into_raw())
}

fn dice(predicted: &[u8], truth: &[u8]) -> f64 {
    let (mut both, mut p, mut t) = (0usize, 0usize, 0usize);
    for (&a, &b) in predicted.iter().zip(truth) {
        both += usize::from(a != 0 && b != 0);
        p += usize::from(a != 0);
        t += usize::from(b != 0);
    }
    2.0 * both as f64 / (p + t).max(1) as f64
}

#[test]
fn a_segmentation_run_writes_masks_at_the_original_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_segmentation_dataset(&data, 6);
    let run = dir.path().join("seg-run");
    train(&write_config(dir.path(), &data, &run, "segmentation", 3));

    let images = vec![
        data.join("left/left (1).png"),
        data.join("right/right (2).png"),
    ];
    let masks_dir = dir.path().join("out/masks");
    let out = predict(&run, &images, &["--masks-out", masks_dir.to_str().unwrap()]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("2 model(s) averaged"), "{stdout}");
    for (image, name) in images.iter().zip(["left (1)", "right (2)"]) {
        let mask_path = masks_dir.join(format!("{name}_mask.png"));
        let (width, height, pixels) = read_mask(&mask_path);
        assert_eq!((width, height), (40, 32), "{name}");
        assert!(
            pixels.iter().all(|&v| v == 0 || v == 255),
            "{name}: not binary"
        );
        let truth_path = image.with_file_name(format!("{name}_mask.png"));
        let score = dice(&pixels, &read_mask(&truth_path).2);
        eprintln!("{name}: Dice {score:.3}");
        assert!(score > 0.5, "{name}: Dice {score:.3} with the true disc");
        let area = pixels.iter().filter(|&&v| v != 0).count();
        let row = format!(
            "{}\t{}\t{area}\t{:.4}",
            image.display(),
            mask_path.display(),
            area as f64 / (40.0 * 32.0)
        );
        assert!(stdout.lines().any(|l| l == row), "{row} not in\n{stdout}");
    }

    // JSON gives the same masks and areas.
    let out = predict(
        &run,
        &images[..1],
        &["--masks-out", masks_dir.to_str().unwrap(), "--json"],
    );
    assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, _, pixels) = read_mask(&masks_dir.join("left (1)_mask.png"));
    let area = pixels.iter().filter(|&&v| v != 0).count() as u64;
    assert_eq!(json[0]["lesion_pixels"].as_u64(), Some(area), "{json}");
    assert_eq!(json[0]["width"].as_u64(), Some(40), "{json}");
    let fraction = json[0]["lesion_fraction"].as_f64().unwrap();
    assert!((fraction - area as f64 / 1280.0).abs() < 1e-12, "{json}");

    refusals_name_their_culprit(dir.path(), &run, &images, &masks_dir);
}

/// Every misuse fails in one line naming the file or folder at fault, writing nothing.
fn refusals_name_their_culprit(dir: &Path, run: &Path, images: &[PathBuf], masks_dir: &Path) {
    let masks = masks_dir.to_str().unwrap();
    let line = one_line_error(&predict(run, images, &[]));
    assert!(
        line.contains("segmentation run") && line.contains("--masks-out"),
        "{line}"
    );

    let broken = dir.join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let line = one_line_error(&predict(
        run,
        &[images[0].clone(), broken],
        &["--masks-out", masks],
    ));
    assert!(line.contains("broken.png"), "{line}");
    assert!(!masks_dir.join("broken_mask.png").exists());

    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let line = one_line_error(&predict(
        run,
        images,
        &["--masks-out", file.to_str().unwrap()],
    ));
    assert!(
        line.contains("a-file") && line.contains("not a folder"),
        "{line}"
    );

    // An input named like a mask, with the masks going beside it, would be overwritten.
    let beside = dir.join("beside");
    std::fs::create_dir_all(&beside).unwrap();
    let (a, a_mask) = (beside.join("a.png"), beside.join("a_mask.png"));
    std::fs::copy(&images[0], &a).unwrap();
    std::fs::copy(&images[1], &a_mask).unwrap();
    let before = std::fs::read(&a_mask).unwrap();
    let args = ["--masks-out", beside.to_str().unwrap()];
    let line = one_line_error(&predict(run, &[a, a_mask.clone()], &args));
    assert!(
        line.contains("a_mask.png") && line.contains("overwrite"),
        "{line}"
    );
    assert_eq!(std::fs::read(&a_mask).unwrap(), before);

    // A run whose folds exist but that was never assembled (no task.json yet).
    let unfinished = dir.join("half-run");
    std::fs::create_dir_all(unfinished.join("fold_0")).unwrap();
    std::fs::copy(run.join("config.toml"), unfinished.join("config.toml")).unwrap();
    std::fs::copy(
        run.join("fold_0/model.bpk"),
        unfinished.join("fold_0/model.bpk"),
    )
    .unwrap();
    let line = one_line_error(&predict(&unfinished, images, &["--masks-out", masks]));
    assert!(
        line.contains("half-run") && line.contains("unfinished"),
        "{line}"
    );
}

#[test]
fn a_classification_run_has_no_masks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    let run = dir.path().join("cls-run");
    train(&write_config(dir.path(), &data, &run, "classification", 1));
    let image = vec![data.join("left/left (0).png")];
    let masks = dir.path().join("masks");
    let line = one_line_error(&predict(
        &run,
        &image,
        &["--masks-out", masks.to_str().unwrap()],
    ));
    assert!(
        line.contains("cls-run") && line.contains("classification run has no masks"),
        "{line}"
    );
    assert!(!masks.exists());
    assert_success(&predict(&run, &image, &[]));
}
