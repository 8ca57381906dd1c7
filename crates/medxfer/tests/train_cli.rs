//! End-to-end training from the command line at toy size: a run that is killed mid-epoch and
//! restarted ends exactly like an uninterrupted one, and bad input gives one-line errors.

use std::path::{Path, PathBuf};

mod support;
use support::{
    assert_success, medxfer, one_line_error, run_until_committed_then_kill, write_toy_dataset,
};

fn write_config(dir: &Path, data: &Path, out: &Path, epochs: usize) -> PathBuf {
    let path = dir.join("toy.toml");
    std::fs::write(
        &path,
        format!(
            r#"
seed = 7
out_dir = "{out}"
[data]
source = {{ kind = "folder", root = "{data}" }}
positive = "right"
image_size = 32
cache_dir = "{cache}"
[split]
kind = "kfold"
folds = 2
val_fraction = 0.25
[model]
backbone = "resnet18"
init = "scratch"
head = {{ kind = "mlp", hidden = 16, dropout = 0.2 }}
[train]
strategy = {{ kind = "scratch" }}
epochs = {epochs}
lr = 1e-3
batch_size = 4
[augment]
hflip = 0.5
rotation_degrees = 5.0
"#,
            out = out.display(),
            data = data.display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

#[test]
fn killed_run_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 12);

    let straight = dir.path().join("straight");
    let config = write_config(dir.path(), &data, &straight, 4);
    let out = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_success(&out);
    let expected = std::fs::read_to_string(straight.join("predictions.csv")).unwrap();
    assert!(straight.join("fold_1/model.bpk").exists());
    assert!(straight.join("fold_0/curves.csv").exists());
    assert!(straight.join("run.json").exists());

    // Same config, another folder: kill it once fold 0 has checkpointed an epoch, mid-way
    // through the next one, then run the same command again.
    let resumed = dir.path().join("resumed");
    let config = write_config(dir.path(), &data, &resumed, 4);
    let progress = resumed.join("fold_0/progress.json");
    run_until_committed_then_kill("train", &config, &progress, "\"epochs_done\": 2");
    assert!(!resumed.join("predictions.csv").exists());
    // Damage the latest checkpoint too (a disk that filled up while it was written): the
    // resume falls back to the one before it and still ends as the uninterrupted run.
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&progress).unwrap()).unwrap();
    let latest = resumed
        .join("fold_0")
        .join(committed["current"].as_str().unwrap())
        .join("model.bpk");
    let bytes = std::fs::read(&latest).unwrap();
    std::fs::write(&latest, &bytes[..bytes.len() / 2]).unwrap();

    let out = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming"), "{stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("resuming from the checkpoint before it"),
        "{stderr}"
    );
    let got = std::fs::read_to_string(resumed.join("predictions.csv")).unwrap();
    assert_eq!(
        got, expected,
        "resumed run differs from the uninterrupted one"
    );

    // The finished run predicts new images with its fold ensemble.
    let image = data.join("left/left (0).png");
    let out = medxfer()
        .arg("predict")
        .arg(&resumed)
        .arg(&image)
        .arg("--json")
        .output()
        .unwrap();
    assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probs = &json[0]["probabilities"];
    let total = probs["left"].as_f64().unwrap() + probs["right"].as_f64().unwrap();
    assert!((total - 1.0).abs() < 1e-5);
}

