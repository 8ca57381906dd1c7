//! Running a study: every cell of this process' shard is a normal run folder under
//! `STUDY_DIR/cells/`, trained in-process through the same `medxfer_train::run::run` call that
//! `medxfer train --config BASE --set KEY=VALUE ...` makes. A cell whose folder already holds
//! a finished run of the same resolved configuration is skipped; an unfinished one resumes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use medxfer_atomic::run_files::{
    CONFIG, METRICS, RELIABILITY_DIAGRAM, RUN_RECORD, SEGMENTATION_GALLERY,
};
use medxfer_eval::predictions::TaskKind;
use medxfer_events::Reporter;
use medxfer_train::TrainConfig;
use medxfer_train::run::{RunOptions, RunSummary};
use medxfer_train::segmentation::config::TaskChoice;

use crate::StudyError;
use crate::definition::StudyDefinition;
use crate::folder::{StudyFolder, StudyManifest};
use crate::grid::{self, Cell, Shard};
use crate::progress::GridProgress;
use crate::store::Store;

/// A cell with its resolved run configuration (base + `set` + axis values + its folder).
#[derive(Debug, Clone)]
pub struct PlannedCell {
    pub cell: Cell,
    pub dir: PathBuf,
    pub config: TrainConfig,
}

/// Every cell of a study resolved and validated, before anything runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub manifest: StudyManifest,
    pub folder: StudyFolder,
    pub cells: Vec<PlannedCell>,
}

/// Resolve every cell's configuration; one invalid cell (e.g. strategy `linear_probe` on a
/// scratch initialisation) stops the study before it starts, naming the cell and the key.
pub fn plan(definition: &StudyDefinition) -> Result<Plan, StudyError> {
    let cells = grid::cells(definition);
    grid::check_unique_names(&cells)?;
    let folder = StudyFolder::new(&definition.out_dir);
    let mut planned = Vec::with_capacity(cells.len());
    for cell in &cells {
        let dir = folder.cell_dir(&cell.name);
        let mut overrides = definition.set.clone();
        overrides.extend(cell.overrides());
        overrides.push(format!(
            "out_dir={}",
            toml::Value::String(dir.to_string_lossy().into_owned())
        ));
        let config =
            TrainConfig::from_toml_str(&definition.base_text, &overrides).map_err(|message| {
                StudyError::Cell {
                    cell: cell.name.clone(),
                    message: format!(
                        "{}: {message} (leave the combination out with [[exclude]])",
                        definition.base_path.display()
                    ),
                }
            })?;
        planned.push(PlannedCell {
            cell: cell.clone(),
            dir,
            config,
        });
    }
    Ok(Plan {
        manifest: StudyManifest::of(definition, cells),
        folder,
        cells: planned,
    })
}

/// Where a cell's run folder stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    NotStarted,
    /// Claimed by a run of this configuration that has not finished (resumes).
    Unfinished,
    /// A finished run of this very configuration (skipped).
    Finished,
    /// The folder holds a run of another configuration (the study definition changed).
    Foreign(String),
}

pub fn cell_state(dir: &Path, config: &TrainConfig) -> CellState {
    let config_path = dir.join(CONFIG);
    if !config_path.exists() {
        return CellState::NotStarted;
    }
    match TrainConfig::load(&config_path, &[]) {
        Ok(recorded) if recorded == *config => {
            if dir.join(RUN_RECORD).exists() {
                CellState::Finished
            } else {
                CellState::Unfinished
            }
        }
        Ok(_) => CellState::Foreign(format!(
            "{} was run with another configuration than the study now gives this cell",
            config_path.display()
        )),
        Err(e) => CellState::Foreign(e.to_string()),
    }
}

/// What happened to one cell in this process.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOutcome {
    Skipped,
    Trained { seconds: f64 },
    Failed(String),
}

/// What a shard did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudySummary {
    pub study_dir: PathBuf,
    pub cells_in_grid: usize,
    pub cells_in_shard: usize,
    pub trained: Vec<String>,
    pub skipped: Vec<String>,
    /// (cell, one-line reason)
    pub failed: Vec<(String, String)>,
}

/// Whether `run_study` keeps the store up to date as cells finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUpdates {
    /// Write each finished or skipped cell to `STUDY_DIR/study.sqlite` at once.
    EachCell,
    /// Leave the store alone (SQLite's WAL mode needs shared memory, which network file
    /// systems do not give across machines); `medxfer study merge` builds it afterwards.
    None,
}

