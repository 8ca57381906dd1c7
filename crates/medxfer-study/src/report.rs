//! `medxfer study report`: one self-contained HTML page (inline CSS and SVG, nothing fetched)
//! with the study's paper-style table and its statistics, read from the cell run folders.
//!
//! - Table: per cell, each metric's mean ± sd over folds and its pooled value over all
//!   out-of-fold test predictions with the 95% CI `medxfer evaluate` computed (DeLong for a
//!   binary AUC, stratified bootstrap otherwise). Classification: AUC, balanced accuracy, MCC;
//!   segmentation: Dice, IoU, HD95.
//! - Pairwise paired DeLong on the pooled out-of-fold predictions (`compare_runs`), Holm-
//!   adjusted over all pairs (classification).
//! - Friedman across folds (cells as treatments, folds as blocks) and pairwise Wilcoxon
//!   signed-rank across folds, Holm-adjusted, on the first metric (AUC or Dice).
//! - Plots: per-fold values of that metric; pooled ROC and precision-recall curves (binary).
//!
//! Every statistic comes from `medxfer-eval`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use medxfer_atomic::run_files::{METRICS, PREDICTIONS, TASK};
use medxfer_eval::curves::{pr_curve, roc_curve};
use medxfer_eval::predictions::{Predictions, Split, TaskInfo, TaskKind};
use medxfer_eval::report::{Interval, RunMetrics};
use medxfer_eval::segmentation_run::{SegMetric, SegmentationRunMetrics};
use medxfer_report::arm_scores::{ArmScores, Metric, load_arm_scores};

use crate::StudyError;
use crate::folder::{StudyFolder, StudyManifest};
use crate::report_pairwise::{delong_table, fold_tests};
use crate::store::CellStatus;
use crate::svg::{Series, fold_dot_plot, unit_square_plot};

/// A pooled value with its 95% CI.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooled {
    pub value: f64,
    pub ci: Option<(f64, f64)>,
}

/// A finished cell as the report sees it.
#[derive(Debug, Clone)]
pub struct ReportCell {
    pub name: String,
    pub labels: Vec<String>,
    pub dir: PathBuf,
    pub folds: ArmScores,
    /// Per table metric.
    pub pooled: Vec<Option<Pooled>>,
    /// A classification cell's `metrics.json` (calibration, confusion matrix).
    pub classification: Option<RunMetrics>,
}

/// What went into the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    pub cells_reported: usize,
    /// Cells of the grid without a finished run folder.
    pub cells_missing: Vec<String>,
}

/// The metrics of a task's table; the first is the one the fold-wise tests use.
pub(crate) fn table_metrics(task: TaskKind) -> [Metric; 3] {
    match task {
        TaskKind::Classification => [Metric::Auc, Metric::BalancedAccuracy, Metric::Mcc],
        TaskKind::Segmentation => [Metric::Dice, Metric::Iou, Metric::Hd95],
    }
}

/// Write the report of the study folder `study_dir` to `out` (atomically).
pub fn write_report(study_dir: &Path, out: &Path) -> Result<ReportSummary, StudyError> {
    let folder = StudyFolder::new(study_dir);
    let manifest = folder.read_manifest()?;
    let (task, cells, missing) = gather(&folder, &manifest)?;
    if cells.is_empty() {
        return Err(StudyError::folder(
            study_dir,
            "no finished cell to report: run the study first",
        ));
    }
    let mut html = render(&manifest, task, &cells, &missing)?;
    if !manifest.externals.is_empty() {
        let table = cross_dataset_table(&folder, &manifest, task, &cells)?;
        // Beside the main table, before the statistics.
        let at = html
            .find("</table>")
            .map_or(html.len(), |i| i + "</table>".len());
        html.insert_str(at, &table);
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| StudyError::io(parent, e))?;
    }
    medxfer_atomic::write_atomic(out, html.as_bytes()).map_err(|e| StudyError::io(out, e))?;
    Ok(ReportSummary {
        cells_reported: cells.len(),
        cells_missing: missing,
    })
}

/// The finished cells (one task for all), and the names of the others.
fn gather(
    folder: &StudyFolder,
    manifest: &StudyManifest,
) -> Result<(TaskKind, Vec<ReportCell>, Vec<String>), StudyError> {
    let mut task = None;
    let mut cells = Vec::new();
    let mut missing = Vec::new();
    for cell in &manifest.cells {
        let dir = folder.cell_dir(&cell.name);
        if CellStatus::of(&dir) != CellStatus::Finished || !dir.join(METRICS).exists() {
            missing.push(cell.name.clone());
            continue;
        }
        let info = TaskInfo::read_json(&dir.join(TASK))?;
        if *task.get_or_insert(info.task) != info.task {
            return Err(StudyError::folder(
                &dir,
                "mixes classification and segmentation cells: report them as separate studies",
            ));
        }
        let (pooled, classification) = pooled_values(&dir, info.task)?;
        cells.push(ReportCell {
            name: cell.name.clone(),
            labels: cell.settings.iter().map(|s| s.label.clone()).collect(),
            folds: load_arm_scores(&dir, None)?,
            dir,
            pooled,
            classification,
        });
    }
    Ok((task.unwrap_or_default(), cells, missing))
}

