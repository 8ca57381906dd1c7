//! The committed fixtures must be what `make_fixtures.py` produces with the pinned reference
//! packages: same structure, integers, strings and booleans, and floats equal to a relative
//! 1e-12 (the reference libraries' SIMD reductions differ in the last bits between CPUs).
//! Runs when the shared venv exists (created by `.ci/setup.d/20-python-reference.sh`),
//! otherwise skips with a message.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// Relative tolerance for regenerated floats. NumPy/SciPy pick vectorised kernels by CPU, so
/// e.g. a DeLong variance came out 0.0005103479711491509 on one machine and ...508 on an
/// AMD EPYC (AVX2): a few ulps (~2e-16 relative each), far below any real change.
const RELATIVE_TOLERANCE: f64 = 1e-12;
/// Floor for values near zero, where a relative tolerance means nothing.
const ABSOLUTE_FLOOR: f64 = 1e-300;
/// Mismatches listed in a failure message; the rest are counted.
const MISMATCHES_SHOWN: usize = 20;

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
        let mismatches = json_mismatches(&fresh, &committed);
        assert!(
            mismatches.is_empty(),
            "{name}: regenerated fixture differs from the committed one (floats compared to a relative {RELATIVE_TOLERANCE:e}; re-run make_fixtures.py?):\n{}",
            summarize(&mismatches)
        );
        compared += 1;
    }
    assert_eq!(compared, 9, "expected 9 fixture files");
    eprintln!(
        "{compared} fixture files regenerated equal (floats to a relative {RELATIVE_TOLERANCE:e})"
    );
}

fn floats_match(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= (RELATIVE_TOLERANCE * a.abs().max(b.abs())).max(ABSOLUTE_FLOOR)
}

/// Every place where `fresh` and `committed` differ, as `JSON path: regenerated X, committed Y`.
fn json_mismatches(fresh: &Value, committed: &Value) -> Vec<String> {
    let mut out = Vec::new();
    compare_values("$", fresh, committed, &mut out);
    out
}

fn compare_values(path: &str, fresh: &Value, committed: &Value, out: &mut Vec<String>) {
    let mut mismatch = |what: &str| {
        out.push(format!(
            "{path}: {what}: regenerated {fresh}, committed {committed}"
        ))
    };
    match (fresh, committed) {
        (Value::Number(a), Value::Number(b)) => match (a.is_f64(), b.is_f64()) {
            (false, false) if a != b => mismatch("integers differ"),
            (true, true) => {
                let (x, y) = (
                    a.as_f64().unwrap_or(f64::NAN),
                    b.as_f64().unwrap_or(f64::NAN),
                );
                if !floats_match(x, y) {
                    mismatch(&format!(
                        "relative difference {:e}",
                        relative_difference(x, y)
                    ));
                }
            }
            (true, false) | (false, true) => mismatch("integer against float"),
            (false, false) => {}
        },
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return mismatch(&format!("array lengths {} and {}", a.len(), b.len()));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare_values(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys_a: Vec<&String> = a.keys().collect();
            let keys_b: Vec<&String> = b.keys().collect();
            if keys_a != keys_b {
                return mismatch(&format!("keys {keys_a:?} and {keys_b:?}"));
            }
            for (key, x) in a {
                compare_values(&format!("{path}.{key}"), x, &b[key], out);
            }
        }
        // Strings, booleans, nulls and differing types: exact.
        _ if fresh != committed => mismatch("values differ"),
        _ => {}
    }
}

fn relative_difference(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(ABSOLUTE_FLOOR)
}

fn summarize(mismatches: &[String]) -> String {
    let mut text = mismatches[..mismatches.len().min(MISMATCHES_SHOWN)].join("\n");
    if mismatches.len() > MISMATCHES_SHOWN {
        text.push_str(&format!(
            "\n... and {} more",
            mismatches.len() - MISMATCHES_SHOWN
        ));
    }
    text
}

#[test]
fn comparer_accepts_last_bit_differences_only() {
    let committed =
        serde_json::json!({"cases": [{"name": "a", "n": 3, "var": 0.0005103479711491509}]});
    let last_bit =
        serde_json::json!({"cases": [{"name": "a", "n": 3, "var": 0.0005103479711491508}]});
    assert_eq!(json_mismatches(&last_bit, &committed), Vec::<String>::new());
    let drifted = 0.0005103479711491509 * (1.0 + 1e-9);
    let changed = serde_json::json!({"cases": [{"name": "a", "n": 3, "var": drifted}]});
    let found = json_mismatches(&changed, &committed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("$.cases[0].var: relative difference")
            && found[0].contains("0.0005103479711491509"),
        "{found:?}"
    );
}

#[test]
fn comparer_rejects_changed_strings_integers_and_structure() {
    let committed = serde_json::json!({"name": "delong", "n": 3, "x": [1.0, 2.0], "ok": true});
    let cases = [
        (
            serde_json::json!({"name": "DeLong", "n": 3, "x": [1.0, 2.0], "ok": true}),
            "$.name",
        ),
        (
            serde_json::json!({"name": "delong", "n": 4, "x": [1.0, 2.0], "ok": true}),
            "$.n",
        ),
        (
            serde_json::json!({"name": "delong", "n": 3.0, "x": [1.0, 2.0], "ok": true}),
            "$.n",
        ),
        (
            serde_json::json!({"name": "delong", "n": 3, "x": [1.0], "ok": true}),
            "$.x",
        ),
        (
            serde_json::json!({"name": "delong", "n": 3, "x": [1.0, 2.0], "ok": null}),
            "$.ok",
        ),
        (
            serde_json::json!({"name": "delong", "n": 3, "x": [1.0, 2.0]}),
            "$",
        ),
    ];
    for (fresh, path) in cases {
        let found = json_mismatches(&fresh, &committed);
        assert_eq!(found.len(), 1, "{fresh}: {found:?}");
        assert!(found[0].starts_with(&format!("{path}: ")), "{found:?}");
    }
}

#[test]
fn float_tolerance_handles_zero_nan_and_infinities() {
    assert!(floats_match(0.0, -0.0));
    assert!(floats_match(0.0, 1e-301));
    assert!(!floats_match(0.0, 1e-12));
    assert!(floats_match(f64::NAN, f64::NAN));
    assert!(!floats_match(f64::NAN, 1.0));
    assert!(floats_match(f64::INFINITY, f64::INFINITY));
    assert!(!floats_match(f64::INFINITY, f64::NEG_INFINITY));
    assert!(!floats_match(f64::INFINITY, f64::MAX));
    assert!(floats_match(1.0, 1.0 + 5e-13));
    assert!(!floats_match(1.0, 1.0 + 2e-12));
}
