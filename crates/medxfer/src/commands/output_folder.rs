//! Output folders of commands that write a run-like folder from other runs (`baseline`,
//! `ensemble`): a new or empty folder, or one this command wrote before (it holds the
//! command's marker file). Anything else would lose someone's files.

use std::path::Path;

use anyhow::Context;
use medxfer_atomic::lock::FolderLock;
use medxfer_atomic::run_files::{LOCK, METRICS, RELIABILITY_DIAGRAM};

/// Refuse `out` unless it is new, empty, or holds `marker` (`what` names the command's runs
/// in the message).
pub fn refuse_output(out: &Path, marker: &str, what: &str) -> anyhow::Result<()> {
    match std::fs::read_dir(out) {
        Ok(entries) => {
            let names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != LOCK)
                .collect();
            if !names.is_empty() && !out.join(marker).is_file() {
                anyhow::bail!(
                    "{}: holds files that are not {what} ({}{}): choose a new or empty folder",
                    out.display(),
                    names.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                    if names.len() > 3 { ", ..." } else { "" }
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::Error::new(e).context(format!("{}", out.display()))),
    }
    Ok(())
}

/// Create and lock the folder [`refuse_output`] accepts, and drop an earlier run's metrics,
/// which describe predictions about to be replaced.
pub fn claim_output(out: &Path, marker: &str, what: &str) -> anyhow::Result<FolderLock> {
    refuse_output(out, marker, what)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let lock = FolderLock::acquire(out).with_context(|| format!("{}", out.display()))?;
    for stale in [METRICS, RELIABILITY_DIAGRAM] {
        let path = out.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(lock)
}