/// The pooled values and CIs of the table's metrics, from the cell's `metrics.json` (and all
/// of it for a classification cell).
fn pooled_values(
    dir: &Path,
    task: TaskKind,
) -> Result<(Vec<Option<Pooled>>, Option<RunMetrics>), StudyError> {
    let path = dir.join(METRICS);
    let text = std::fs::read_to_string(&path).map_err(|e| StudyError::io(&path, e))?;
    let bad = |e: serde_json::Error| StudyError::folder(&path, e.to_string());
    let ci = |i: &Option<Interval>| i.as_ref().map(|i| (i.low, i.high));
    Ok(match task {
        TaskKind::Classification => {
            let m: RunMetrics = serde_json::from_str(&text).map_err(bad)?;
            let c = &m.pooled.classification;
            let pooled = vec![
                m.pooled.auc.map(|value| Pooled {
                    value,
                    ci: ci(&m.pooled.auc_ci),
                }),
                Some(Pooled {
                    value: c.balanced_accuracy,
                    ci: ci(&m.pooled.balanced_accuracy_ci),
                }),
                Some(Pooled {
                    value: c.mcc,
                    ci: ci(&m.pooled.mcc_ci),
                }),
            ];
            (pooled, Some(m))
        }
        TaskKind::Segmentation => {
            let m: SegmentationRunMetrics = serde_json::from_str(&text).map_err(bad)?;
            let pooled = [SegMetric::Dice, SegMetric::Iou, SegMetric::Hd95]
                .into_iter()
                .map(|metric| {
                    m.pooled.means.mean.get(metric).map(|value| Pooled {
                        value,
                        ci: ci(m.pooled.ci.get(metric)),
                    })
                })
                .collect();
            (pooled, None)
        }
    })
}

/// `<`, `>`, `&` and quotes as entities.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;\
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}caption{text-align:left;\
font-weight:bold;margin-bottom:.3em}.note{color:#555;font-size:.9em}figure{display:inline-block;\
margin:1em}";

fn render(
    manifest: &StudyManifest,
    task: TaskKind,
    cells: &[ReportCell],
    missing: &[String],
) -> Result<String, StudyError> {
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Study {0}</title><style>{STYLE}</style></head><body><h1>Study {0}</h1><p class=\"note\">{1} of {2} cells finished ({3} task); base configuration {4}. Each cell is a run folder under cells/.</p>",
        escape(&manifest.name),
        cells.len(),
        manifest.cells.len(),
        task,
        escape(&manifest.base_path.display().to_string())
    );
    if !missing.is_empty() {
        let _ = write!(
            html,
            "<p class=\"note\">Not finished, left out: {}</p>",
            escape(&missing.join(", "))
        );
    }
    html.push_str(&main_table(manifest, task, cells));
    if task == TaskKind::Classification {
        html.push_str(&delong_table(cells));
    }
    html.push_str(&fold_tests(task, cells));
    html.push_str(&calibration_table(cells));
    html.push_str(&plots(task, cells)?);
    html.push_str(&crate::learning_curves::learning_curves(cells)?);
    html.push_str(&crate::learning_curves::explanation_gallery(cells)?);
    html.push_str(&crate::embeddings::embedding_panels(cells)?);
    html.push_str(&confusion_matrices(cells));
    html.push_str("</body></html>\n");
    Ok(html)
}

fn mean_sd(values: &[f64]) -> String {
    match medxfer_eval::report::MeanSd::of(values) {
        None => "–".into(),
        Some(m) => match m.sd {
            Some(sd) => format!("{:.3} ± {sd:.3}", m.mean),
            None => format!("{:.3}", m.mean),
        },
    }
}

