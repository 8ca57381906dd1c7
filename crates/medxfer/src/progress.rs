//! How the CLI renders the events library crates report: on a terminal, a progress bar with
//! ETA for long work and lines printed above it; elsewhere (logs, pipes, `--no-progress`),
//! plain lines only. Everything goes to stderr, so stdout stays the command's result.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use medxfer_events::{Event, PlainLines, Reporter};

/// The reporter for this process: bars when stderr is a terminal and `bars_wanted`.
pub fn reporter(bars_wanted: bool) -> Box<dyn Reporter> {
    if bars_wanted && std::io::stderr().is_terminal() {
        Box::new(TerminalBars::default())
    } else {
        Box::new(PlainLines::new(|line: &str| eprintln!("{line}")))
    }
}

/// One bar at a time (long work in medxfer is sequential); lines are printed above it.
#[derive(Default)]
struct TerminalBars {
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalBars {
    fn print(&self, bar: &Option<ProgressBar>, line: String) {
        match bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Reporter for TerminalBars {
    fn report(&self, event: Event) {
        let Ok(mut bar) = self.bar.lock() else {
            return;
        };
        match event {
            Event::Note(line) => self.print(&bar, line),
            Event::Warning(line) => self.print(&bar, format!("warning: {line}")),
            Event::TaskStarted { label, steps, .. } => {
                let new = ProgressBar::new(steps);
                new.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                new.set_prefix(label);
                if let Some(old) = bar.replace(new) {
                    old.finish_and_clear();
                }
            }
            Event::TaskStep { status } => {
                if let Some(bar) = bar.as_ref() {
                    if let Some(status) = status {
                        bar.set_message(status);
                    }
                    bar.inc(1);
                }
            }
            Event::TaskFinished => {
                if let Some(old) = bar.take() {
                    old.finish_and_clear();
                }
            }
        }
    }
}
