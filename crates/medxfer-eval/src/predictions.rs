//! The predictions file of a run folder (the contract between training and evaluation) and
//! the task description beside it.
//!
//! `predictions.csv`: header `image_id,fold,split,label[,source][,center],score_<class0>,
//! score_<class1>,...`, one row per image per fold that was scored. `source` (the dataset of a
//! multi-source run) and `center` (hospital or scanner, when the data names one) are written
//! only when some row has one; evaluation then reports metrics per source and per centre. `task.json`:
//! `{"class_names": [...], "positive_class": "malignant" | null, "task": "classification"}`;
//! `task` is `"classification"` (the default when absent, so older run folders still read) or
//! `"segmentation"` (the run has `segmentations.csv` instead, see `segmentation_run`).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::EvalError;
use crate::atomic_write::{open_csv, write_csv_atomic, write_json_atomic};

const FIXED_COLUMNS: [&str; 4] = ["image_id", "fold", "split", "label"];
const SCORE_PREFIX: &str = "score_";
const SOURCE_COLUMN: &str = "source";
const CENTER_COLUMN: &str = "center";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        })
    }
}

impl FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Split::Train),
            "val" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            other => Err(format!("split must be train, val or test, got {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PredictionRow {
    pub image_id: String,
    pub fold: usize,
    pub split: Split,
    /// True class name.
    pub label: String,
    /// The dataset the image came from in a multi-source run.
    #[serde(default)]
    pub source: Option<String>,
    /// The image's hospital or scanner, when the data names one.
    #[serde(default)]
    pub center: Option<String>,
    /// Softmax probabilities in class order.
    pub scores: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Predictions {
    pub class_names: Vec<String>,
    pub rows: Vec<PredictionRow>,
}

impl Predictions {
    /// Index of the class called `name`.
    pub fn class_index(&self, name: &str) -> Option<usize> {
        self.class_names.iter().position(|c| c == name)
    }

    /// Checks that every row has one score per class and a known label.
    pub fn validate(&self) -> Result<(), EvalError> {
        if self.class_names.is_empty() {
            return Err(EvalError::InvalidArgument("predictions: no classes".into()));
        }
        for (i, row) in self.rows.iter().enumerate() {
            if row.scores.len() != self.class_names.len() {
                return Err(EvalError::InvalidArgument(format!(
                    "predictions row {i} ({}): {} scores for {} classes",
                    row.image_id,
                    row.scores.len(),
                    self.class_names.len()
                )));
            }
            if self.class_index(&row.label).is_none() {
                return Err(EvalError::InvalidArgument(format!(
                    "predictions row {i} ({}): label {:?} is not one of {:?}",
                    row.image_id, row.label, self.class_names
                )));
            }
        }
        Ok(())
    }

    /// Writes `predictions.csv` atomically; scores are printed with round-trip precision.
    pub fn write_csv(&self, path: &Path) -> Result<(), EvalError> {
        self.validate()?;
        let with_source = self.rows.iter().any(|r| r.source.is_some());
        let with_center = self.rows.iter().any(|r| r.center.is_some());
        let mut header: Vec<String> = FIXED_COLUMNS.iter().map(|s| s.to_string()).collect();
        for (wanted, column) in [(with_source, SOURCE_COLUMN), (with_center, CENTER_COLUMN)] {
            if wanted {
                header.push(column.to_string());
            }
        }
        header.extend(
            self.class_names
                .iter()
                .map(|c| format!("{SCORE_PREFIX}{c}")),
        );
        let rows = self.rows.iter().map(move |row| {
            let mut record = vec![
                row.image_id.clone(),
                row.fold.to_string(),
                row.split.to_string(),
                row.label.clone(),
            ];
            for (wanted, value) in [(with_source, &row.source), (with_center, &row.center)] {
                if wanted {
                    record.push(value.clone().unwrap_or_default());
                }
            }
            record.extend(row.scores.iter().map(|s| s.to_string()));
            record
        });
        write_csv_atomic(path, std::iter::once(header).chain(rows))
    }

    /// Reads a `predictions.csv`; any malformed cell is an error naming the file and line.
    pub fn read_csv(path: &Path) -> Result<Self, EvalError> {
        let (mut reader, header) = open_csv(path, false)?;
        let columns: Vec<&str> = header.iter().collect();
        if columns.len() < FIXED_COLUMNS.len() + 1 || columns[..4] != FIXED_COLUMNS {
            return Err(EvalError::bad_file(
                path,
                format!(
                    "header must be image_id,fold,split,label[,source][,center],score_<class>..., got {}",
                    columns.join(",")
                ),
            ));
        }
        let mut first_score = FIXED_COLUMNS.len();
        let source_at = (columns.get(first_score) == Some(&SOURCE_COLUMN)).then_some(first_score);
        first_score += usize::from(source_at.is_some());
        let center_at = (columns.get(first_score) == Some(&CENTER_COLUMN)).then_some(first_score);
        first_score += usize::from(center_at.is_some());
        let mut class_names = Vec::new();
        for col in &columns[first_score..] {
            match col.strip_prefix(SCORE_PREFIX) {
                Some(name) if !name.is_empty() => class_names.push(name.to_string()),
                _ => {
                    return Err(EvalError::bad_file(
                        path,
                        format!("header column {col:?} should be score_<class name>"),
                    ));
                }
            }
        }
        if class_names.is_empty() {
            return Err(EvalError::bad_file(
                path,
                "header has no score_<class> columns".to_string(),
            ));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| EvalError::bad_file(path, e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let at = |message: String| EvalError::bad_file(path, format!("line {line}: {message}"));
            if record.len() != columns.len() {
                return Err(at(format!(
                    "{} fields, expected {}",
                    record.len(),
                    columns.len()
                )));
            }
            let fold = record[1].trim().parse::<usize>().map_err(|_| {
                at(format!(
                    "fold {:?} is not a non-negative integer",
                    &record[1]
                ))
            })?;
            let split = record[2].trim().parse::<Split>().map_err(at)?;
            let label = record[3].to_string();
            if !class_names.contains(&label) {
                return Err(at(format!(
                    "label {label:?} is not one of the score columns' classes {class_names:?}"
                )));
            }
            let mut scores = Vec::with_capacity(class_names.len());
            for (k, cell) in record.iter().skip(first_score).enumerate() {
                let value = cell
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        at(format!(
                            "score_{} {cell:?} is not a finite number",
                            class_names[k]
                        ))
                    })?;
                scores.push(value);
            }
            let optional = |at: Option<usize>| {
                at.map(|k| record[k].to_string())
                    .filter(|value| !value.is_empty())
            };
            rows.push(PredictionRow {
                image_id: record[0].to_string(),
                fold,
                split,
                label,
                source: optional(source_at),
                center: optional(center_at),
                scores,
            });
        }
        Ok(Predictions { class_names, rows })
    }
}

/// What a run folder's models do, and so which contract file evaluation reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// `predictions.csv`: class scores per image.
    #[default]
    Classification,
    /// `segmentations.csv`: input, truth and predicted mask PNGs per image.
    Segmentation,
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskKind::Classification => "classification",
            TaskKind::Segmentation => "segmentation",
        })
    }
}

