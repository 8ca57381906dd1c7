//! The committed fixtures must be exactly what `make_fixtures.py` produces with the pinned
//! reference packages. Runs when the shared venv exists (created by
//! `.ci/setup.d/20-python-reference.sh`), otherwise skips with a message.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn venv_python() -> PathBuf {
    let cache = std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("..")
                .join(".cache")
        });
    cache.join("venv").join("bin").join("python")
}

#[test]
fn regenerated_fixtures_equal_the_committed_ones() {
    let python = venv_python();
    if !python.exists() {
        eprintln!(
            "SKIP: reference Python venv not found at {}",
            python.display()
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let script = support::fixtures_dir().join("make_fixtures.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut compared = 0;
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let fresh: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let committed = support::load(&name);
        if fresh["versions"] != committed["versions"] {
            eprintln!(
                "SKIP: the venv at {} has {} but the fixtures were made with {}; rerun .ci/setup.d/20-python-reference.sh",
                python.display(),
                fresh["versions"],
                committed["versions"]
            );
            return;
        }
        assert!(
            fresh == committed,
            "{name}: regenerated fixture differs from the committed one (re-run make_fixtures.py?)"
        );
        compared += 1;
    }
    assert_eq!(compared, 8, "expected 8 fixture files");
    eprintln!("{compared} fixture files regenerated identically");
}
