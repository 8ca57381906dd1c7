//! Per-cell pictures for the study report: learning curves (each cell's per-epoch training and
//! validation loss and its validation score, AUC or Dice, averaged over the folds, from the
//! `curves.csv` every fold of a run writes) and the explanation gallery (the contact sheets
//! `medxfer explain` wrote into a cell's `explanations/` folder).

use std::fmt::Write;
use std::path::Path;

use base64::Engine as _;
use medxfer_atomic::run_files::{CONTACT_SHEET_PREFIX, CURVES, EXPLANATIONS, fold_files};

use crate::StudyError;
use crate::report::{ReportCell, escape};
use crate::svg::{Axes, Series, line_plot};

/// One fold's `curves.csv`: the numeric columns by name, a row per epoch in training order
/// (a two-phase run's head epochs, then its unfrozen ones).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldCurves {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl FoldCurves {
    pub fn read(path: &Path) -> Result<Self, StudyError> {
        let text = std::fs::read_to_string(path).map_err(|e| StudyError::io(path, e))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| StudyError::folder(path, "empty curves file"))?
            .split(',')
            .collect();
        // The phase column is text; every other column is a number.
        let keep: Vec<usize> = (0..header.len())
            .filter(|&i| header[i] != "phase")
            .collect();
        let rows = lines
            .enumerate()
            .map(|(n, line)| {
                let cells: Vec<&str> = line.split(',').collect();
                if cells.len() != header.len() {
                    return Err(StudyError::folder(
                        path,
                        format!(
                            "line {}: {} cells for {} columns",
                            n + 2,
                            cells.len(),
                            header.len()
                        ),
                    ));
                }
                keep.iter()
                    .map(|&i| {
                        cells[i].trim().parse::<f64>().map_err(|_| {
                            StudyError::folder(
                                path,
                                format!(
                                    "line {}: {} {:?} is not a number",
                                    n + 2,
                                    header[i],
                                    cells[i]
                                ),
                            )
                        })
                    })
                    .collect()
            })
            .collect::<Result<Vec<Vec<f64>>, _>>()?;
        Ok(FoldCurves {
            columns: keep.iter().map(|&i| header[i].to_string()).collect(),
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r[i]).collect())
    }

    /// The validation score the run chose epochs by: the first `val_` column that is not the
    /// loss (`val_auc` for classification, `val_dice` for segmentation).
    fn score_column(&self) -> Option<&str> {
        self.columns
            .iter()
            .map(String::as_str)
            .find(|c| c.starts_with("val_") && *c != "val_loss")
    }
}

/// Per-epoch means over the folds that reached each epoch (early stopping can end folds at
/// different epochs).
pub fn mean_over_folds(series: &[Vec<f64>]) -> Vec<f64> {
    let epochs = series.iter().map(Vec::len).max().unwrap_or(0);
    (0..epochs)
        .map(|e| {
            let values: Vec<f64> = series.iter().filter_map(|s| s.get(e).copied()).collect();
            values.iter().sum::<f64>() / values.len() as f64
        })
        .collect()
}

/// Every fold's curves of a cell, in fold order.
fn cell_curves(cell: &ReportCell) -> Result<Vec<FoldCurves>, StudyError> {
    fold_files(&cell.dir, CURVES)
        .map_err(|e| StudyError::io(&cell.dir, e))?
        .iter()
        .map(|p| FoldCurves::read(p))
        .collect()
}

fn as_points(values: &[f64]) -> Vec<(f64, f64)> {
    values
        .iter()
        .enumerate()
        .map(|(e, &v)| ((e + 1) as f64, v))
        .collect()
}