/// Run this shard's cells one after another; a failing cell is reported and the others go
/// on. With [`StoreUpdates::EachCell`], each finished or skipped cell is written to the
/// study's store as soon as it is done.
pub fn run_study(
    plan: &Plan,
    shard: Shard,
    store_updates: StoreUpdates,
    events: &dyn Reporter,
) -> Result<StudySummary, StudyError> {
    plan.folder.prepare(&plan.manifest)?;
    let mut store = match store_updates {
        StoreUpdates::EachCell => {
            let mut store = Store::open(&plan.folder.store_path())?;
            store.record_study(&plan.manifest)?;
            Some(store)
        }
        StoreUpdates::None => None,
    };
    let mine: Vec<&PlannedCell> = plan.cells.iter().filter(|c| shard.takes(&c.cell)).collect();
    events.note(format!(
        "study {}: {} cells in the grid, shard {}/{} runs {} of them",
        plan.manifest.name,
        plan.cells.len(),
        shard.index,
        shard.count,
        mine.len()
    ));
    let mut summary = StudySummary {
        study_dir: plan.folder.path().to_path_buf(),
        cells_in_grid: plan.cells.len(),
        cells_in_shard: mine.len(),
        ..StudySummary::default()
    };
    let mut progress = GridProgress::new(mine.len());
    for cell in mine {
        events.note(progress.started(&cell.cell.name));
        let outcome = match run_cell(cell, events).and_then(|outcome| {
            validate_externals(plan, cell, events)?;
            Ok(outcome)
        }) {
            Ok(outcome) => outcome,
            Err(e) => CellOutcome::Failed(e.to_string()),
        };
        if let Some(store) = store
            .as_mut()
            .filter(|_| !matches!(outcome, CellOutcome::Failed(_)))
        {
            let externals = plan.folder.external_dirs(&plan.manifest, &cell.cell.name);
            store.record_cell(&plan.manifest, &cell.cell, &cell.dir, &externals)?;
        }
        let line = progress.finished(&cell.cell.name, &outcome);
        match &outcome {
            CellOutcome::Skipped => summary.skipped.push(cell.cell.name.clone()),
            CellOutcome::Trained { .. } => summary.trained.push(cell.cell.name.clone()),
            CellOutcome::Failed(reason) => summary
                .failed
                .push((cell.cell.name.clone(), reason.clone())),
        }
        match outcome {
            CellOutcome::Failed(_) => events.warn(line),
            _ => events.note(line),
        }
    }
    Ok(summary)
}

/// Train (or resume, or skip) one cell and evaluate it as `medxfer train` does at its end.
fn run_cell(cell: &PlannedCell, events: &dyn Reporter) -> Result<CellOutcome, StudyError> {
    match cell_state(&cell.dir, &cell.config) {
        CellState::Finished => {
            if !cell.dir.join(METRICS).exists() {
                evaluate_cell(&cell.dir, cell.config.task)?;
            }
            return Ok(CellOutcome::Skipped);
        }
        CellState::Foreign(message) => {
            return Err(StudyError::Cell {
                cell: cell.cell.name.clone(),
                message,
            });
        }
        CellState::NotStarted | CellState::Unfinished => {}
    }
    let started = Instant::now();
    match medxfer_train::run::run(&cell.config, &RunOptions::default(), events)? {
        RunSummary::Complete { .. } => {}
        RunSummary::Partial { .. } => {
            return Err(StudyError::Cell {
                cell: cell.cell.name.clone(),
                message: "the run trained only some folds".into(),
            });
        }
    }
    evaluate_cell(&cell.dir, cell.config.task)?;
    Ok(CellOutcome::Trained {
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Validate a finished cell on each external dataset of the study (`medxfer validate`, then
/// its evaluation) into `STUDY_DIR/external/CELL/NAME/`; one already evaluated is kept.
fn validate_externals(
    plan: &Plan,
    cell: &PlannedCell,
    events: &dyn Reporter,
) -> Result<(), StudyError> {
    for external in &plan.manifest.externals {
        let out = plan.folder.external_dir(&cell.cell.name, &external.name);
        if out.join(METRICS).exists() {
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StudyError::io(parent, e))?;
        }
        events.note(format!(
            "study: cell {} on external data {}",
            cell.cell.name, external.name
        ));
        let task = medxfer_train::external::validate_external(
            &cell.dir,
            &external.data_path,
            &out,
            events,
        )
        .map_err(|e| StudyError::Cell {
            cell: cell.cell.name.clone(),
            message: format!("external {}: {e}", external.name),
        })?;
        let task = match task {
            TaskKind::Classification => TaskChoice::Classification,
            TaskKind::Segmentation => TaskChoice::Segmentation,
        };
        evaluate_cell(&out, task)?;
    }
    Ok(())
}

/// `metrics.json` (and a binary run's reliability diagram, a segmentation run's gallery), as
/// `medxfer evaluate` writes them.
pub fn evaluate_cell(dir: &Path, task: TaskChoice) -> Result<(), StudyError> {
    match task {
        TaskChoice::Classification => {
            let metrics = medxfer_eval::report::evaluate_run(dir)?;
            if metrics.pooled.calibration.is_some() {
                medxfer_report::reliability_diagram::write_reliability_diagram(
                    &metrics,
                    &format!("reliability: {}", dir.display()),
                    &dir.join(RELIABILITY_DIAGRAM),
                )?;
            }
        }
        TaskChoice::Segmentation => {
            let metrics = medxfer_eval::segmentation_run::evaluate_segmentation_run(dir)?;
            medxfer_report::segmentation_gallery::write_gallery(
                dir,
                &metrics.per_image,
                &dir.join(SEGMENTATION_GALLERY),
            )?;
        }
    }
    Ok(())
}