/// `task.json`: class order and the positive class (None for multi-class without one). A
/// segmentation run's class names are the images' class labels (per-class summaries).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInfo {
    pub class_names: Vec<String>,
    pub positive_class: Option<String>,
    #[serde(default)]
    pub task: TaskKind,
}

impl TaskInfo {
    pub fn read_json(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
        let task: TaskInfo =
            serde_json::from_str(&text).map_err(|e| EvalError::bad_file(path, e.to_string()))?;
        task.validate().map_err(|m| EvalError::bad_file(path, m))?;
        Ok(task)
    }

    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        self.validate().map_err(|m| EvalError::bad_file(path, m))?;
        write_json_atomic(path, self)
    }

    /// Index of the positive class, if there is one.
    pub fn positive_index(&self) -> Option<usize> {
        let positive = self.positive_class.as_ref()?;
        self.class_names.iter().position(|c| c == positive)
    }

    fn validate(&self) -> Result<(), String> {
        if self.class_names.len() < 2 {
            return Err(format!(
                "class_names needs at least 2 classes, got {:?}",
                self.class_names
            ));
        }
        if let Some(p) = &self.positive_class
            && !self.class_names.contains(p)
        {
            return Err(format!(
                "positive_class {p:?} is not one of {:?}",
                self.class_names
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Predictions {
        Predictions {
            class_names: vec!["benign".into(), "malignant".into()],
            rows: vec![
                PredictionRow {
                    image_id: "img, 1".into(),
                    fold: 0,
                    split: Split::Test,
                    label: "malignant".into(),
                    source: Some("busbra".into()),
                    center: None,
                    scores: vec![0.1234567890123456, 0.8765432109876544],
                },
                PredictionRow {
                    image_id: "img2".into(),
                    fold: 3,
                    split: Split::Val,
                    label: "benign".into(),
                    source: Some("busi".into()),
                    center: Some("GE, Logiq".into()),
                    scores: vec![1.0, 1e-300],
                },
            ],
        }
    }

    #[test]
    fn csv_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.csv");
        let p = sample();
        p.write_csv(&path).unwrap();
        assert_eq!(Predictions::read_csv(&path).unwrap(), p);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(
                "image_id,fold,split,label,source,center,score_benign,score_malignant\n"
            )
        );
        // Without sources and centres the columns are not written, and such files still read.
        let mut plain = sample();
        for row in plain.rows.iter_mut() {
            (row.source, row.center) = (None, None);
        }
        plain.write_csv(&path).unwrap();
        assert_eq!(Predictions::read_csv(&path).unwrap(), plain);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("image_id,fold,split,label,score_benign,score_malignant\n"));
    }

    #[test]
    fn bad_cells_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(
            &path,
            "image_id,fold,split,label,score_a,score_b\nx,0,test,a,0.5,0.5\ny,0,test,a,0.5,oops\n",
        )
        .unwrap();
        let msg = Predictions::read_csv(&path).unwrap_err().to_string();
        assert!(
            msg.contains("p.csv") && msg.contains("line 3") && msg.contains("score_b"),
            "{msg}"
        );
        std::fs::write(
            &path,
            "image_id,fold,split,label,score_a,score_b\nx,0,testing,a,0.5,0.5\n",
        )
        .unwrap();
        let msg = Predictions::read_csv(&path).unwrap_err().to_string();
        assert!(msg.contains("line 2") && msg.contains("split"), "{msg}");
        std::fs::write(
            &path,
            "image_id,fold,split,label,score_a,score_b\nx,0,test,c,0.5,0.5\n",
        )
        .unwrap();
        assert!(
            Predictions::read_csv(&path)
                .unwrap_err()
                .to_string()
                .contains("label \"c\"")
        );
        std::fs::write(&path, "id,fold,split,label,score_a\n").unwrap();
        assert!(
            Predictions::read_csv(&path)
                .unwrap_err()
                .to_string()
                .contains("header")
        );
    }

    #[test]
    fn task_json_round_trip_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task.json");
        let mut task = TaskInfo {
            class_names: vec!["benign".into(), "malignant".into()],
            positive_class: Some("malignant".into()),
            task: TaskKind::Classification,
        };
        task.write_json(&path).unwrap();
        assert_eq!(TaskInfo::read_json(&path).unwrap(), task);
        task.task = TaskKind::Segmentation;
        task.write_json(&path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains(r#""task": "segmentation""#)
        );
        assert_eq!(TaskInfo::read_json(&path).unwrap(), task);
        // Folders written before the field existed are classification runs.
        std::fs::write(&path, r#"{"class_names":["a","b"],"positive_class":null}"#).unwrap();
        assert_eq!(
            TaskInfo::read_json(&path).unwrap().task,
            TaskKind::Classification
        );
        std::fs::write(
            &path,
            r#"{"class_names":["a","b"],"positive_class":null,"task":"detection"}"#,
        )
        .unwrap();
        let msg = TaskInfo::read_json(&path).unwrap_err().to_string();
        assert!(
            msg.contains("task.json") && msg.contains("detection"),
            "{msg}"
        );
        assert_eq!(task.positive_index(), Some(1));
        std::fs::write(&path, r#"{"class_names":["a","b"],"positive_class":"c"}"#).unwrap();
        assert!(
            TaskInfo::read_json(&path)
                .unwrap_err()
                .to_string()
                .contains("positive_class")
        );
        std::fs::write(&path, r#"{"class_names":["a","b"],"positive_class":null}"#).unwrap();
        assert_eq!(TaskInfo::read_json(&path).unwrap().positive_index(), None);
    }
}