/// One process per fold (`--fold K`, or `--jobs 2` starting them), then a plain run that only
/// assembles: the same predictions as one process training every fold. Precise batch-norm statistics are on, so
/// their re-estimation is covered by the same determinism check.
#[test]
fn folds_trained_in_separate_processes_assemble_to_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 8);
    let precise = "train.batch_norm_stats={kind=\"precise\",images=6}";
    let train = |out: &Path, extra: &[&str]| {
        let config = write_config(dir.path(), &data, out, 2);
        medxfer()
            .args(["train", "--no-progress", "--set", precise, "--config"])
            .arg(&config)
            .args(extra)
            .output()
            .unwrap()
    };

    let together = dir.path().join("together");
    assert_success(&train(&together, &[]));
    let expected = std::fs::read_to_string(together.join("predictions.csv")).unwrap();

    let apart = dir.path().join("apart");
    for fold in ["1", "0"] {
        let out = train(&apart, &["--fold", fold]);
        assert_success(&out);
        assert!(String::from_utf8_lossy(&out.stdout).contains("run again without --fold"));
        assert!(!apart.join("predictions.csv").exists());
    }
    let out = train(&apart, &[]);
    assert_success(&out);
    let got = std::fs::read_to_string(apart.join("predictions.csv")).unwrap();
    assert_eq!(got, expected, "per-fold processes differ from one process");

    let message = one_line_error(&train(&apart, &["--fold", "2"]));
    assert!(message.contains("fold 2 does not exist"), "{message}");

    // `--jobs 2`: the same folds by two worker processes at once, then assembled.
    let workers = dir.path().join("workers");
    let out = train(&workers, &["--jobs", "2"]);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in 2 worker processes"), "{stderr}");
    let got = std::fs::read_to_string(workers.join("predictions.csv")).unwrap();
    assert_eq!(got, expected, "worker processes differ from one process");
}

#[test]
fn unknown_config_key_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 2);
    let config = write_config(dir.path(), &data, &dir.path().join("out"), 1);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("epochs = 1", "epochs = 1\nlearning_rate = 3");
    std::fs::write(&config, text).unwrap();
    let out = medxfer()
        .args(["train", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(
        err.contains("learning_rate") && err.contains("toy.toml"),
        "{err}"
    );
}

#[test]
fn corrupt_png_is_a_one_line_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 3);
    let bad = data.join("left/left (1).png");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let config = write_config(dir.path(), &data, &dir.path().join("out"), 1);
    let out = medxfer()
        .args(["train", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("left (1).png"), "{err}");
}

#[test]
fn empty_label_folder_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 3);
    std::fs::create_dir_all(data.join("empty_class")).unwrap();
    let config = write_config(dir.path(), &data, &dir.path().join("out"), 1);
    let out = medxfer()
        .args(["train", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("empty_class"), "{err}");
}

#[test]
fn mismatched_weights_file_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 3);
    let config = write_config(dir.path(), &data, &dir.path().join("out"), 1);
    // A safetensors file whose conv1 has the wrong shape for ResNet-18.
    let weights = dir.path().join("wrong.safetensors");
    write_safetensors(&weights, "conv1.weight", &[8, 3, 3, 3]);
    let out = medxfer()
        .args(["train", "--config"])
        .arg(&config)
        .args(["--set", "train.strategy={kind=\"full\"}", "--set"])
        .arg(format!("model.init=\"file:{}\"", weights.display()))
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(
        err.contains("wrong.safetensors") && err.contains("conv1"),
        "{err}"
    );
}

/// A minimal safetensors writer (8-byte header length, JSON header, raw little-endian f32).
fn write_safetensors(path: &Path, name: &str, shape: &[usize]) {
    let count: usize = shape.iter().product();
    let header = format!(
        r#"{{"{name}":{{"dtype":"F32","shape":{shape:?},"data_offsets":[0,{}]}}}}"#,
        count * 4
    );
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, count * 4));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_image_above_the_pixel_limit_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 2);
    // The toy images are 40 x 32 = 1280 pixels; the fresh cache folder makes them decoded.
    let config = write_config(dir.path(), &data, &dir.path().join("out"), 1);
    let out = medxfer()
        .args(["train", "--config"])
        .arg(&config)
        .args(["--set", "data.max_image_pixels=1000"])
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(
        err.contains(".png") && err.contains("40 x 32") && err.contains("data.max_image_pixels"),
        "{err}"
    );
}
