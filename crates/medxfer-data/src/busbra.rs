//! BUS-BRA (Gómez-Flores et al., Medical Physics 2024): `images/bus_NNNN-X.png`, one mask per
//! image as `masks/mask_NNNN-X.png`, `bus_data.csv` (one row per image, `Case` = patient) and
//! the authors' patient-grouped folds `5-fold-cv.csv` / `10-fold-cv.csv` (`kFold` = the 1-based
//! test fold of each image). Every image, mask and row must match one to one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageSource, Sample};
use crate::decode::is_image_extension;
use crate::error::DataError;
use crate::split::FOLD_METADATA_KEY;

/// Class names in label order (the `Pathology` column).
pub const BUSBRA_CLASSES: [&str; 2] = ["benign", "malignant"];
/// `bus_data.csv` columns kept verbatim as metadata (under lower-case keys).
const METADATA_COLUMNS: [&str; 4] = ["Histology", "BIRADS", "Side", "BBOX"];
const DATA_CSV: &str = "bus_data.csv";

/// A CSV file read whole: lower-cased headers and records with their line numbers.
struct Table {
    path: PathBuf,
    headers: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    fn read(path: &Path) -> Result<Table, DataError> {
        let csv_error = |line: u64, message: String| DataError::Csv {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(io) => DataError::io(path, io),
                other => csv_error(1, format!("{other:?}")),
            })?;
        let headers = reader
            .headers()
            .map_err(|e| csv_error(1, e.to_string()))?
            .iter()
            .map(str::to_ascii_lowercase)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record
                .map_err(|e| csv_error(e.position().map_or(0, |p| p.line()), e.to_string()))?;
            rows.push((record.position().map_or(0, |p| p.line()), record));
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            rows,
        })
    }

    fn column(&self, name: &str) -> Result<usize, DataError> {
        let wanted = name.to_ascii_lowercase();
        self.headers
            .iter()
            .position(|h| *h == wanted)
            .ok_or_else(|| DataError::Csv {
                path: self.path.clone(),
                line: 1,
                message: format!("no '{name}' column (found: {})", self.headers.join(",")),
            })
    }

    /// A non-empty cell, else an error naming the line and column.
    fn cell<'a>(
        &self,
        (line, record): &'a (u64, csv::StringRecord),
        column: usize,
    ) -> Result<&'a str, DataError> {
        record
            .get(column)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| DataError::Csv {
                path: self.path.clone(),
                line: *line,
                message: format!("empty '{}'", self.headers[column]),
            })
    }
}

