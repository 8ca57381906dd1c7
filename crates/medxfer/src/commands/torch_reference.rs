//! The PyTorch side of the benchmarks that print a ratio against PyTorch: which Python has
//! `torch` (and `timm`), and running a reference script with it. The scripts live in
//! `crates/medxfer/bench/` and are compiled into the binary, so `medxfer bench` works from any
//! folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Pythons tried in order: `--python`, `$MEDXFER_TORCH_PYTHON`, the cache's `torch-venv`
/// (`python3 -m venv .cache/torch-venv && .cache/torch-venv/bin/pip install torch timm`),
/// the project venv, `python3`. The first that runs `imports` (e.g. `import torch, timm`)
/// wins.
pub fn find_torch_python(explicit: Option<&Path>, imports: &str) -> Option<PathBuf> {
    if let Some(python) = explicit {
        return Some(python.to_path_buf());
    }
    let cache = std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".cache"));
    let mut candidates: Vec<PathBuf> = std::env::var_os("MEDXFER_TORCH_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(cache.join("torch-venv/bin/python"));
    candidates.push(cache.join("venv/bin/python"));
    candidates.push(PathBuf::from("python3"));
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", imports])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

/// Run `script` (its source text, as `python -c`) with `python` and `args` at `threads` threads; its last
/// stdout line is a JSON object.
pub fn run_script(
    python: &Path,
    name: &str,
    script: &str,
    args: &[String],
    threads: usize,
) -> anyhow::Result<serde_json::Value> {
    let threads = threads.to_string();
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .env("OMP_NUM_THREADS", &threads)
        .env("MKL_NUM_THREADS", &threads)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "{name} with {}: {}",
            python.display(),
            stderr.trim().lines().last().unwrap_or("failed")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.trim().lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{name}: unreadable output {last:?}"))
}