/// `<h2>Learning curves</h2>`: for each cell, its mean training and validation loss per epoch;
/// then every cell's mean validation score per epoch on one plot. Cells whose folds have no
/// `curves.csv` (runs older than that file) are left out and named.
pub fn learning_curves(cells: &[ReportCell]) -> Result<String, StudyError> {
    let mut html = String::from("<h2>Learning curves (mean over folds)</h2>");
    let (mut scores, mut score_name, mut without) = (Vec::new(), None, Vec::new());
    for (i, cell) in cells.iter().enumerate() {
        let folds = cell_curves(cell)?;
        let mean_of = |column: &str| -> Option<Vec<f64>> {
            let series: Option<Vec<Vec<f64>>> = folds.iter().map(|f| f.column(column)).collect();
            series
                .filter(|s| !s.is_empty())
                .map(|s| mean_over_folds(&s))
        };
        let (Some(train), Some(val)) = (mean_of("train_loss"), mean_of("val_loss")) else {
            without.push(format!("{} {}", i + 1, cell.name));
            continue;
        };
        let losses = [("train loss", train), ("validation loss", val)].map(|(name, v)| Series {
            name: name.into(),
            points: as_points(&v),
        });
        let title = format!("{}. {}", i + 1, cell.name);
        let axes = Axes {
            title: &title,
            x_title: "epoch",
            y_title: "loss",
            x_range: (1.0, losses[0].points.len().max(2) as f64),
            y_range: Axes::fitted(losses.iter().flat_map(|s| s.points.iter().map(|p| p.1))),
        };
        let _ = write!(
            html,
            "<figure>{}</figure>",
            line_plot(&axes, &losses, false)
        );
        let score = folds
            .first()
            .and_then(|f| f.score_column())
            .map(str::to_string);
        if let Some(values) = score.as_deref().and_then(mean_of) {
            score_name = score;
            scores.push(Series {
                name: format!("{}. {}", i + 1, cell.name),
                points: as_points(&values),
            });
        }
    }
    if let Some(name) = score_name {
        let label = name.trim_start_matches("val_").replace('_', " ");
        let title = format!("Validation {label}");
        let epochs = scores.iter().map(|s| s.points.len()).max().unwrap_or(2);
        let axes = Axes {
            title: &title,
            x_title: "epoch",
            y_title: &label,
            x_range: (1.0, epochs.max(2) as f64),
            y_range: Axes::fitted(scores.iter().flat_map(|s| s.points.iter().map(|p| p.1))),
        };
        let _ = write!(
            html,
            "<figure>{}</figure>",
            line_plot(&axes, &scores, false)
        );
    }
    if !without.is_empty() {
        let _ = write!(
            html,
            "<p class=\"note\">No learning curves (no fold_*/{CURVES}): {}</p>",
            escape(&without.join(", "))
        );
    }
    Ok(html)
}

/// `<h2>Explanations</h2>` with every contact sheet found in the cells' `explanations/`
/// folders (`medxfer explain CELL IMAGE... --out CELL/explanations`), inlined as PNG data so
/// the page stays one file; empty when no cell has any.
pub fn explanation_gallery(cells: &[ReportCell]) -> Result<String, StudyError> {
    let mut figures = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let folder = cell.dir.join(EXPLANATIONS);
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut sheets: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "png")
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(CONTACT_SHEET_PREFIX))
            })
            .collect();
        sheets.sort();
        for sheet in sheets {
            let png = std::fs::read(&sheet).map_err(|e| StudyError::io(&sheet, e))?;
            let stem = sheet.file_stem().unwrap_or_default().to_string_lossy();
            let method = stem.trim_start_matches(CONTACT_SHEET_PREFIX);
            let caption = format!("{}. {}: {method}", i + 1, cell.name);
            let _ = write!(
                figures,
                "<figure><img src=\"data:image/png;base64,{}\" alt=\"{1}\"><figcaption>{1}</figcaption></figure>",
                base64::engine::general_purpose::STANDARD.encode(png),
                escape(&caption)
            );
        }
    }
    Ok(if figures.is_empty() {
        figures
    } else {
        format!("<h2>Explanations</h2>{figures}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_parse_by_name_and_average_over_the_folds_that_reached_each_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CURVES);
        std::fs::write(
            &path,
            "phase,epoch,lr,train_loss,val_loss,val_auc,seconds\n\
             head,1,0.001,0.70,0.60,0.80,0.1\nunfrozen,1,0.0001,0.50,0.55,0.85,2.0\n",
        )
        .unwrap();
        let curves = FoldCurves::read(&path).unwrap();
        assert_eq!(curves.score_column(), Some("val_auc"));
        assert_eq!(curves.column("val_loss"), Some(vec![0.60, 0.55]));
        assert_eq!(
            mean_over_folds(&[vec![1.0, 2.0, 3.0], vec![3.0, 4.0]]),
            vec![2.0, 3.0, 3.0]
        );
        std::fs::write(&path, "phase,epoch,train_loss\nhead,1,oops\n").unwrap();
        let err = FoldCurves::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 2: train_loss \"oops\" is not a number"),
            "{err}"
        );
    }
}
