//! Self-supervised pretraining from the command line at toy size: every method runs and writes
//! its encoder, curves and t-SNE; the encoder fine-tunes through `medxfer train` with
//! `init = "ssl:PATH"` and evaluates through `medxfer ssl-eval`; evaluation test images are
//! excluded; a killed run resumes, and a shorter run continues, to the same result; a collapsed
//! run is a clear error.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{
    assert_success, medxfer, one_line_error, run_until_committed_then_kill, write_toy_dataset,
};

/// A `medxfer train` config over the toy data with a 1-channel ResNet-18 at 16 px.
fn write_train_config(dir: &Path, data: &Path, out: &Path, init: &str) -> PathBuf {
    let path = dir.join("train.toml");
    std::fs::write(
        &path,
        format!(
            r#"
seed = 7
out_dir = "{out}"
[data]
source = {{ kind = "folder", root = "{data}" }}
positive = "right"
image_size = 16
cache_dir = "{cache}"
[split]
kind = "kfold"
folds = 2
val_fraction = 0.25
[model]
backbone = "resnet18"
in_channels = 1
init = "{init}"
[train]
strategy = {{ kind = "full" }}
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

/// A pretraining config at toy size: 24 px images, 16 px views, tiny heads.
fn write_ssl_config(
    dir: &Path,
    data: &Path,
    out: &Path,
    method: &str,
    epochs: usize,
    extra: &str,
) -> PathBuf {
    let method = match method {
        "simclr" => r#"{ kind = "simclr", projection_hidden = 16, projection_dim = 8 }"#,
        "moco" => {
            r#"{ kind = "moco", projection_hidden = 16, projection_dim = 8, queue_size = 64 }"#
        }
        _ => {
            r#"{ kind = "byol", projection_hidden = 16, projection_dim = 8, predictor_hidden = 16 }"#
        }
    };
    let path = dir.join(format!(
        "ssl-{}.toml",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &path,
        format!(
            r#"
seed = 3
out_dir = "{out}"
method = {method}
cache_dir = "{cache}"
{extra}
[[sources]]
name = "toy"
source = {{ kind = "folder", root = "{data}" }}
[train]
epochs = {epochs}
batch_size = 8
lr = 1e-3
[views]
resize = 24
crop = 16
blur_sigma = [0.1, 1.0]
[monitor]
tsne_iterations = 250
tsne_perplexity = 5.0
"#,
            out = out.display(),
            data = data.display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

fn pretrain(config: &Path) -> Output {
    medxfer()
        .args(["pretrain", "--no-progress", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

fn pretrain_continuing(config: &Path, from: &Path) -> Output {
    medxfer()
        .args(["pretrain", "--no-progress", "--config"])
        .arg(config)
        .arg("--continue-from")
        .arg(from)
        .output()
        .unwrap()
}

/// The curve without its timing column.
fn losses(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("curves.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn every_method_pretrains_and_its_encoder_fine_tunes_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let mut tables = Vec::new();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 12);
    for method in ["simclr", "moco", "byol"] {
        let out = dir.path().join(method);
        let config = write_ssl_config(dir.path(), &data, &out, method, 2, "");
        let result = pretrain(&config);
        assert_success(&result);
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(
            stdout.contains("ssl:") && stdout.contains("loss: train"),
            "{stdout}"
        );
        for file in [
            "encoder.bpk",
            "encoder.json",
            "curves.csv",
            "curves.png",
            "tsne.png",
            "tsne.csv",
            "summary.json",
        ] {
            assert!(out.join(file).exists(), "{method}: {file} missing");
        }
        assert_eq!(
            losses(&out).len(),
            3,
            "{method}: header + one row per epoch"
        );
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("encoder.json")).unwrap())
                .unwrap();
        assert_eq!(info["backbone"], "resnet18");
        assert_eq!(info["in_channels"], 1);
        assert_eq!(info["input_size"], 16);
        assert_eq!(info["method"], method);
        // 24 images, 20% held out for the validation loss.
        let tsne = std::fs::read_to_string(out.join("tsne.csv")).unwrap();
        assert_eq!(tsne.lines().count(), 25);

        // The encoder initialises a classifier in `medxfer train`.
        let encoder = out.join("encoder.bpk");
        let run = dir.path().join(format!("train-{method}"));
        let train = write_train_config(
            dir.path(),
            &data,
            &run,
            &format!("ssl:{}", encoder.display()),
        );
        let result = medxfer()
            .args(["train", "--no-progress", "--config"])
            .arg(&train)
            .output()
            .unwrap();
        assert_success(&result);
        assert!(run.join("predictions.csv").exists());

        // And its frozen embeddings are scored by k-NN and a linear probe.
        let json = dir.path().join(format!("eval-{method}.json"));
        let result = medxfer()
            .args(["ssl-eval", "--k", "3", "--encoder"])
            .arg(&encoder)
            .arg("--config")
            .arg(&train)
            .arg("--out")
            .arg(&json)
            .output()
            .unwrap();
        assert_success(&result);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(report["folds"].as_array().unwrap().len(), 2);
        let bal = report["mean_linear_probe"]["balanced_accuracy"]
            .as_f64()
            .unwrap();
        assert!((0.0..=1.0).contains(&bal), "{bal}");
        let f1 = report["mean_linear_probe"]["f1_weighted"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f1), "{f1}");
        // Mean and sample sd (n - 1) of the two folds, to rounding.
        let per_fold: Vec<f64> = report["folds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["linear_probe"]["balanced_accuracy"].as_f64().unwrap())
            .collect();
        let mean = (per_fold[0] + per_fold[1]) / 2.0;
        let sd = (per_fold[0] - per_fold[1]).abs() / 2f64.sqrt();
        assert!((bal - mean).abs() < 1e-12, "{bal} vs {mean}");
        let reported_sd = report["sd_linear_probe"]["balanced_accuracy"]
            .as_f64()
            .unwrap();
        assert!((reported_sd - sd).abs() < 1e-12, "{reported_sd} vs {sd}");
        tables.push((method, json, run, report));
    }

    // `medxfer table` lays the probes and fine-tuned runs side by side, mean ± sd over folds,
    // from the very files the commands above wrote.
    let mut table = medxfer();
    table.args([
        "table",
        "--metrics",
        "balanced_accuracy,mcc",
        "--per-fold",
        "--csv",
    ]);
    table.arg(dir.path().join("table.csv"));
    for (method, json, run, _) in &tables {
        table.arg(format!("{method}/probe={}", json.display()));
        table.arg(format!("{method}/fine-tuned={}", run.display()));
    }
    let result = table.output().unwrap();
    assert_success(&result);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.starts_with("| Arm | probe: Bal. acc. | probe: MCC | fine-tuned: Bal. acc. |"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.path().join("table.csv")).unwrap();
    for (method, _, run, report) in &tables {
        let mean_probe = report["mean_linear_probe"]["balanced_accuracy"]
            .as_f64()
            .unwrap();
        let metrics: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap())
                .unwrap();
        let mean_tuned = metrics["across_folds"]["mcc"]["mean"].as_f64().unwrap();
        let value = |group: &str, metric: &str| -> f64 {
            let prefix = format!("{method},{group},");
            let suffix = format!(",{metric},mean,");
            let line = csv
                .lines()
                .find(|l| l.starts_with(&prefix) && l.contains(&suffix))
                .unwrap_or_else(|| panic!("{prefix}..{suffix} in {csv}"));
            line.rsplit(',').next().unwrap().parse().unwrap()
        };
        assert!((value("probe", "balanced_accuracy") - mean_probe).abs() < 1e-12);
        assert!((value("fine-tuned", "mcc") - mean_tuned).abs() < 1e-12);
        assert!(stdout.contains(&format!("| {method} |")), "{stdout}");
    }

    // The random-initialisation baseline of the same evaluation: its architecture and input
    // size are the config's, after --set (here 16 px raised to 24 px).
    let train = dir.path().join("train.toml");
    let random_json = dir.path().join("random-probe.json");
    let result = medxfer()
        .args(["ssl-eval", "--encoder", "random", "--fold", "1"])
        .args(["--set", "data.image_size=24", "--config"])
        .arg(&train)
        .arg("--out")
        .arg(&random_json)
        .output()
        .unwrap();
    assert_success(&result);
    assert!(String::from_utf8_lossy(&result.stdout).contains("mean"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&random_json).unwrap()).unwrap();
    assert_eq!(
        report["folds"][0]["encoder"].as_str().unwrap(),
        "random resnet18 (1 channel(s), 24 px)"
    );
}

#[test]
fn evaluation_test_images_are_excluded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 10);
    let train = write_train_config(dir.path(), &data, &dir.path().join("unused"), "scratch");
    let extra = format!(
        "[exclude]\ntrain_config = \"{}\"\nfold = 1\n",
        train.display()
    );
    let out = dir.path().join("excluding");
    let config = write_ssl_config(dir.path(), &data, &out, "simclr", 1, &extra);
    let result = pretrain(&config);
    assert_success(&result);
    let stderr = String::from_utf8_lossy(&result.stderr);
    // 2-fold CV of 20 images: fold 1 tests on 10 of them.
    assert!(
        stderr.contains(
            "excluded 10 pretraining image(s) that are among the 10 test images of fold 1"
        ),
        "{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["excluded_test_images"], 10);
    assert_eq!(
        summary["pool_train_images"].as_u64().unwrap()
            + summary["pool_val_images"].as_u64().unwrap(),
        10
    );

    let bad = write_ssl_config(
        dir.path(),
        &data,
        &dir.path().join("bad-fold"),
        "simclr",
        1,
        &extra.replace("fold = 1", "fold = 2"),
    );
    let result = pretrain(&bad);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("exclude.fold") && stderr.contains("2 fold(s)"),
        "{stderr}"
    );
}

#[test]
fn killed_or_shorter_pretraining_resumes_or_continues_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 12);
    let straight = dir.path().join("straight");
    let straight_run = pretrain(&write_ssl_config(
        dir.path(),
        &data,
        &straight,
        "moco",
        4,
        "",
    ));
    assert_success(&straight_run);
    // A few toy steps at the paper's momentum 0.999 leave the key encoder nearly random.
    let stderr = String::from_utf8_lossy(&straight_run.stderr);
    assert!(
        stderr.contains("warning: moco: the key encoder keeps")
            && stderr.contains("set method.momentum to"),
        "{stderr}"
    );

    let resumed = dir.path().join("resumed");
    let config = write_ssl_config(dir.path(), &data, &resumed, "moco", 4, "");
    let progress = resumed.join("progress.json");
    run_until_committed_then_kill("pretrain", &config, &progress, "\"epochs_done\": 1");
    assert!(
        !resumed.join("encoder.bpk").exists(),
        "killed too late to test resuming"
    );

    let result = pretrain(&config);
    assert_success(&result);
    assert!(String::from_utf8_lossy(&result.stderr).contains("resuming after epoch"));
    assert_eq!(
        losses(&resumed),
        losses(&straight),
        "resumed run differs from the uninterrupted one"
    );
    assert!(resumed.join("encoder.bpk").exists());

    // A finished shorter run trained on into a new folder (`--continue-from`) also ends as the
    // uninterrupted run, and the shorter run is left as it was.
    let short = dir.path().join("short");
    assert_success(&pretrain(&write_ssl_config(
        dir.path(),
        &data,
        &short,
        "moco",
        2,
        "",
    )));
    let short_curve = losses(&short);
    let short_encoder = std::fs::read(short.join("encoder.bpk")).unwrap();

    let continued = dir.path().join("continued");
    let config = write_ssl_config(dir.path(), &data, &continued, "moco", 4, "");
    let result = pretrain_continuing(&config, &short);
    assert_success(&result);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("after its epoch 2"), "{stderr}");
    assert_eq!(
        losses(&continued),
        losses(&straight),
        "the continued run differs from the uninterrupted 4-epoch one"
    );
    // (Encoder files are not compared byte for byte: burn stores per-process parameter ids.)
    assert_eq!(losses(&short), short_curve, "the source run was changed");
    assert_eq!(
        std::fs::read(short.join("encoder.bpk")).unwrap(),
        short_encoder,
        "the source encoder was changed"
    );
    let progress = std::fs::read_to_string(continued.join("progress.json")).unwrap();
    assert!(progress.contains("\"after_epoch\": 2"), "{progress}");

    // Any other difference than the epochs is refused, naming the setting, and writes nothing.
    let other = dir.path().join("other");
    let bad = write_ssl_config(dir.path(), &data, &other, "moco", 4, "");
    let text = std::fs::read_to_string(&bad)
        .unwrap()
        .replace("lr = 1e-3", "lr = 2e-3");
    std::fs::write(&bad, text).unwrap();
    let result = pretrain_continuing(&bad, &short);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("train.lr") && stderr.contains("short") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!other.exists(), "a refused continuation claimed its folder");
}

#[test]
fn collapse_and_bad_config_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    // A threshold above any real spread marks the run as collapsed: the encoder and curves
    // are written, the collapse recorded, and the command fails saying so.
    let out = dir.path().join("collapsed");
    let config = write_ssl_config(dir.path(), &data, &out, "byol", 1, "");
    let result = medxfer()
        .args([
            "pretrain",
            "--no-progress",
            "--set",
            "monitor.collapse_threshold=0.999",
            "--set",
            "monitor.tsne=false",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("warning: byol epoch 1: the projections have collapsed"),
        "{stderr}"
    );
    let last = stderr.trim().lines().last().unwrap();
    assert!(last.starts_with("error: byol run collapsed"), "{last}");
    assert!(out.join("encoder.bpk").exists());
    assert!(
        std::fs::read_to_string(out.join("curves.csv"))
            .unwrap()
            .contains(",true,")
    );

    let result = medxfer()
        .args(["pretrain", "--set", "train.epoch=3", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("epoch") && stderr.contains(".toml"),
        "{stderr}"
    );
}

/// Per-fold encoders through `{fold}` in the init path: a gray (1-channel) encoder initialises
/// a 3-channel classifier, the run takes the encoder's normalisation (recorded in `input.json`
/// for `medxfer predict`), a missing fold's encoder is a one-line error naming it, and a
/// `--fold` process needs only its own fold's encoder.
#[test]
fn per_fold_gray_encoders_initialise_an_rgb_run_with_their_normalisation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 12);
    let out = dir.path().join("simclr");
    assert_success(&pretrain(&write_ssl_config(
        dir.path(),
        &data,
        &out,
        "simclr",
        1,
        "",
    )));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("encoder.json")).unwrap()).unwrap();
    let encoder_mean = info["mean"][0].as_f64().unwrap();
    let encoders = dir.path().join("encoders");
    std::fs::create_dir_all(&encoders).unwrap();
    let copy_fold = |fold: usize| {
        for ext in ["bpk", "json"] {
            std::fs::copy(
                out.join(format!("encoder.{ext}")),
                encoders.join(format!("enc-fold{fold}.{ext}")),
            )
            .unwrap();
        }
    };
    copy_fold(0);

    let run = dir.path().join("train-rgb");
    let init = format!("ssl:{}/enc-fold{{fold}}.bpk", encoders.display());
    let train = write_train_config(dir.path(), &data, &run, &init);
    let text = std::fs::read_to_string(&train)
        .unwrap()
        .replace("in_channels = 1", "in_channels = 3");
    std::fs::write(&train, text).unwrap();
    let train_command = || {
        medxfer()
            .args(["train", "--no-progress", "--config"])
            .arg(&train)
            .output()
            .unwrap()
    };

    let missing = train_command();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains("enc-fold1.bpk") && last.contains("fold 1"),
        "{stderr}"
    );

    // One fold's process needs only that fold's encoder.
    let fold_zero = medxfer()
        .args(["train", "--no-progress", "--fold", "0", "--config"])
        .arg(&train)
        .output()
        .unwrap();
    assert_success(&fold_zero);
    assert!(!run.join("predictions.csv").exists());

    copy_fold(1);
    let result = train_command();
    assert_success(&result);
    assert!(run.join("predictions.csv").exists());
    let input: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("input.json")).unwrap()).unwrap();
    let mean: Vec<f64> = input["mean"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(mean, vec![encoder_mean; 3]);
    assert!(String::from_utf8_lossy(&result.stderr).contains("enc-fold0.json"));
}

