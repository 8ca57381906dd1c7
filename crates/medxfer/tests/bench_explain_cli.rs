//! `medxfer bench explain` on a toy two-fold run: it times every fold model's map and says
//! why there is no PyTorch ratio; a stage the backbone lacks or a too small size is a
//! one-line error.

mod support;
use support::{
    assert_success, medxfer, one_line_error, train_to_the_end, write_toy_dataset,
    write_toy_run_config,
};

#[test]
fn grad_cam_is_timed_per_image_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6);
    train_to_the_end(&write_toy_run_config(dir.path(), &data, false));
    let run = dir.path().join("run");
    let bench = |extra: &[&str]| {
        medxfer()
            .args(["bench", "explain"])
            .arg(&run)
            .args(extra)
            .output()
            .unwrap()
    };
    let output = bench(&["--images", "2", "--size", "64"]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("gradcam: 2 synthetic images at 64 px, 2 fold model(s)"),
        "{stdout}"
    );
    let per_image: f64 = stdout
        .split("medxfer: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no time per image in {stdout}"));
    assert!(per_image > 0.0, "{stdout}");
    assert!(stdout.contains("reference: "), "{stdout}");

    let error = one_line_error(&bench(&["--images", "1", "--stage", "9"]));
    assert!(error.contains("stage 9 does not exist"), "{error}");
    let error = one_line_error(&bench(&["--images", "1", "--size", "8"]));
    assert!(error.contains("8 px"), "{error}");
    let error = one_line_error(&bench(&[
        "--images",
        "1",
        "--size",
        "32",
        "--python",
        "/nonexistent/python",
    ]));
    assert!(error.contains("/nonexistent/python"), "{error}");
}
