//! `segmentations.csv`: the contract between segmentation training and evaluation.
//!
//! Header `image_id,fold,split,label,image,truth,prediction[,pixel_spacing_mm]`, one row per
//! validation and test image per fold. `split` is `val` or `test`; `label` is the image's class
//! name (one of `task.json`'s `class_names`); `image`, `truth` and `prediction` are paths
//! relative to the run folder of 8-bit grayscale PNGs at the model's input resolution: the
//! preprocessed input, the ground-truth mask (0/255) and the predicted mask (0/255, probability
//! thresholded at 0.5). A mask pixel is foreground when it is non-zero. The optional
//! `pixel_spacing_mm` column gives each image's (square) pixel size on that grid; without it,
//! distances are in pixels.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::EvalError;
use crate::atomic_write::{open_csv, write_csv_atomic};
use crate::predictions::Split;

pub const COLUMNS: [&str; 7] = [
    "image_id",
    "fold",
    "split",
    "label",
    "image",
    "truth",
    "prediction",
];
pub const SPACING_COLUMN: &str = "pixel_spacing_mm";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationRow {
    pub image_id: String,
    pub fold: usize,
    /// `Val` or `Test`.
    pub split: Split,
    /// The image's class name.
    pub label: String,
    /// Paths relative to the run folder.
    pub image: PathBuf,
    pub truth: PathBuf,
    pub prediction: PathBuf,
    /// Pixel size in mm on the model's input grid; None: distances in pixels.
    pub pixel_spacing_mm: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Segmentations {
    pub rows: Vec<SegmentationRow>,
}

/// A path inside the run folder: relative, without `..` (the folder must stay self-contained).
fn check_relative(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("is empty".into());
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "{:?} must be a path relative to the run folder, without ..",
            path.display().to_string()
        ));
    }
    Ok(())
}

fn check_spacing(value: f64) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!(
            "{SPACING_COLUMN} {value} is not a positive finite number"
        ))
    }
}

fn check_split(split: Split) -> Result<Split, String> {
    match split {
        Split::Val | Split::Test => Ok(split),
        Split::Train => Err("split must be val or test, got \"train\"".into()),
    }
}

impl Segmentations {
    /// Whether the rows carry a pixel spacing (all of them, or none: mixed units are refused).
    pub fn has_spacing(&self) -> bool {
        self.rows.iter().any(|r| r.pixel_spacing_mm.is_some())
    }