fn main_table(manifest: &StudyManifest, task: TaskKind, cells: &[ReportCell]) -> String {
    let metrics = table_metrics(task);
    let mut html = String::from(
        "<table id=\"results\"><caption>Test metrics per cell: mean ± sd over folds; pooled out-of-fold value [95% CI]</caption><tr><th>#</th>",
    );
    for axis in &manifest.axes {
        let _ = write!(html, "<th class=\"l\">{}</th>", escape(&axis.key));
    }
    for metric in metrics {
        let _ = write!(
            html,
            "<th>{0} (folds)</th><th>{0} pooled [95% CI]</th>",
            metric.label()
        );
    }
    html.push_str("<th>folds</th></tr>");
    for (i, cell) in cells.iter().enumerate() {
        let _ = write!(
            html,
            "<tr data-cell=\"{}\"><td>{}</td>",
            escape(&cell.name),
            i + 1
        );
        for label in &cell.labels {
            let _ = write!(html, "<td class=\"l\">{}</td>", escape(label));
        }
        for (metric, pooled) in metrics.iter().zip(&cell.pooled) {
            let values: Vec<f64> = fold_values(cell, *metric);
            let pooled = match pooled {
                Some(Pooled {
                    value,
                    ci: Some((low, high)),
                }) => format!("{value:.3} [{low:.3}, {high:.3}]"),
                Some(Pooled { value, ci: None }) => format!("{value:.3}"),
                None => "–".into(),
            };
            let _ = write!(html, "<td>{}</td><td>{pooled}</td>", mean_sd(&values));
        }
        let _ = write!(html, "<td>{}</td></tr>", cell.folds.folds.len());
    }
    html.push_str("</table>");
    html
}

pub(crate) fn fold_values(cell: &ReportCell, metric: Metric) -> Vec<f64> {
    cell.folds
        .folds
        .iter()
        .filter_map(|f| f.get(metric))
        .filter(|v| v.is_finite())
        .collect()
}

fn plots(task: TaskKind, cells: &[ReportCell]) -> Result<String, StudyError> {
    let mut html = String::from("<h2>Plots</h2>");
    let metric = table_metrics(task)[0];
    let per_fold: Vec<(String, Vec<f64>)> = cells
        .iter()
        .map(|c| (c.name.clone(), fold_values(c, metric)))
        .collect();
    let _ = write!(
        html,
        "<figure>{}<figcaption>Per-fold test {} (dots) and their mean (bar), cells numbered as in the table</figcaption></figure>",
        fold_dot_plot(&format!("{} per fold", metric.label()), &per_fold),
        metric.label()
    );
    if task == TaskKind::Classification {
        let (roc, pr) = binary_curves(cells)?;
        let calibration = calibration_series(cells);
        if !calibration.is_empty() {
            let _ = write!(
                html,
                "<figure>{}<figcaption>Reliability: observed fraction positive against mean predicted probability, 10 equal-width bins, pooled out-of-fold</figcaption></figure>",
                unit_square_plot(
                    "Reliability (pooled)",
                    "mean predicted probability",
                    "fraction positive",
                    &calibration,
                    true
                )
            );
        }
        if !roc.is_empty() {
            let _ = write!(
                html,
                "<figure>{}<figcaption>ROC of the pooled out-of-fold test predictions</figcaption></figure><figure>{}<figcaption>Precision-recall of the same predictions</figcaption></figure>",
                unit_square_plot("ROC (pooled)", "1 − specificity", "sensitivity", &roc, true),
                unit_square_plot(
                    "Precision-recall (pooled)",
                    "recall",
                    "precision",
                    &pr,
                    false
                )
            );
        }
    }
    Ok(html)
}

/// Each binary cell's ROC and precision-recall curves over its pooled test predictions;
/// multi-class cells have none.
fn binary_curves(cells: &[ReportCell]) -> Result<(Vec<Series>, Vec<Series>), StudyError> {
    let (mut roc, mut pr) = (Vec::new(), Vec::new());
    for (i, cell) in cells.iter().enumerate() {
        let task = TaskInfo::read_json(&cell.dir.join(TASK))?;
        let (Some(positive), 2) = (task.positive_index(), task.class_names.len()) else {
            continue;
        };
        let predictions = Predictions::read_csv(&cell.dir.join(PREDICTIONS))?;
        let test: Vec<_> = predictions
            .rows
            .iter()
            .filter(|r| r.split == Split::Test)
            .collect();
        let labels: Vec<bool> = test
            .iter()
            .map(|r| r.label == task.class_names[positive])
            .collect();
        let scores: Vec<f64> = test.iter().map(|r| r.scores[positive]).collect();
        let name = format!("{} {}", i + 1, cell.name);
        if let (Ok(roc_points), Ok(pr_points)) =
            (roc_curve(&labels, &scores), pr_curve(&labels, &scores))
        {
            roc.push(Series {
                name: name.clone(),
                points: roc_points.iter().map(|p| (p.fpr, p.tpr)).collect(),
            });
            pr.push(Series {
                name,
                points: pr_points.iter().map(|p| (p.recall, p.precision)).collect(),
            });
        }
    }
    Ok((roc, pr))
}

/// Each binary cell's reliability bins (from `metrics.json`).
fn calibration_series(cells: &[ReportCell]) -> Vec<Series> {
    cells
        .iter()
        .enumerate()
        .filter_map(|(i, cell)| {
            let calibration = cell.classification.as_ref()?.pooled.calibration.as_ref()?;
            Some(Series {
                name: format!("{} {}", i + 1, cell.name),
                points: calibration
                    .reliability
                    .iter()
                    .filter(|bin| bin.count > 0)
                    .map(|bin| (bin.mean_predicted, bin.fraction_positive))
                    .collect(),
            })
        })
        .collect()
}

