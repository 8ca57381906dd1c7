//! The study store: one SQLite file (`STUDY_DIR/study.sqlite`) with the studies, their cells
//! and axis values, each cell's resolved configuration, per-image predictions and per-fold
//! metrics, for ad-hoc SQL. It is derived data: every row comes from a cell's run folder, and
//! `medxfer study merge` rebuilds it from them.
//!
//! Several shards may write one store at once (one machine, or a shared file system that
//! honours POSIX locks): the file is in WAL mode, writers take the write lock up front
//! (`BEGIN IMMEDIATE`), wait up to a busy timeout, and retry a transaction that still finds
//! the database busy. A cell is replaced as a whole in one transaction, so a killed writer
//! leaves either the old rows or the new ones, never a mix or a duplicate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use medxfer_atomic::run_files::{CONFIG, METRICS, PREDICTIONS, RUN_RECORD, TASK};
use medxfer_eval::predictions::{Predictions, TaskInfo};
use medxfer_report::arm_scores::{Metric, load_arm_scores};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

use crate::StudyError;
use crate::folder::{StudyFolder, StudyManifest};
use crate::grid::Cell;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS studies (
    study TEXT PRIMARY KEY, base_path TEXT NOT NULL, base_config TEXT NOT NULL,
    set_overrides TEXT NOT NULL, axes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    study TEXT NOT NULL, cell TEXT NOT NULL, cell_index INTEGER NOT NULL,
    status TEXT NOT NULL, task TEXT, run_dir TEXT NOT NULL,
    PRIMARY KEY (study, cell));
CREATE TABLE IF NOT EXISTS cell_axes (
    study TEXT NOT NULL, cell TEXT NOT NULL, axis_key TEXT NOT NULL,
    axis_value TEXT NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY (study, cell, axis_key));
CREATE TABLE IF NOT EXISTS configs (
    study TEXT NOT NULL, cell TEXT NOT NULL, resolved_toml TEXT NOT NULL,
    PRIMARY KEY (study, cell));
CREATE TABLE IF NOT EXISTS predictions (
    study TEXT NOT NULL, cell TEXT NOT NULL, image_id TEXT NOT NULL, fold INTEGER NOT NULL,
    split TEXT NOT NULL, label TEXT NOT NULL, class TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (study, cell, image_id, fold, split, class));
CREATE TABLE IF NOT EXISTS external_fold_metrics (
    study TEXT NOT NULL, cell TEXT NOT NULL, external TEXT NOT NULL, fold INTEGER NOT NULL,
    metric TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (study, cell, external, fold, metric));
CREATE TABLE IF NOT EXISTS fold_metrics (
    study TEXT NOT NULL, cell TEXT NOT NULL, fold INTEGER NOT NULL, metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (study, cell, fold, metric));
";

/// Tables a cell's rows live in (`studies` is per study).
const CELL_TABLES: [&str; 6] = [
    "cells",
    "cell_axes",
    "configs",
    "predictions",
    "fold_metrics",
    "external_fold_metrics",
];
/// How long one statement waits for another writer before SQLite reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(20);
/// Whole-transaction retries after a busy report (each after a short, growing pause).
const BUSY_RETRIES: u32 = 30;

/// Where a cell's run folder stands, as the store records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStatus {
    NotStarted,
    Unfinished,
    Finished,
}

impl CellStatus {
    pub fn of(dir: &Path) -> CellStatus {
        if dir.join(RUN_RECORD).exists() {
            CellStatus::Finished
        } else if dir.join(CONFIG).exists() {
            CellStatus::Unfinished
        } else {
            CellStatus::NotStarted
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            CellStatus::NotStarted => "not_started",
            CellStatus::Unfinished => "unfinished",
            CellStatus::Finished => "finished",
        }
    }
}

