//! End-to-end in a real headless Chromium: `medxfer serve` on a toy run, a real BUSI image
//! picked in the page's file input, and the probabilities, decision, overlay and model card
//! seen on the page (`serve_browser.py`, selenium). Prints SKIP and passes when chromium,
//! chromedriver, the venv with selenium (`.ci/setup.d/50-browser.sh`) or BUSI is absent.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{
    medxfer, missing_browser, repo_root, train_to_the_end, venv_python, write_toy_dataset,
    write_toy_run_config,
};

/// The shared data folder beside the repository (`../shared/data`), or MEDXFER_SHARED_DATA.
fn busi_image() -> PathBuf {
    std::env::var_os("MEDXFER_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"))
        .join("busi/malignant/malignant (1).png")
}

/// What is missing for this test, if anything.
fn missing_tool() -> Option<String> {
    if let Some(why) = missing_browser() {
        return Some(why);
    }
    let image = busi_image();
    if !image.exists() {
        return Some(format!("BUSI image not found at {}", image.display()));
    }
    None
}

#[test]
fn a_busi_image_dropped_on_the_page_shows_probabilities_and_overlay() {
    if let Some(why) = missing_tool() {
        eprintln!("SKIP: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 8);
    let config = write_toy_run_config(dir.path(), &data, false);
    train_to_the_end(&config);
    let mut server = medxfer()
        .arg("serve")
        .arg(dir.path().join("run"))
        .args(["--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let base_url = loop {
        let line = lines.next().expect("the server ended").unwrap();
        if let Some(rest) = line.split(" on ").nth(1) {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve_browser.py");
    let image = busi_image().canonicalize().unwrap();
    let output = Command::new(venv_python())
        .arg(script)
        .arg(&base_url)
        .arg(&image)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser check failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let classes: Vec<&String> = seen["probabilities"].as_object().unwrap().keys().collect();
    assert_eq!(classes, ["left", "right"]);
    let busi = image::image_dimensions(&image).unwrap();
    assert_eq!(seen["overlay_size"], serde_json::json!([busi.0, busi.1]));
    eprintln!("page showed: {seen}");
}
