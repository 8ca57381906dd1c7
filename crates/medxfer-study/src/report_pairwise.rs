//! The study report's paired tests between cells: DeLong on the pooled out-of-fold
//! predictions (Holm-adjusted), and across folds Friedman plus pairwise Wilcoxon
//! (Holm-adjusted); each rendered as an HTML table.

use std::fmt::Write;

use medxfer_eval::friedman::friedman;
use medxfer_eval::multiplicity::holm;
use medxfer_eval::predictions::TaskKind;
use medxfer_eval::run_comparison::compare_runs;
use medxfer_eval::wilcoxon::{WilcoxonMethod, wilcoxon_signed_rank};
use medxfer_report::arm_scores::Metric;

use crate::report::{ReportCell, escape, table_metrics};

/// Every pair of cells: one row each, p-values Holm-adjusted over the rows that have one.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// Holm-adjusted p-values beside the raw ones (None stays None).
fn holm_beside(raw: &[Option<f64>]) -> Vec<Option<f64>> {
    let present: Vec<f64> = raw.iter().flatten().copied().collect();
    let adjusted = holm(&present).unwrap_or_default();
    let mut next = adjusted.into_iter();
    raw.iter().map(|p| p.and_then(|_| next.next())).collect()
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => "&lt; 1e-4".into(),
        Some(p) => format!("{p:.4}"),
        None => "–".into(),
    }
}

pub(crate) fn delong_table(cells: &[ReportCell]) -> String {
    let pairs = pairs(cells.len());
    if pairs.is_empty() {
        return String::new();
    }
    let comparisons: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| compare_runs(&cells[a].dir, &cells[b].dir))
        .collect();
    let raw: Vec<Option<f64>> = comparisons
        .iter()
        .map(|c| c.as_ref().ok().and_then(|c| c.auc.p_value))
        .collect();
    let adjusted = holm_beside(&raw);
    let mut html = String::from(
        "<table id=\"delong\"><caption>Paired AUC comparisons on the pooled out-of-fold test predictions (same images), Holm-adjusted over all pairs</caption><tr><th>A</th><th>B</th><th>AUC A</th><th>AUC B</th><th>A − B [95% CI]</th><th>method</th><th>p</th><th>p (Holm)</th></tr>",
    );
    for (((a, b), comparison), p_holm) in pairs.iter().zip(&comparisons).zip(&adjusted) {
        let _ = write!(html, "<tr><td>{}</td><td>{}</td>", a + 1, b + 1);
        match comparison {
            Ok(c) => {
                let d = &c.auc;
                let _ = write!(
                    html,
                    "<td>{:.3}</td><td>{:.3}</td><td>{:.3} [{:.3}, {:.3}]</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                    d.auc_a,
                    d.auc_b,
                    d.difference,
                    d.ci_low,
                    d.ci_high,
                    escape(&d.method),
                    p_text(d.p_value),
                    p_text(*p_holm)
                );
            }
            Err(e) => {
                let _ = write!(
                    html,
                    "<td class=\"l\" colspan=\"6\">not comparable: {}</td></tr>",
                    escape(&e.to_string())
                );
            }
        }
    }
    html.push_str("</table>");
    html
}

/// Folds every cell has a value of `metric` for, in order.
fn common_folds(cells: &[ReportCell], metric: Metric) -> Vec<usize> {
    let mut folds: Vec<usize> = cells
        .first()
        .map(|c| {
            c.folds
                .folds
                .iter()
                .filter(|f| f.get(metric).is_some_and(f64::is_finite))
                .map(|f| f.fold)
                .collect()
        })
        .unwrap_or_default();
    folds.retain(|fold| {
        cells.iter().all(|c| {
            c.folds
                .folds
                .iter()
                .any(|f| f.fold == *fold && f.get(metric).is_some_and(f64::is_finite))
        })
    });
    folds
}

fn value_at(cell: &ReportCell, metric: Metric, fold: usize) -> f64 {
    cell.folds
        .folds
        .iter()
        .find(|f| f.fold == fold)
        .and_then(|f| f.get(metric))
        .unwrap_or(f64::NAN)
}

pub(crate) fn fold_tests(task: TaskKind, cells: &[ReportCell]) -> String {
    let metric = table_metrics(task)[0];
    let folds = common_folds(cells, metric);
    let blocks: Vec<Vec<f64>> = folds
        .iter()
        .map(|&fold| cells.iter().map(|c| value_at(c, metric, fold)).collect())
        .collect();
    let mut html = format!(
        "<h2>Across folds ({}, {} common folds)</h2>",
        metric.label(),
        folds.len()
    );
    match friedman(&blocks) {
        Ok(r) => {
            let _ = write!(
                html,
                "<p id=\"friedman\">Friedman test over {} cells: χ² = {:.3}, df = {}, p = {}. Mean ranks (1 = lowest): {}.</p>",
                cells.len(),
                r.statistic,
                r.degrees_of_freedom,
                p_text(Some(r.p_value)),
                r.mean_ranks
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("{}: {m:.2}", i + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Err(e) => {
            let _ = write!(
                html,
                "<p id=\"friedman\" class=\"note\">Friedman test not computed: {}</p>",
                escape(&e.to_string())
            );
        }
    }
    html.push_str(&wilcoxon_table(cells, metric, &folds));
    html
}

fn wilcoxon_table(cells: &[ReportCell], metric: Metric, folds: &[usize]) -> String {
    let pairs = pairs(cells.len());
    if pairs.is_empty() {
        return String::new();
    }
    let series = |cell: &ReportCell| -> Vec<f64> {
        folds.iter().map(|&f| value_at(cell, metric, f)).collect()
    };
    let results: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| wilcoxon_signed_rank(&series(&cells[a]), &series(&cells[b])))
        .collect();
    let raw: Vec<Option<f64>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|r| r.p_value))
        .collect();
    let adjusted = holm_beside(&raw);
    let mut html = format!(
        "<table id=\"wilcoxon\"><caption>Wilcoxon signed-rank tests of the per-fold {} (two-sided), Holm-adjusted over all pairs</caption><tr><th>A</th><th>B</th><th>statistic</th><th>method</th><th>p</th><th>p (Holm)</th></tr>",
        metric.label()
    );
    for (((a, b), result), p_holm) in pairs.iter().zip(&results).zip(&adjusted) {
        let _ = write!(html, "<tr><td>{}</td><td>{}</td>", a + 1, b + 1);
        match result {
            Ok(r) => {
                let _ = write!(
                    html,
                    "<td>{:.1}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                    r.statistic,
                    method_text(r.method),
                    p_text(Some(r.p_value)),
                    p_text(*p_holm)
                );
            }
            Err(e) => {
                let _ = write!(
                    html,
                    "<td class=\"l\" colspan=\"4\">not computed: {}</td></tr>",
                    escape(&e.to_string())
                );
            }
        }
    }
    html.push_str("</table>");
    html
}

fn method_text(method: WilcoxonMethod) -> &'static str {
    match method {
        WilcoxonMethod::Exact => "exact",
        WilcoxonMethod::ExactConditional => "exact (ties or zeros)",
        WilcoxonMethod::Normal => "normal approximation",
    }
}