/// Loads BUS-BRA from `root`, with the official `folds`-fold split (5 or 10; default 5).
pub(crate) fn load_busbra(root: &Path, folds: Option<u32>) -> Result<Dataset, DataError> {
    let k = folds.unwrap_or(5);
    if k != 5 && k != 10 {
        return Err(DataError::Config(format!(
            "busbra folds = {k}: the authors published 5 and 10 folds only"
        )));
    }
    let data = Table::read(&root.join(DATA_CSV))?;
    let fold_path = root.join(format!("{k}-fold-cv.csv"));
    let mut fold_of = read_folds(&fold_path, k)?;
    let columns = DataColumns::find(&data)?;
    let mut samples = Vec::with_capacity(data.rows.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for row in &data.rows {
        let id = data.cell(row, columns.id)?;
        if let Some(first) = seen.insert(id.to_string(), row.0) {
            return Err(csv_error(
                &data,
                row.0,
                format!("ID '{id}' repeats line {first}"),
            ));
        }
        let Some((fold, _)) = fold_of.remove(id) else {
            return Err(DataError::Layout {
                path: fold_path,
                message: format!("no row for {id} ({DATA_CSV} line {})", row.0),
            });
        };
        samples.push(busbra_sample(root, &data, &columns, row, fold)?);
    }
    if let Some((id, (_, line))) = fold_of.into_iter().min_by_key(|(_, (_, line))| *line) {
        return Err(DataError::Layout {
            path: fold_path,
            message: format!("line {line}: {id} has no row in {DATA_CSV}"),
        });
    }
    check_no_unlisted_files(root, &seen)?;
    Ok(Dataset {
        class_names: BUSBRA_CLASSES.iter().map(|c| c.to_string()).collect(),
        samples,
    })
}

fn csv_error(table: &Table, line: u64, message: String) -> DataError {
    DataError::Csv {
        path: table.path.clone(),
        line,
        message,
    }
}

/// Column positions in `bus_data.csv`.
struct DataColumns {
    id: usize,
    case: usize,
    pathology: usize,
    device: usize,
    metadata: Vec<(String, usize)>,
}

impl DataColumns {
    fn find(data: &Table) -> Result<DataColumns, DataError> {
        let metadata = METADATA_COLUMNS
            .iter()
            .map(|name| Ok((name.to_ascii_lowercase(), data.column(name)?)))
            .collect::<Result<_, DataError>>()?;
        Ok(DataColumns {
            id: data.column("ID")?,
            case: data.column("Case")?,
            pathology: data.column("Pathology")?,
            device: data.column("Device")?,
            metadata,
        })
    }
}

/// `ID -> (fold, line)` from a `k`-fold file, checking every `kFold` is in `1..=k`.
fn read_folds(path: &Path, k: u32) -> Result<HashMap<String, (u32, u64)>, DataError> {
    let table = Table::read(path)?;
    let (id_col, fold_col) = (table.column("ID")?, table.column("kFold")?);
    let mut folds = HashMap::with_capacity(table.rows.len());
    for row in &table.rows {
        let id = table.cell(row, id_col)?;
        let text = table.cell(row, fold_col)?;
        let fold = text
            .parse::<u32>()
            .ok()
            .filter(|f| (1..=k).contains(f))
            .ok_or_else(|| {
                csv_error(
                    &table,
                    row.0,
                    format!("kFold '{text}' is not a fold 1..{k}"),
                )
            })?;
        if let Some((_, first)) = folds.insert(id.to_string(), (fold, row.0)) {
            return Err(csv_error(
                &table,
                row.0,
                format!("ID '{id}' repeats line {first}"),
            ));
        }
    }
    Ok(folds)
}

fn busbra_sample(
    root: &Path,
    data: &Table,
    columns: &DataColumns,
    row: &(u64, csv::StringRecord),
    fold: u32,
) -> Result<Sample, DataError> {
    let line = row.0;
    let id = data.cell(row, columns.id)?;
    // The ID becomes a file name: refuse anything that could leave the folder.
    let suffix = id
        .strip_prefix("bus_")
        .filter(|s| !s.is_empty() && !s.contains(['/', '\\']) && !s.contains(".."))
        .ok_or_else(|| csv_error(data, line, format!("ID '{id}' is not bus_NNNN-X")))?;
    let pathology = data.cell(row, columns.pathology)?;
    let label = BUSBRA_CLASSES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(pathology))
        .ok_or_else(|| {
            let message = format!("Pathology '{pathology}' is not benign or malignant");
            csv_error(data, line, message)
        })?;
    let path = root.join("images").join(format!("{id}.png"));
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path,
            referenced_by: format!("{} line {line}", data.path.display()),
        });
    }
    let mask = root.join("masks").join(format!("mask_{suffix}.png"));
    if !mask.is_file() {
        return Err(DataError::MissingFile {
            path: mask,
            referenced_by: format!("image {}", path.display()),
        });
    }
    let mut metadata: BTreeMap<String, String> = columns
        .metadata
        .iter()
        .map(|(key, col)| (key.clone(), row.1.get(*col).unwrap_or_default().to_string()))
        .collect();
    metadata.insert(FOLD_METADATA_KEY.to_string(), fold.to_string());
    Ok(Sample {
        id: format!("images/{id}.png"),
        source: ImageSource::File(path.clone()),
        path,
        label,
        patient_id: Some(data.cell(row, columns.case)?.to_string()),
        center: row
            .1
            .get(columns.device)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        origin: None,
        split: None,
        mask_paths: vec![mask],
        metadata,
    })
}

/// Refuses images and masks on disk that no `bus_data.csv` row names (a partial copy or a
/// stale CSV would otherwise silently drop them).
fn check_no_unlisted_files(root: &Path, ids: &HashMap<String, u64>) -> Result<(), DataError> {
    let listed: HashSet<&str> = ids.keys().map(String::as_str).collect();
    for (folder, prefix) in [("images", "bus_"), ("masks", "mask_")] {
        for path in image_files(&root.join(folder))? {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let id = stem.strip_prefix(prefix).map(|rest| format!("bus_{rest}"));
            if !id.is_some_and(|id| listed.contains(id.as_str())) {
                let what = if folder == "images" { "image" } else { "mask" };
                return Err(DataError::Layout {
                    path,
                    message: format!("{what} has no row in {}", root.join(DATA_CSV).display()),
                });
            }
        }
    }
    Ok(())
}

/// Image files in `dir` (hidden files skipped), sorted so errors are reproducible.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(is_image_extension);
        if !hidden && image && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}
