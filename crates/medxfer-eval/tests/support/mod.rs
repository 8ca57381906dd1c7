//! Loading the reference fixtures written by `fixtures/make_fixtures.py` and comparing floats.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

pub fn load(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn cases(name: &str) -> Vec<Value> {
    load(name)["cases"].as_array().expect("cases array").clone()
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

pub fn bools(v: &Value) -> Vec<bool> {
    usizes(v).into_iter().map(|x| x == 1).collect()
}

pub fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

/// |got - want| <= tol * max(1, |want|).
#[track_caller]
pub fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    let ok = got == want || (got - want).abs() <= tol * want.abs().max(1.0);
    assert!(
        ok,
        "{what}: got {got:e}, want {want:e} (diff {:e}, tol {tol:e})",
        (got - want).abs()
    );
}

#[track_caller]
pub fn assert_all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(*g, *w, tol, &format!("{what}[{i}]"));
    }
}