/// Continued pretraining (`model.init`): a pretraining run starts from an earlier encoder, and
/// an init file that does not exist is a one-line error naming it, before any folder is made.
#[test]
fn pretraining_continues_from_an_encoder_and_refuses_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    let first = dir.path().join("first");
    assert_success(&pretrain(&write_ssl_config(
        dir.path(),
        &data,
        &first,
        "simclr",
        1,
        "",
    )));

    let missing = dir.path().join("missing");
    let init = format!("[model]\ninit = \"ssl:{}/none.bpk\"", first.display());
    let result = pretrain(&write_ssl_config(
        dir.path(),
        &data,
        &missing,
        "moco",
        1,
        &init,
    ));
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains("none.bpk"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error").count(), 1, "{stderr}");
    assert!(!missing.exists());

    let continued = dir.path().join("continued");
    let init = format!("[model]\ninit = \"ssl:{}/encoder.bpk\"", first.display());
    let result = pretrain(&write_ssl_config(
        dir.path(),
        &data,
        &continued,
        "moco",
        1,
        &init,
    ));
    assert_success(&result);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("encoder starts from ssl:"), "{stderr}");
    assert!(continued.join("encoder.bpk").exists());
}

/// An SSL encoder fine-tuned with ULMFiT's gradual unfreezing under timm's layer-wise rate
/// decay: the curves show the head phase, one phase per newly unfrozen stage from the top
/// (ResNet-18: layer4 first), then the whole network; bad settings are one-line errors naming
/// the key.
#[test]
fn gradual_unfreezing_with_layer_decay_fine_tunes_an_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 12);
    let out = dir.path().join("simclr");
    let ssl = write_ssl_config(dir.path(), &data, &out, "simclr", 1, "");
    assert_success(&pretrain(&ssl));
    let run = dir.path().join("gradual");
    let init = format!("ssl:{}", out.join("encoder.bpk").display());
    let train = write_train_config(dir.path(), &data, &run, &init);
    let gradual = r#"train.strategy={ kind = "gradual_unfreezing", head_epochs = 1, head_lr = 1e-3, epochs_per_stage = 1 }"#;
    let train_with = |decay: &str, strategy: &str| {
        medxfer()
            .args(["train", "--no-progress", "--config"])
            .arg(&train)
            .args([
                "--set",
                strategy,
                "--set",
                &format!("train.layer_decay={decay}"),
            ])
            .output()
            .unwrap()
    };

    let error = one_line_error(&train_with("1.5", gradual));
    assert!(error.contains("train.layer_decay"), "{error}");
    let no_stage = gradual.replace("epochs_per_stage = 1", "epochs_per_stage = 0");
    let error = one_line_error(&train_with("0.5", &no_stage));
    assert!(error.contains("epochs_per_stage"), "{error}");
    assert!(!run.exists(), "a refused config left {}", run.display());

    assert_success(&train_with("0.5", gradual));
    let curves = std::fs::read_to_string(run.join("fold_0").join("curves.csv")).unwrap();
    let mut phases: Vec<&str> = curves
        .lines()
        .skip(1)
        .map(|row| row.split(',').next().unwrap())
        .collect();
    phases.dedup();
    assert_eq!(
        phases,
        [
            "head",
            "unfreeze_layer4",
            "unfreeze_layer3",
            "unfreeze_layer2",
            "unfreeze_layer1",
            "unfrozen"
        ],
        "{curves}"
    );
    let predictions = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    assert_eq!(
        predictions.lines().filter(|l| l.contains(",test,")).count(),
        24
    );
}
