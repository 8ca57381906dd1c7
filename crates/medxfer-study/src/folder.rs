//! The study folder: `study.json` (what the study is: its definition and its cells),
//! `cells/NAME/` (one run folder per cell) and the store `study.sqlite`. The cell folders are
//! the source of truth; `study.json` tells which folder is which cell, so the store and the
//! report can be rebuilt from the folder alone, wherever its cells were trained.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StudyError;
use crate::definition::{Axis, ExternalData, StudyDefinition};
use crate::grid::Cell;

/// The study's description file in its folder.
pub const MANIFEST: &str = "study.json";
/// The folder holding one run folder per cell.
pub const CELLS: &str = "cells";
/// The folder holding each cell's external validations, `external/CELL/NAME/`.
pub const EXTERNAL: &str = "external";
/// The SQLite store (with its `-wal` and `-shm` companions while open).
pub const STORE: &str = "study.sqlite";

/// What `study.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyManifest {
    pub name: String,
    pub base_config: String,
    pub base_path: PathBuf,
    pub set: Vec<String>,
    pub axes: Vec<Axis>,
    pub cells: Vec<Cell>,
    #[serde(default)]
    pub externals: Vec<ExternalData>,
}

impl StudyManifest {
    pub fn of(definition: &StudyDefinition, cells: Vec<Cell>) -> Self {
        StudyManifest {
            name: definition.name.clone(),
            base_config: definition.base_text.clone(),
            base_path: definition.base_path.clone(),
            set: definition.set.clone(),
            axes: definition.axes.clone(),
            cells,
            externals: definition.externals.clone(),
        }
    }

    /// Compared as JSON: what the file holds, whatever the TOML value types round-trip to.
    fn as_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A study folder at a path.
#[derive(Debug, Clone)]
pub struct StudyFolder {
    path: PathBuf,
}

impl StudyFolder {
    pub fn new(path: &Path) -> Self {
        StudyFolder {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn cell_dir(&self, cell: &str) -> PathBuf {
        self.path.join(CELLS).join(cell)
    }

    /// Where cell `cell`'s validation on external dataset `external` goes.
    pub fn external_dir(&self, cell: &str, external: &str) -> PathBuf {
        self.path.join(EXTERNAL).join(cell).join(external)
    }

    /// (external name, its folder) of every external dataset of the study, for `cell`.
    pub fn external_dirs(&self, manifest: &StudyManifest, cell: &str) -> Vec<(String, PathBuf)> {
        manifest
            .externals
            .iter()
            .map(|e| (e.name.clone(), self.external_dir(cell, &e.name)))
            .collect()
    }

    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE)
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.path.join(MANIFEST)
    }

    /// Read `study.json` of an existing study folder.
    pub fn read_manifest(&self) -> Result<StudyManifest, StudyError> {
        let path = self.manifest_path();
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StudyError::folder(
                &self.path,
                format!("not a study folder (no {MANIFEST}): run `medxfer study run` first"),
            ),
            _ => StudyError::io(&path, e),
        })?;
        serde_json::from_str(&text).map_err(|e| StudyError::folder(&path, e.to_string()))
    }

    /// Make the folder this study's: new, empty, or already holding this very study. A folder
    /// of other files, or of another study, is refused and left untouched.
    pub fn prepare(&self, manifest: &StudyManifest) -> Result<(), StudyError> {
        if self.manifest_path().exists() {
            let recorded = self.read_manifest()?;
            if recorded.as_json() != manifest.as_json() {
                return Err(StudyError::folder(
                    &self.path,
                    format!(
                        "holds study `{}` with another definition (base, set, axes or cells differ): choose another out_dir",
                        recorded.name
                    ),
                ));
            }
        } else if let Some(stranger) = self.foreign_entry()? {
            return Err(StudyError::folder(
                &self.path,
                format!("is not a study folder (it holds {stranger:?}): choose another out_dir"),
            ));
        }
        let cells = self.path.join(CELLS);
        std::fs::create_dir_all(&cells).map_err(|e| StudyError::io(&cells, e))?;
        let text = serde_json::to_string_pretty(manifest)
            .map_err(|e| StudyError::folder(&self.path, e.to_string()))?;
        let path = self.manifest_path();
        medxfer_atomic::write_atomic(&path, text.as_bytes()).map_err(|e| StudyError::io(&path, e))
    }

    /// An entry a study folder does not hold, if any (another shard may have created the
    /// others a moment ago).
    fn foreign_entry(&self) -> Result<Option<String>, StudyError> {
        let entries = match std::fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StudyError::io(&self.path, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StudyError::io(&self.path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name == CELLS
                || name == EXTERNAL
                || name == MANIFEST
                || name.starts_with(STORE)
                || medxfer_atomic::is_temporary(&name);
            if !ours {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str) -> StudyManifest {
        StudyManifest {
            name: name.into(),
            base_config: "seed = 1".into(),
            base_path: "b.toml".into(),
            set: vec![],
            axes: vec![],
            cells: vec![],
            externals: vec![],
        }
    }

    #[test]
    fn a_folder_is_prepared_once_per_study_and_strangers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder = StudyFolder::new(&dir.path().join("s"));
        folder.prepare(&manifest("a")).unwrap();
        folder.prepare(&manifest("a")).unwrap();
        assert_eq!(folder.read_manifest().unwrap(), manifest("a"));
        let err = folder.prepare(&manifest("b")).unwrap_err().to_string();
        assert!(err.contains("another definition"), "{err}");

        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let err = StudyFolder::new(&other)
            .prepare(&manifest("a"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("notes.txt"), "{err}");
        assert!(!other.join(MANIFEST).exists());
        let err = StudyFolder::new(&other)
            .read_manifest()
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a study folder"), "{err}");
    }
}
