//! Labels joined onto DICOM files from a CSV keyed by SOPInstanceUID or by path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::DicomError;

/// A `label` per key, from a CSV with a `label` column and a `sop_instance_uid` or `path`
/// column (paths relative to the CSV's folder, or absolute).
#[derive(Debug, Clone, Default)]
pub struct LabelTable {
    by_uid: HashMap<String, String>,
    by_path: HashMap<PathBuf, String>,
}

impl LabelTable {
    pub fn read_csv(path: &Path) -> Result<LabelTable, DicomError> {
        let fail = |message: String| DicomError::Labels {
            path: path.into(),
            message,
        };
        let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
        let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
        let column = |name: &str| headers.iter().position(|h| h.trim() == name);
        let label_col = column("label").ok_or_else(|| fail("no `label` column".into()))?;
        let uid_col = column("sop_instance_uid").or_else(|| column("SOPInstanceUID"));
        let path_col = column("path");
        if uid_col.is_none() && path_col.is_none() {
            return Err(fail(
                "needs a `sop_instance_uid` or a `path` column to key the labels".into(),
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut table = LabelTable::default();
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| fail(format!("row {}: {e}", line + 2)))?;
            let label = record.get(label_col).unwrap_or("").trim().to_string();
            if label.is_empty() {
                return Err(fail(format!("row {}: empty label", line + 2)));
            }
            if let Some(uid) = uid_col.and_then(|c| record.get(c)).map(str::trim)
                && !uid.is_empty()
            {
                table.by_uid.insert(uid.to_string(), label.clone());
            }
            if let Some(p) = path_col.and_then(|c| record.get(c)).map(str::trim)
                && !p.is_empty()
            {
                table.by_path.insert(normalize(&base.join(p)), label);
            }
        }
        Ok(table)
    }

    /// The label of a file, by SOP Instance UID first, then by path.
    pub fn label_for(&self, sop_instance_uid: &str, file: &Path) -> Option<&str> {
        self.by_uid
            .get(sop_instance_uid)
            .or_else(|| self.by_path.get(&normalize(file)))
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_uid.len().max(self.by_path.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn normalize(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
