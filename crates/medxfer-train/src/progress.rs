//! A progress bar per epoch on a terminal; silent otherwise (logs get one line per epoch).

use indicatif::{ProgressBar, ProgressStyle};

pub struct EpochProgress {
    bar: Option<ProgressBar>,
}

impl EpochProgress {
    pub fn new(enabled: bool, steps: usize, label: String) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(label);
            bar
        });
        EpochProgress { bar }
    }

    pub fn step(&self, running_loss: f64) {
        if let Some(bar) = &self.bar {
            if running_loss.is_finite() {
                bar.set_message(format!("loss {running_loss:.4}"));
            }
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
