//! Progress across a shard's cells, as lines for the events reporter: how many are done,
//! skipped, failed and to go, which one runs, and an ETA from the cells trained so far.

use std::time::Instant;

use crate::runner::CellOutcome;

pub struct GridProgress {
    total: usize,
    trained: usize,
    skipped: usize,
    failed: usize,
    training_seconds: f64,
    started: Option<Instant>,
}

impl GridProgress {
    pub fn new(total: usize) -> Self {
        GridProgress {
            total,
            trained: 0,
            skipped: 0,
            failed: 0,
            training_seconds: 0.0,
            started: None,
        }
    }

    fn finished_count(&self) -> usize {
        self.trained + self.skipped + self.failed
    }

    pub fn started(&mut self, cell: &str) -> String {
        self.started = Some(Instant::now());
        format!(
            "study: cell {}/{} {cell} running ({} done, {} failed)",
            self.finished_count() + 1,
            self.total,
            self.trained + self.skipped,
            self.failed
        )
    }

    pub fn finished(&mut self, cell: &str, outcome: &CellOutcome) -> String {
        let what = match outcome {
            CellOutcome::Skipped => {
                self.skipped += 1;
                "skipped (finished before with the same configuration)".to_string()
            }
            CellOutcome::Trained { seconds } => {
                self.trained += 1;
                self.training_seconds += seconds;
                format!("trained in {}", duration(*seconds))
            }
            CellOutcome::Failed(reason) => {
                self.failed += 1;
                format!("FAILED: {reason}")
            }
        };
        self.started = None;
        format!(
            "study: cell {cell} {what}; {} done ({} trained, {} skipped), {} failed, {} to go{}",
            self.trained + self.skipped,
            self.trained,
            self.skipped,
            self.failed,
            self.total - self.finished_count(),
            self.eta()
        )
    }

    /// Remaining cells times the mean training time so far (skips cost nothing, so this is
    /// an upper bound when finished cells remain).
    fn eta(&self) -> String {
        let remaining = self.total - self.finished_count();
        if remaining == 0 {
            return String::new();
        }
        if self.trained == 0 {
            return "; ETA unknown until a cell has trained".into();
        }
        let mean = self.training_seconds / self.trained as f64;
        format!("; ETA {}", duration(mean * remaining as f64))
    }
}

/// `1h 02m`, `3m 20s`, `12s`.
pub fn duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_cells_and_estimate_from_trained_ones() {
        let mut progress = GridProgress::new(4);
        assert_eq!(
            progress.started("a"),
            "study: cell 1/4 a running (0 done, 0 failed)"
        );
        let line = progress.finished("a", &CellOutcome::Skipped);
        assert!(line.ends_with("1 done (0 trained, 1 skipped), 0 failed, 3 to go; ETA unknown until a cell has trained"), "{line}");
        progress.started("b");
        let line = progress.finished("b", &CellOutcome::Trained { seconds: 100.0 });
        assert!(
            line.ends_with("2 done (1 trained, 1 skipped), 0 failed, 2 to go; ETA 3m 20s"),
            "{line}"
        );
        progress.started("c");
        let line = progress.finished("c", &CellOutcome::Failed("boom".into()));
        assert!(line.contains("FAILED: boom"), "{line}");
        assert!(line.ends_with("1 failed, 1 to go; ETA 1m 40s"), "{line}");
        assert_eq!(duration(3725.0), "1h 02m");
        assert_eq!(duration(12.4), "12s");
    }
}
