//! A CSV table of labels and scores, as the `medxfer stats` commands read it: a header row,
//! text label columns and numeric score columns. Every bad cell is an error naming the file,
//! the data row (1-based) and the column.

use std::path::{Path, PathBuf};

use crate::EvalError;

#[derive(Debug)]
pub struct ScoreTable {
    path: PathBuf,
    headers: Vec<String>,
    /// (line number in the file, cells).
    rows: Vec<(u64, Vec<String>)>,
}

impl ScoreTable {
    pub fn read(path: &Path) -> Result<Self, EvalError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_path(path)
            .map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(io) => EvalError::io(path, io),
                other => EvalError::bad_file(path, format!("{other:?}")),
            })?;
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| EvalError::bad_file(path, format!("cannot read the header row: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record =
                record.map_err(|e| EvalError::bad_file(path, format!("row {}: {e}", i + 1)))?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            return Err(EvalError::bad_file(path, "no data rows after the header"));
        }
        Ok(ScoreTable {
            path: path.to_path_buf(),
            headers,
            rows,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    fn column_index(&self, name: &str) -> Result<usize, EvalError> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            EvalError::bad_file(
                &self.path,
                format!("no column {name:?} (columns: {})", self.headers.join(", ")),
            )
        })
    }

    fn cell_error(&self, row: usize, column: &str, message: String) -> EvalError {
        let line = self.rows[row].0;
        EvalError::bad_file(
            &self.path,
            format!(
                "row {} (line {line}), column {column:?}: {message}",
                row + 1
            ),
        )
    }

    /// A text column; empty cells are errors.
    pub fn text_column(&self, name: &str) -> Result<Vec<String>, EvalError> {
        let col = self.column_index(name)?;
        self.rows
            .iter()
            .enumerate()
            .map(|(r, (_, cells))| {
                let value = cells[col].trim();
                if value.is_empty() {
                    Err(self.cell_error(r, name, "missing value".into()))
                } else {
                    Ok(value.to_string())
                }
            })
            .collect()
    }

    /// A numeric column where an empty cell is allowed (None); anything else must be a
    /// finite number.
    pub fn optional_numeric_column(&self, name: &str) -> Result<Vec<Option<f64>>, EvalError> {
        let col = self.column_index(name)?;
        self.rows
            .iter()
            .enumerate()
            .map(|(r, (_, cells))| {
                let text = cells[col].trim();
                if text.is_empty() {
                    return Ok(None);
                }
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err(self.cell_error(r, name, format!("{text:?} is not a finite number"))),
                }
            })
            .collect()
    }

    /// A numeric column; a missing or non-numeric value is an error naming the row.
    pub fn numeric_column(&self, name: &str) -> Result<Vec<f64>, EvalError> {
        self.optional_numeric_column(name)?
            .into_iter()
            .enumerate()
            .map(|(r, v)| v.ok_or_else(|| self.cell_error(r, name, "missing value".into())))
            .collect()
    }

    /// `label == positive` per row; errors if no row has the positive value.
    pub fn binary_labels(
        &self,
        label_column: &str,
        positive: &str,
    ) -> Result<Vec<bool>, EvalError> {
        let labels = self.text_column(label_column)?;
        let flags: Vec<bool> = labels.iter().map(|l| l == positive).collect();
        if !flags.iter().any(|&f| f) {
            let mut seen: Vec<&str> = labels.iter().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.truncate(10);
            return Err(EvalError::bad_file(
                &self.path,
                format!(
                    "no row has {label_column} = {positive:?} (values seen: {})",
                    seen.join(", ")
                ),
            ));
        }
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scores.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_columns_and_names_bad_rows() {
        let (_d, path) =
            table("id,label,score\na,malignant,0.9\nb,benign,0.2\nc,benign,x\nd,malignant,\n");
        let t = ScoreTable::read(&path).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.binary_labels("label", "malignant").unwrap(),
            vec![true, false, false, true]
        );
        let msg = t.numeric_column("score").unwrap_err().to_string();
        assert!(
            msg.contains("scores.csv") && msg.contains("row 3 (line 4)") && msg.contains("\"x\""),
            "{msg}"
        );
        let opt = ScoreTable::read(&table("s\n1\n\n2\n").1);
        assert!(opt.is_ok());
        let msg = t.numeric_column("nope").unwrap_err().to_string();
        assert!(
            msg.contains("no column \"nope\"") && msg.contains("id, label, score"),
            "{msg}"
        );
        let msg = t
            .binary_labels("label", "Malignant")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("benign, malignant"), "{msg}");
    }

    #[test]
    fn missing_value_and_nan_are_errors() {
        let (_d, path) = table("label,score\n1,0.5\n0,NaN\n");
        let msg = ScoreTable::read(&path)
            .unwrap()
            .numeric_column("score")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("row 2"), "{msg}");
        let (_d, path) = table("label,score\n1,0.5\n,0.3\n");
        let msg = ScoreTable::read(&path)
            .unwrap()
            .text_column("label")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("row 2") && msg.contains("missing"), "{msg}");
        let (_d, path) = table("label,score\n1,0.5,7\n");
        assert!(
            ScoreTable::read(&path)
                .unwrap_err()
                .to_string()
                .contains("row 1")
        );
        let (_d, path) = table("label,score\n");
        assert!(
            ScoreTable::read(&path)
                .unwrap_err()
                .to_string()
                .contains("no data rows")
        );
    }
}
