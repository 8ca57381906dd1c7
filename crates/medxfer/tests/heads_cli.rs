//! The 1-D convolutional head from the CLI: a toy run trains with it, its fold models load
//! again for `predict`, and a bad head setting is a one-line error.

mod support;

use support::{assert_success, medxfer, one_line_error, write_toy_dataset, write_toy_run_config};

const CONV1D_HEAD: &str = r#"model.head={ kind = "conv1d", channels = 4, blocks = 1 }"#;

#[test]
fn a_conv1d_head_trains_saves_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    let config = write_toy_run_config(dir.path(), &data, false);
    let output = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .args(["--set", CONV1D_HEAD])
        .output()
        .unwrap();
    assert_success(&output);
    let run = dir.path().join("run");
    let recorded = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(recorded.contains("conv1d"), "{recorded}");
    let image = data.join("left").join("left (0).png");
    let predicted = medxfer()
        .args(["predict", "--json"])
        .arg(&run)
        .arg(&image)
        .output()
        .unwrap();
    assert_success(&predicted);
    assert!(String::from_utf8_lossy(&predicted.stdout).contains("left"));

    let bad = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(&config)
        .args(["--set", r#"model.head={ kind = "conv1d", chanels = 4 }"#])
        .args([
            "--set",
            &format!("out_dir=\"{}\"", dir.path().join("bad").display()),
        ])
        .output()
        .unwrap();
    let message = one_line_error(&bad);
    assert!(message.contains("chanels"), "{message}");
}
