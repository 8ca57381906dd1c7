//! `medxfer train --jobs N`: the folds trained by N worker processes of this same binary
//! (`train --fold K`), each with an equal share of the threads, before the run is assembled.
//!
//! Why processes rather than more threads in one: a 1-thread process per fold keeps its core
//! busy in every layer, where one process's threads leave cores idle in the small products of
//! a step (measured: 1.10x for five BUSI folds on two cores, where the fifth fold runs alone;
//! README, "Training speed"). The run folder's fold locks already let
//! `--fold` processes share a run, and every fold is seeded by its number, so the predictions
//! are the ones a single process writes at the workers' thread count (a different count may
//! round sums differently).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use medxfer_events::Reporter;

use super::rayon_threads;

/// What a worker is started with: the parent's own configuration and options.
pub struct FoldWorkers {
    pub config: PathBuf,
    pub overrides: Vec<String>,
    pub allow_data_change: bool,
    pub jobs: usize,
}

impl FoldWorkers {
    /// Train `folds` with up to `jobs` workers at a time; an error names every fold whose
    /// worker failed (each worker's own error line is printed above it).
    pub fn train(&self, folds: &[usize], events: &dyn Reporter) -> anyhow::Result<()> {
        let workers = self.jobs.min(folds.len()).max(1);
        let threads = threads_per_worker(rayon_threads(), workers);
        let listed: Vec<String> = folds.iter().map(usize::to_string).collect();
        events.note(format!(
            "training folds {} in {workers} worker processes of {threads} thread(s) each",
            listed.join(", ")
        ));
        let queue = Mutex::new(folds.iter().copied().collect::<VecDeque<usize>>());
        let failed = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while failed.lock().is_ok_and(|f| f.is_empty()) {
                        let Some(fold) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                            break;
                        };
                        if let Err(reason) = self.train_one(fold, threads) {
                            if let Ok(mut failed) = failed.lock() {
                                failed.push(format!("fold {fold} ({reason})"));
                            }
                        }
                    }
                });
            }
        });
        let failed = failed.into_inner().unwrap_or_default();
        if failed.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "worker process failed for {}; finished folds are kept, run the command again to continue",
                failed.join(", ")
            )
        }
    }

    fn train_one(&self, fold: usize, threads: usize) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find medxfer: {e}"))?;
        let mut command = Command::new(exe);
        command
            .args(["train", "--no-progress", "--config"])
            .arg(&self.config)
            .args(["--fold", &fold.to_string()]);
        for setting in &self.overrides {
            command.args(["--set", setting]);
        }
        if self.allow_data_change {
            command.arg("--allow-data-change");
        }
        // Progress and errors go to the terminal as they come; the worker's closing
        // "run again without --fold" advice is the parent's business, so its stdout is dropped.
        let status = command
            .env("RAYON_NUM_THREADS", threads.to_string())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot start: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(status.to_string())
        }
    }
}

/// `total` threads (the parent's rayon pool) shared equally, at least one each.
fn threads_per_worker(total: usize, workers: usize) -> usize {
    (total / workers.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_shared_equally_and_never_below_one() {
        assert_eq!(threads_per_worker(4, 2), 2);
        assert_eq!(threads_per_worker(4, 3), 1);
        assert_eq!(threads_per_worker(2, 8), 1);
        assert_eq!(threads_per_worker(1, 0), 1);
    }
}
