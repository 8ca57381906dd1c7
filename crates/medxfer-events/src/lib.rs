//! Progress and diagnostics, reported by library crates and rendered by the program that
//! calls them: the CLI draws a progress bar on a terminal and writes plain lines to logs; tests
//! collect the events; a server could forward them. Libraries never print.

use std::sync::Mutex;
use std::time::Instant;

/// What long work is, so a renderer can decide what a log needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// A training epoch: its result follows as a [`Event::Note`], so logs need no line of its own.
    Epoch,
    /// Other long work (feature extraction, decoding, conversion): logs get a line when done.
    Work,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A line saying what is being done or what came out of it.
    Note(String),
    /// Something the user should know; the work goes on.
    Warning(String),
    /// Long work of `steps` steps starts.
    TaskStarted {
        label: String,
        steps: u64,
        kind: TaskKind,
    },
    /// One step of the current task is done; `status` (e.g. the running loss) is shown beside it.
    TaskStep { status: Option<String> },
    /// The current task is over.
    TaskFinished,
}

/// Receives events; implementations must tolerate being called from several threads.
pub trait Reporter: Send + Sync {
    fn report(&self, event: Event);
}

impl dyn Reporter + '_ {
    pub fn note(&self, line: impl Into<String>) {
        self.report(Event::Note(line.into()));
    }

    pub fn warn(&self, line: impl Into<String>) {
        self.report(Event::Warning(line.into()));
    }

    /// Start a task; it finishes when the returned guard is dropped.
    pub fn task(&self, label: impl Into<String>, steps: usize, kind: TaskKind) -> Task<'_> {
        self.report(Event::TaskStarted {
            label: label.into(),
            steps: steps as u64,
            kind,
        });
        Task { reporter: self }
    }
}

/// A running task: [`Task::step`] per step; dropping it reports the end, also on early return.
pub struct Task<'a> {
    reporter: &'a dyn Reporter,
}

impl Task<'_> {
    pub fn step(&self, status: Option<String>) {
        self.reporter.report(Event::TaskStep { status });
    }
}

impl Drop for Task<'_> {
    fn drop(&mut self) {
        self.reporter.report(Event::TaskFinished);
    }
}

/// Drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Event) {}
}

/// Keeps every event, for tests and for callers that render them later.
#[derive(Debug, Default)]
pub struct Collected {
    events: Mutex<Vec<Event>>,
}

impl Collected {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The notes and warnings, warnings prefixed `warning: `, as a log would show them.
    pub fn lines(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Note(line) => Some(line),
                Event::Warning(line) => Some(format!("warning: {line}")),
                _ => None,
            })
            .collect()
    }
}

impl Reporter for Collected {
    fn report(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

/// Plain-text rendering for logs (no terminal): notes and warnings as lines, and a line when
/// a [`TaskKind::Work`] task ends, with its step count and duration. `write` receives each line.
pub struct PlainLines<W: Fn(&str) + Send + Sync> {
    write: W,
    current: Mutex<Option<(String, u64, TaskKind, Instant)>>,
}

impl<W: Fn(&str) + Send + Sync> PlainLines<W> {
    pub fn new(write: W) -> Self {
        PlainLines {
            write,
            current: Mutex::new(None),
        }
    }
}

impl<W: Fn(&str) + Send + Sync> Reporter for PlainLines<W> {
    fn report(&self, event: Event) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        match event {
            Event::Note(line) => (self.write)(&line),
            Event::Warning(line) => (self.write)(&format!("warning: {line}")),
            Event::TaskStarted { label, kind, .. } => {
                *current = Some((label, 0, kind, Instant::now()));
            }
            Event::TaskStep { .. } => {
                if let Some((_, done, _, _)) = current.as_mut() {
                    *done += 1;
                }
            }
            Event::TaskFinished => {
                if let Some((label, done, TaskKind::Work, started)) = current.take() {
                    (self.write)(&format!(
                        "{label}: {done} step(s) in {:.1}s",
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_reports_its_end_even_on_early_return() {
        let collected = Collected::default();
        let reporter: &dyn Reporter = &collected;
        let run = || -> Result<(), ()> {
            let task = reporter.task("decoding", 3, TaskKind::Work);
            task.step(None);
            Err(())?;
            task.step(None);
            Ok(())
        };
        assert!(run().is_err());
        assert_eq!(
            collected.events(),
            vec![
                Event::TaskStarted {
                    label: "decoding".into(),
                    steps: 3,
                    kind: TaskKind::Work
                },
                Event::TaskStep { status: None },
                Event::TaskFinished,
            ]
        );
    }

    #[test]
    fn plain_lines_log_work_tasks_but_not_epochs() {
        let lines = Mutex::new(Vec::new());
        let plain = PlainLines::new(|line: &str| lines.lock().unwrap().push(line.to_string()));
        let reporter: &dyn Reporter = &plain;
        reporter.note("data: 4 images");
        drop(reporter.task("epoch 1/2", 2, TaskKind::Epoch));
        {
            let task = reporter.task("caching features", 2, TaskKind::Work);
            task.step(None);
            task.step(None);
        }
        reporter.warn("tiny validation split");
        let lines = lines.into_inner().unwrap();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "data: 4 images");
        assert!(
            lines[1].starts_with("caching features: 2 step(s) in "),
            "{lines:?}"
        );
        assert_eq!(lines[2], "warning: tiny validation split");
    }
}