    /// The rows of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &SegmentationRow> {
        self.rows.iter().filter(move |r| r.split == split)
    }

    /// Checks every row as `read_csv` does; a problem names the row (1-based, header excluded).
    pub fn validate(&self) -> Result<(), String> {
        let with_spacing = self.has_spacing();
        let mut seen = HashSet::new();
        for (i, row) in self.rows.iter().enumerate() {
            let at = |m: String| format!("row {} ({}): {m}", i + 1, row.image_id);
            if row.image_id.is_empty() || row.label.is_empty() {
                return Err(at("image_id and label must not be empty".into()));
            }
            check_split(row.split).map_err(at)?;
            for (name, path) in [
                ("image", &row.image),
                ("truth", &row.truth),
                ("prediction", &row.prediction),
            ] {
                check_relative(path).map_err(|m| at(format!("{name} {m}")))?;
            }
            match row.pixel_spacing_mm {
                Some(s) => {
                    check_spacing(s).map_err(at)?;
                }
                None if with_spacing => {
                    return Err(at(format!("no {SPACING_COLUMN} while other rows have one")));
                }
                None => {}
            }
            if !seen.insert((&row.image_id, row.fold, row.split)) {
                return Err(at(format!(
                    "image appears twice in fold {} {}",
                    row.fold, row.split
                )));
            }
        }
        Ok(())
    }

    /// Writes `segmentations.csv` atomically (with the spacing column when the rows have one).
    pub fn write_csv(&self, path: &Path) -> Result<(), EvalError> {
        self.validate().map_err(|m| EvalError::bad_file(path, m))?;
        let with_spacing = self.has_spacing();
        let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        if with_spacing {
            header.push(SPACING_COLUMN.to_string());
        }
        let rows = self.rows.iter().map(|row| {
            let mut record = vec![
                row.image_id.clone(),
                row.fold.to_string(),
                row.split.to_string(),
                row.label.clone(),
                row.image.to_string_lossy().into_owned(),
                row.truth.to_string_lossy().into_owned(),
                row.prediction.to_string_lossy().into_owned(),
            ];
            record.extend(row.pixel_spacing_mm.map(|s| s.to_string()));
            record
        });
        write_csv_atomic(path, std::iter::once(header).chain(rows))
    }

    /// Reads a `segmentations.csv`; a malformed header or cell is an error naming the file and
    /// line. Whether the PNGs exist is checked when they are read.
    pub fn read_csv(path: &Path) -> Result<Self, EvalError> {
        // Flexible: a short or long row gets this reader's own one-line message.
        let (mut reader, header) = open_csv(path, true)?;
        let columns: Vec<&str> = header.iter().collect();
        let with_spacing = columns.len() == COLUMNS.len() + 1 && columns[7] == SPACING_COLUMN;
        if columns.len() < COLUMNS.len()
            || columns[..COLUMNS.len()] != COLUMNS
            || (columns.len() > COLUMNS.len() && !with_spacing)
        {
            return Err(EvalError::bad_file(
                path,
                format!(
                    "header must be {}[,{SPACING_COLUMN}], got {}",
                    COLUMNS.join(","),
                    columns.join(",")
                ),
            ));
        }
        let mut rows = Segmentations::default();
        let mut seen = HashSet::new();
        for record in reader.records() {
            let record = record.map_err(|e| EvalError::bad_file(path, e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let at = |message: String| EvalError::bad_file(path, format!("line {line}: {message}"));
            let row = parse_row(&record, columns.len(), with_spacing).map_err(at)?;
            if !seen.insert((row.image_id.clone(), row.fold, row.split)) {
                return Err(at(format!(
                    "image {:?} appears twice in fold {} {}",
                    row.image_id, row.fold, row.split
                )));
            }
            rows.rows.push(row);
        }
        Ok(rows)
    }
}

fn parse_row(
    record: &csv::StringRecord,
    n_columns: usize,
    with_spacing: bool,
) -> Result<SegmentationRow, String> {
    if record.len() != n_columns {
        return Err(format!("{} fields, expected {n_columns}", record.len()));
    }
    let image_id = record[0].to_string();
    let label = record[3].to_string();
    if image_id.is_empty() || label.is_empty() {
        return Err("image_id and label must not be empty".into());
    }
    let fold = record[1]
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("fold {:?} is not a non-negative integer", &record[1]))?;
    let split = check_split(record[2].trim().parse::<Split>()?)?;
    let mut paths = [4, 5, 6].map(|k| PathBuf::from(record[k].trim()));
    for (name, path) in COLUMNS[4..].iter().zip(&paths) {
        check_relative(path).map_err(|m| format!("{name} {m}"))?;
    }
    let pixel_spacing_mm = if with_spacing {
        let cell = record[7].trim();
        let value = cell
            .parse::<f64>()
            .map_err(|_| format!("{SPACING_COLUMN} {cell:?} is not a number"))?;
        Some(check_spacing(value)?)
    } else {
        None
    };
    let [image, truth, prediction] = std::mem::take(&mut paths);
    Ok(SegmentationRow {
        image_id,
        fold,
        split,
        label,
        image,
        truth,
        prediction,
        pixel_spacing_mm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "image_id,fold,split,label,image,truth,prediction";

    fn read(text: &str) -> Result<Segmentations, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segmentations.csv");
        std::fs::write(&path, text).unwrap();
        Segmentations::read_csv(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trip_with_and_without_spacing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segmentations.csv");
        let mut s = Segmentations {
            rows: vec![SegmentationRow {
                image_id: "benign (1), left".into(),
                fold: 2,
                split: Split::Test,
                label: "benign".into(),
                image: "seg/fold_2/x_image.png".into(),
                truth: "seg/fold_2/x_truth.png".into(),
                prediction: "seg/fold_2/x_pred.png".into(),
                pixel_spacing_mm: None,
            }],
        };
        s.write_csv(&path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with(&format!("{HEADER}\n"))
        );
        assert_eq!(Segmentations::read_csv(&path).unwrap(), s);
        s.rows[0].pixel_spacing_mm = Some(0.1234567890123);
        s.write_csv(&path).unwrap();
        assert_eq!(Segmentations::read_csv(&path).unwrap(), s);
        s.rows[0].split = Split::Train;
        assert!(
            s.write_csv(&path)
                .unwrap_err()
                .to_string()
                .contains("row 1")
        );
    }

    #[test]
    fn bad_rows_name_the_file_and_line() {
        let ok = "a,0,test,benign,i.png,t.png,p.png\n";
        let cases = [
            (
                format!("{HEADER}\n{ok}b,x,test,benign,i,t,p\n"),
                "line 3: fold \"x\"",
            ),
            (
                format!("{HEADER}\nb,0,train,benign,i,t,p\n"),
                "line 2: split must be val or test",
            ),
            (
                format!("{HEADER}\nb,0,tst,benign,i,t,p\n"),
                "line 2: split must be",
            ),
            (
                format!("{HEADER}\nb,0,val,benign,/etc/i,t,p\n"),
                "line 2: image",
            ),
            (
                format!("{HEADER}\nb,0,val,benign,i,../t,p\n"),
                "line 2: truth",
            ),
            (
                format!("{HEADER}\nb,0,val,benign,i,t,\n"),
                "line 2: prediction is empty",
            ),
            (
                format!("{HEADER}\nb,0,val,,i,t,p\n"),
                "line 2: image_id and label",
            ),
            (
                format!("{HEADER}\n{ok}{ok}"),
                "line 3: image \"a\" appears twice",
            ),
            (
                format!("{HEADER}\nb,0,val,benign,i,t\n"),
                "line 2: 6 fields, expected 7",
            ),
            (
                format!("{HEADER},{SPACING_COLUMN}\nb,0,val,b,i,t,p,0\n"),
                "line 2: pixel_spacing_mm 0",
            ),
            (
                format!("{HEADER},{SPACING_COLUMN}\nb,0,val,b,i,t,p,\n"),
                "line 2: pixel_spacing_mm \"\"",
            ),
            (format!("{HEADER},score\n"), "header must be"),
            (
                "image_id,fold,split,label,image,mask,prediction\n".to_string(),
                "header must be",
            ),
        ];
        for (text, expected) in cases {
            let msg = read(&text).unwrap_err();
            assert!(
                msg.contains("segmentations.csv") && msg.contains(expected),
                "{expected}: {msg}"
            );
            assert!(!msg.contains('\n'), "{msg}");
        }
        // The same image may be in val and test, and in several folds.
        let rows = read(&format!(
            "{HEADER}\n{ok}a,0,val,benign,i.png,t.png,p.png\na,1,test,benign,i,t,p\n"
        ))
        .unwrap();
        assert_eq!(rows.split(Split::Test).count(), 2);
        assert!(!rows.has_spacing());
    }
}