/// Rows of a query, every value rendered as text (`NULL` for null).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub struct Store {
    connection: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating) the store for writing: WAL mode, busy timeout, schema.
    pub fn open(path: &Path) -> Result<Store, StudyError> {
        let connection = Connection::open(path).map_err(|e| StudyError::store(path, e))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StudyError::store(path, e))?;
        let store = Store {
            connection,
            path: path.to_path_buf(),
        };
        // The journal mode cannot change inside a transaction: set it first, then the schema.
        let mode = busy_retries(&store.path, || {
            store
                .connection
                .query_row("PRAGMA journal_mode=WAL", [], |row| row.get::<_, String>(0))
        })?;
        store.retrying(|c| c.execute_batch(SCHEMA))?;
        // Without WAL, concurrent shards would block readers and each other far longer.
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StudyError::folder(
                path,
                format!(
                    "the store's journal mode stayed {mode}, not WAL (a file system without shared memory?)"
                ),
            ));
        }
        Ok(store)
    }

    /// Open an existing store read-only (queries cannot change it).
    pub fn open_read_only(path: &Path) -> Result<Store, StudyError> {
        if !path.exists() {
            return Err(StudyError::folder(
                path,
                "no store: run `medxfer study merge STUDY_DIR` first",
            ));
        }
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StudyError::store(path, e))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StudyError::store(path, e))?;
        Ok(Store {
            connection,
            path: path.to_path_buf(),
        })
    }

    /// Run `work` in an immediate transaction, again while the database reports busy.
    fn retrying<T>(
        &self,
        mut work: impl FnMut(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StudyError> {
        busy_retries(&self.path, || {
            let transaction = rusqlite::Transaction::new_unchecked(
                &self.connection,
                TransactionBehavior::Immediate,
            )?;
            let value = work(&transaction)?;
            transaction.commit()?;
            Ok(value)
        })
    }

    /// The study's own row (replaced when it is recorded again).
    pub fn record_study(&mut self, manifest: &StudyManifest) -> Result<(), StudyError> {
        let set = serde_json::to_string(&manifest.set).unwrap_or_default();
        let axes = serde_json::to_string(&manifest.axes).unwrap_or_default();
        self.retrying(|c| {
            c.execute(
                "INSERT OR REPLACE INTO studies VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    manifest.name,
                    manifest.base_path.to_string_lossy(),
                    manifest.base_config,
                    set,
                    axes
                ],
            )
            .map(|_| ())
        })
    }

    /// Replace every row of `cell` with what its run folder `dir` holds now.
    /// `externals`: (name, folder) of the cell's external validations, recorded when evaluated.
    pub fn record_cell(
        &mut self,
        manifest: &StudyManifest,
        cell: &Cell,
        dir: &Path,
        externals: &[(String, PathBuf)],
    ) -> Result<(), StudyError> {
        let rows = CellRows::read(dir, externals)?;
        let study = manifest.name.as_str();
        self.retrying(|c| {
            for table in CELL_TABLES {
                c.execute(
                    &format!("DELETE FROM {table} WHERE study = ?1 AND cell = ?2"),
                    params![study, cell.name],
                )?;
            }
            rows.insert(c, study, cell, dir)
        })
    }

    /// Rebuild the study's rows from its cell folders: every cell of the manifest, in one
    /// transaction per cell. Rows of cells the manifest no longer has are removed.
    pub fn rebuild(
        &mut self,
        manifest: &StudyManifest,
        folder: &StudyFolder,
    ) -> Result<(), StudyError> {
        self.record_study(manifest)?;
        let names: Vec<String> = manifest.cells.iter().map(|c| c.name.clone()).collect();
        let names_json = serde_json::to_string(&names).unwrap_or_default();
        self.retrying(|c| {
            for table in CELL_TABLES {
                c.execute(
                    &format!(
                        "DELETE FROM {table} WHERE study = ?1 AND cell NOT IN (SELECT value FROM json_each(?2))"
                    ),
                    params![manifest.name, names_json],
                )?;
            }
            Ok(())
        })?;
        for cell in &manifest.cells {
            let externals = folder.external_dirs(manifest, &cell.name);
            self.record_cell(manifest, cell, &folder.cell_dir(&cell.name), &externals)?;
        }
        Ok(())
    }

    /// Run one SQL statement and return its rows as text.
    pub fn query(&self, sql: &str) -> Result<QueryRows, StudyError> {
        let fail = |e| StudyError::store(&self.path, e);
        let mut statement = self.connection.prepare(sql).map_err(fail)?;
        let columns: Vec<String> = statement
            .column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let width = columns.len();
        let rows = statement
            .query_map([], |row| {
                (0..width)
                    .map(|i| row.get_ref(i).map(render))
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(fail)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(fail)?;
        Ok(QueryRows { columns, rows })
    }
}

/// `attempt()` again, after a short and growing pause, while SQLite reports the database busy
/// (another shard holds the write lock past the busy timeout).
fn busy_retries<T>(
    path: &Path,
    mut attempt: impl FnMut() -> rusqlite::Result<T>,
) -> Result<T, StudyError> {
    let mut retries = 0;
    loop {
        match attempt() {
            Err(e) if is_busy(&e) && retries < BUSY_RETRIES => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(20 * u64::from(retries)));
            }
            other => return other.map_err(|e| StudyError::store(path, e)),
        }
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn render(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("<blob of {} bytes>", b.len()),
    }
}

/// What a cell's folder contributes, read before the transaction (files, not the database, are
/// slow and may fail).
struct CellRows {
    status: CellStatus,
    task: Option<TaskInfo>,
    config: Option<String>,
    predictions: Option<Predictions>,
    /// (fold, metric, value)
    fold_metrics: Vec<(usize, &'static str, f64)>,
    /// (external, fold model, metric, value)
    external_metrics: Vec<(String, usize, &'static str, f64)>,
}

/// Every finite per-fold score of a run (or external validation) folder.
fn fold_rows(dir: &Path) -> Result<Vec<(usize, &'static str, f64)>, StudyError> {
    let scores = load_arm_scores(dir, None)?;
    let mut rows = Vec::new();
    for fold in &scores.folds {
        for metric in Metric::ALL {
            if let Some(value) = fold.get(metric).filter(|v| v.is_finite()) {
                rows.push((fold.fold, metric.key(), value));
            }
        }
    }
    Ok(rows)
}

impl CellRows {
    fn read(dir: &Path, externals: &[(String, PathBuf)]) -> Result<CellRows, StudyError> {
        let status = CellStatus::of(dir);
        let config_path = dir.join(CONFIG);
        let config = match status {
            CellStatus::NotStarted => None,
            _ => Some(
                std::fs::read_to_string(&config_path)
                    .map_err(|e| StudyError::io(&config_path, e))?,
            ),
        };
        if status != CellStatus::Finished {
            return Ok(CellRows {
                status,
                task: None,
                config,
                predictions: None,
                fold_metrics: Vec::new(),
                external_metrics: Vec::new(),
            });
        }
        let task = TaskInfo::read_json(&dir.join(TASK))?;
        let predictions_path = dir.join(PREDICTIONS);
        let predictions = predictions_path
            .exists()
            .then(|| Predictions::read_csv(&predictions_path))
            .transpose()?;
        let fold_metrics = fold_rows(dir)?;
        let mut external_metrics = Vec::new();
        for (name, external) in externals {
            if external.join(METRICS).exists() {
                for (fold, metric, value) in fold_rows(external)? {
                    external_metrics.push((name.clone(), fold, metric, value));
                }
            }
        }
        Ok(CellRows {
            status,
            task: Some(task),
            config,
            predictions,
            fold_metrics,
            external_metrics,
        })
    }

    fn insert(&self, c: &Connection, study: &str, cell: &Cell, dir: &Path) -> rusqlite::Result<()> {
        c.execute(
            "INSERT INTO cells VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                study,
                cell.name,
                cell.index as i64,
                self.status.key(),
                self.task.as_ref().map(|t| t.task.to_string()),
                dir.to_string_lossy()
            ],
        )?;
        for setting in &cell.settings {
            c.execute(
                "INSERT INTO cell_axes VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    study,
                    cell.name,
                    setting.key,
                    setting.value.to_string(),
                    setting.label
                ],
            )?;
        }
        if let Some(config) = &self.config {
            c.execute(
                "INSERT INTO configs VALUES (?1, ?2, ?3)",
                params![study, cell.name, config],
            )?;
        }
        if let Some(predictions) = &self.predictions {
            let mut insert =
                c.prepare("INSERT INTO predictions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
            for row in &predictions.rows {
                for (class, score) in predictions.class_names.iter().zip(&row.scores) {
                    insert.execute(params![
                        study,
                        cell.name,
                        row.image_id,
                        row.fold as i64,
                        row.split.to_string(),
                        row.label,
                        class,
                        score
                    ])?;
                }
            }
        }
        let mut insert = c.prepare("INSERT INTO fold_metrics VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (fold, metric, value) in &self.fold_metrics {
            insert.execute(params![study, cell.name, *fold as i64, metric, value])?;
        }
        let mut insert =
            c.prepare("INSERT INTO external_fold_metrics VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
        for (external, fold, metric, value) in &self.external_metrics {
            insert.execute(params![
                study,
                cell.name,
                external,
                *fold as i64,
                metric,
                value
            ])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::CellSetting;
    use medxfer_eval::predictions::{PredictionRow, Split, TaskKind};

    /// A finished two-fold binary run folder of 8 test images per fold, scores shifted by `shift`.
    fn finished_run(dir: &Path, shift: f64) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(CONFIG), "seed = 1\n").unwrap();
        std::fs::write(dir.join(RUN_RECORD), "{}").unwrap();
        let classes = vec!["benign".to_string(), "malignant".to_string()];
        TaskInfo {
            class_names: classes.clone(),
            positive_class: Some("malignant".into()),
            task: TaskKind::Classification,
        }
        .write_json(&dir.join(TASK))
        .unwrap();
        let rows = (0..16)
            .map(|i| {
                let positive = i % 2 == 1;
                let p =
                    ((i as f64 * 0.37 + shift) % 1.0 + if positive { 0.3 } else { 0.0 }).min(1.0);
                PredictionRow {
                    image_id: format!("img{i}"),
                    fold: i / 8,
                    split: Split::Test,
                    label: classes[usize::from(positive)].clone(),
                    source: None,
                    center: None,
                    scores: vec![1.0 - p, p],
                }
            })
            .collect();
        Predictions {
            class_names: classes,
            rows,
        }
        .write_csv(&dir.join(PREDICTIONS))
        .unwrap();
        medxfer_eval::report::evaluate_run(dir).unwrap();
    }

    fn cell(index: usize) -> Cell {
        Cell {
            index,
            name: format!("seed-{index}"),
            settings: vec![CellSetting {
                key: "seed".into(),
                value: toml::Value::Integer(index as i64),
                label: index.to_string(),
            }],
        }
    }

    fn manifest(cells: Vec<Cell>) -> StudyManifest {
        StudyManifest {
            name: "s".into(),
            base_config: "seed = 1".into(),
            base_path: "b.toml".into(),
            set: vec![],
            axes: vec![],
            cells,
            externals: vec![],
        }
    }

    fn count(store: &Store, sql: &str) -> String {
        store.query(sql).unwrap().rows[0][0].clone()
    }

    #[test]
    fn concurrent_writers_leave_every_cell_once() {
        let dir = tempfile::tempdir().unwrap();
        let cells: Vec<Cell> = (0..8).map(cell).collect();
        for c in &cells {
            finished_run(&dir.path().join(&c.name), c.index as f64 * 0.1);
        }
        let manifest = manifest(cells.clone());
        let db = dir.path().join("study.sqlite");
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let (cells, manifest, db, root) = (&cells, &manifest, &db, dir.path());
                scope.spawn(move || {
                    let mut store = Store::open(db).unwrap();
                    store.record_study(manifest).unwrap();
                    // Each writer records its own cells and, to collide, every other one too,
                    // three times over.
                    for _ in 0..3 {
                        for c in cells
                            .iter()
                            .filter(|c| c.index % 4 == writer || c.index % 2 == 0)
                        {
                            store
                                .record_cell(manifest, c, &root.join(&c.name), &[])
                                .unwrap();
                        }
                    }
                });
            }
        });
        let store = Store::open_read_only(&db).unwrap();
        assert_eq!(count(&store, "PRAGMA journal_mode"), "wal");
        assert_eq!(count(&store, "PRAGMA integrity_check"), "ok");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM cells"), "8");
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM cells WHERE status = 'finished'"
            ),
            "8"
        );
        // 16 test rows x 2 classes per cell.
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM predictions"),
            (8 * 32).to_string()
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM fold_metrics WHERE metric = 'auc'"
            ),
            "16"
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM cell_axes"), "8");
    }

    #[test]
    fn rebuild_follows_the_folders_and_queries_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let folder = StudyFolder::new(dir.path());
        let cells: Vec<Cell> = (0..3).map(cell).collect();
        finished_run(&folder.cell_dir("seed-0"), 0.0);
        std::fs::create_dir_all(folder.cell_dir("seed-1")).unwrap();
        std::fs::write(folder.cell_dir("seed-1").join(CONFIG), "seed = 1\n").unwrap();
        let db = dir.path().join("study.sqlite");
        let mut store = Store::open(&db).unwrap();
        // A cell the study no longer has disappears on rebuild.
        store
            .record_cell(
                &manifest(vec![cell(7)]),
                &cell(7),
                &folder.cell_dir("seed-0"),
                &[],
            )
            .unwrap();
        store.rebuild(&manifest(cells), &folder).unwrap();
        let rows = store
            .query("SELECT cell, status FROM cells ORDER BY cell_index")
            .unwrap();
        assert_eq!(rows.columns, vec!["cell", "status"]);
        let statuses: Vec<(String, String)> = rows
            .rows
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("seed-0".into(), "finished".into()),
                ("seed-1".into(), "unfinished".into()),
                ("seed-2".into(), "not_started".into())
            ]
        );
        let reader = Store::open_read_only(&db).unwrap();
        let err = reader.query("DELETE FROM cells").unwrap_err().to_string();
        assert!(
            err.contains("readonly") || err.contains("read-only") || err.contains("read only"),
            "{err}"
        );
        let err = reader.query("SELEC 1").unwrap_err().to_string();
        assert!(err.contains("study.sqlite") && !err.contains('\n'), "{err}");
    }
}
