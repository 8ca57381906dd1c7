//! CSV manifests: `path,label[,patient_id][,center][,split][,mask]` with paths relative to the
//! CSV's folder. Extra columns are kept as sample metadata. `mask` may list several files
//! separated by `;` (merged by OR).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::dataset::{Dataset, ImageSource, Sample, SplitName, sort_class_names};
use crate::error::DataError;

const KNOWN_COLUMNS: [&str; 6] = ["path", "label", "patient_id", "center", "split", "mask"];

struct Row {
    line: u64,
    relative_path: String,
    label: String,
    patient_id: Option<String>,
    center: Option<String>,
    split: Option<SplitName>,
    masks: Vec<String>,
    metadata: BTreeMap<String, String>,
}

pub(crate) fn load_csv(csv_path: &Path, classes: Option<&[String]>) -> Result<Dataset, DataError> {
    let csv_error = |line: u64, message: String| DataError::Csv {
        path: csv_path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(csv_path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => DataError::io(csv_path, io),
            other => csv_error(1, format!("{other:?}")),
        })?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(1, e.to_string()))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(path_col), Some(label_col)) = (column("path"), column("label")) else {
        return Err(csv_error(
            1,
            format!(
                "header must contain 'path' and 'label' columns, found: {}",
                headers.join(",")
            ),
        ));
    };
    let optional = |name: &str| column(name);
    let (patient_col, center_col, split_col, mask_col) = (
        optional("patient_id"),
        optional("center"),
        optional("split"),
        optional("mask"),
    );

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            csv_error(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let relative_path =
            cell(Some(path_col)).ok_or_else(|| csv_error(line, "empty 'path'".into()))?;
        let label = cell(Some(label_col)).ok_or_else(|| csv_error(line, "empty 'label'".into()))?;
        let split = match cell(split_col) {
            Some(text) => Some(text.parse::<SplitName>().map_err(|e| csv_error(line, e))?),
            None => None,
        };
        let masks = cell(mask_col)
            .map(|m| {
                m.split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let metadata = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| !KNOWN_COLUMNS.contains(&h.as_str()))
            .map(|(i, h)| (h.clone(), record.get(i).unwrap_or_default().to_string()))
            .collect();
        rows.push(Row {
            line,
            relative_path,
            label,
            patient_id: cell(patient_col),
            center: cell(center_col),
            split,
            masks,
            metadata,
        });
    }

    let class_names: Vec<String> = match classes {
        Some(names) => names.to_vec(),
        None => {
            let unique: BTreeSet<&str> = rows.iter().map(|r| r.label.as_str()).collect();
            let mut names: Vec<String> = unique.into_iter().map(str::to_string).collect();
            sort_class_names(&mut names);
            names
        }
    };

    let base = csv_path.parent().unwrap_or(Path::new("."));
    let mut samples = Vec::with_capacity(rows.len());
    for row in rows {
        let label = resolve_label(&row.label, &class_names).ok_or_else(|| {
            csv_error(
                row.line,
                format!(
                    "label '{}' is not one of the classes ({})",
                    row.label,
                    class_names.join(", ")
                ),
            )
        })?;
        let referenced_by = format!("{} line {}", csv_path.display(), row.line);
        let path = base.join(&row.relative_path);
        if !path.is_file() {
            return Err(DataError::MissingFile {
                path,
                referenced_by,
            });
        }
        let mut mask_paths = Vec::with_capacity(row.masks.len());
        for mask in &row.masks {
            let mask_path = base.join(mask);
            if !mask_path.is_file() {
                return Err(DataError::MissingFile {
                    path: mask_path,
                    referenced_by,
                });
            }
            mask_paths.push(mask_path);
        }
        samples.push(Sample {
            id: row.relative_path.replace('\\', "/"),
            source: ImageSource::File(path.clone()),
            path,
            label,
            patient_id: row.patient_id,
            center: row.center,
            origin: None,
            split: row.split,
            mask_paths,
            metadata: row.metadata,
        });
    }
    Ok(Dataset {
        class_names,
        samples,
    })
}

/// A label cell is a class name, or else an integer index into the class list.
fn resolve_label(text: &str, class_names: &[String]) -> Option<usize> {
    class_names.iter().position(|c| c == text).or_else(|| {
        text.parse::<usize>()
            .ok()
            .filter(|&i| i < class_names.len())
    })
}