/// Brier score and ECE per binary cell, before and after temperature scaling when the run
/// has it.
fn calibration_table(cells: &[ReportCell]) -> String {
    let mut rows = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let Some(metrics) = &cell.classification else {
            continue;
        };
        let Some(calibration) = &metrics.pooled.calibration else {
            continue;
        };
        let scaled = match &metrics.pooled.temperature_scaled {
            Some(t) => format!(
                "<td>{:.3}</td><td>{:.3}</td>",
                t.calibration.brier, t.calibration.ece
            ),
            None => "<td>–</td><td>–</td>".into(),
        };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td>{scaled}</tr>",
            i + 1,
            calibration.brier,
            calibration.ece
        );
    }
    if rows.is_empty() {
        return rows;
    }
    format!(
        "<table id=\"calibration\"><caption>Calibration of the pooled out-of-fold probabilities (ECE over 10 bins); temperature scaling fitted on validation rows</caption><tr><th>#</th><th>Brier</th><th>ECE</th><th>Brier (scaled)</th><th>ECE (scaled)</th></tr>{rows}</table>"
    )
}

/// Each classification cell's pooled confusion matrix (rows: true class).
fn confusion_matrices(cells: &[ReportCell]) -> String {
    let mut html = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let Some(metrics) = &cell.classification else {
            continue;
        };
        let _ = write!(
            html,
            "<table class=\"confusion\"><caption>{} {}: confusion matrix (rows true, columns predicted; {})</caption><tr><th></th>",
            i + 1,
            escape(&cell.name),
            escape(&metrics.decision_rule)
        );
        for class in &metrics.class_names {
            let _ = write!(html, "<th>{}</th>", escape(class));
        }
        html.push_str("</tr>");
        for (class, row) in metrics
            .class_names
            .iter()
            .zip(&metrics.pooled.classification.confusion_matrix)
        {
            let _ = write!(html, "<tr><th class=\"l\">{}</th>", escape(class));
            for count in row {
                let _ = write!(html, "<td>{count}</td>");
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    }
    if html.is_empty() {
        return html;
    }
    format!("<h2>Confusion matrices (pooled out-of-fold)</h2>{html}")
}

fn pooled_text(pooled: Option<&Pooled>) -> String {
    match pooled {
        Some(Pooled {
            value,
            ci: Some((low, high)),
        }) => format!("{value:.3} [{low:.3}, {high:.3}]"),
        Some(Pooled { value, ci: None }) => format!("{value:.3}"),
        None => "–".into(),
    }
}

/// Each cell's first metric in its own data (pooled out of fold) beside each external
/// dataset (every fold model on every external image), as `medxfer evaluate` computed them.
fn cross_dataset_table(
    folder: &StudyFolder,
    manifest: &StudyManifest,
    task: TaskKind,
    cells: &[ReportCell],
) -> Result<String, StudyError> {
    let metric = table_metrics(task)[0];
    let mut html = format!(
        "<table id=\"external\"><caption>Cross-dataset: {0} in the study's data (pooled out-of-fold test predictions) and on each external dataset (the fold models on every external image), with 95% CIs</caption><tr><th>#</th><th class=\"l\">cell</th><th>{0} own data [95% CI]</th>",
        metric.label()
    );
    for external in &manifest.externals {
        let _ = write!(
            html,
            "<th>{0} on {1} [95% CI]</th><th>{1}: per fold model</th>",
            metric.label(),
            escape(&external.name)
        );
    }
    html.push_str("</tr>");
    for (i, cell) in cells.iter().enumerate() {
        let _ = write!(
            html,
            "<tr data-external-cell=\"{0}\"><td>{1}</td><td class=\"l\">{0}</td><td>{2}</td>",
            escape(&cell.name),
            i + 1,
            pooled_text(cell.pooled.first().and_then(Option::as_ref))
        );
        for external in &manifest.externals {
            let dir = folder.external_dir(&cell.name, &external.name);
            if !dir.join(METRICS).exists() {
                html.push_str("<td>not run</td><td>–</td>");
                continue;
            }
            let (pooled, _) = pooled_values(&dir, task)?;
            let scores = load_arm_scores(&dir, None)?;
            let per_model: Vec<f64> = scores
                .folds
                .iter()
                .filter_map(|f| f.get(metric))
                .filter(|v| v.is_finite())
                .collect();
            let _ = write!(
                html,
                "<td>{}</td><td>{}</td>",
                pooled_text(pooled.first().and_then(Option::as_ref)),
                mean_sd(&per_model)
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    Ok(html)
}
