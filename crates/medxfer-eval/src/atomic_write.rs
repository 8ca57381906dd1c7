//! Atomic file output (see `medxfer_atomic`), with errors naming the destination.

use std::path::Path;

use crate::EvalError;

/// Writes `bytes` to `path` atomically (temp file in the same folder + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    medxfer_atomic::write_atomic(path, bytes).map_err(|e| EvalError::io(path, e))
}

/// Writes `value` as pretty JSON (with a final newline) to `path` atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), EvalError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| EvalError::bad_file(path, e.to_string()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Writes CSV `records` (the header first) to `path` atomically.
pub fn write_csv_atomic<R: AsRef<[u8]>>(
    path: &Path,
    records: impl IntoIterator<Item = Vec<R>>,
) -> Result<(), EvalError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer
            .write_record(&record)
            .map_err(|e| EvalError::bad_file(path, e.to_string()))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| EvalError::bad_file(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Opens a CSV file with a header row; `flexible` lets rows of another length through so the
/// caller can report them in its own words. Errors name the file.
pub fn open_csv(
    path: &Path,
    flexible: bool,
) -> Result<(csv::Reader<std::fs::File>, csv::StringRecord), EvalError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(flexible)
        .from_path(path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => EvalError::io(path, io),
            other => EvalError::bad_file(path, format!("{other:?}")),
        })?;
    let header = reader
        .headers()
        .map_err(|e| EvalError::bad_file(path, format!("cannot read header: {e}")))?
        .clone();
    Ok((reader, header))
}
