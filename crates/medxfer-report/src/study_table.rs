//! A paper-style study table: one row per arm (e.g. an initialisation), optionally split into
//! column groups (e.g. linear probe / fine-tuned), each cell the mean ± sample sd of a metric
//! over the arm's cross-validation folds, the best mean of each column in bold. The per-fold
//! values and a long CSV are there for checking and for other tools.

use std::fmt::Write as _;

use medxfer_eval::report::MeanSd;

use crate::ReportError;
use crate::arm_scores::{ArmScores, Metric};

/// One arm: its row, its column group (None for a table without groups) and its scores.
#[derive(Debug, Clone)]
pub struct ArmEntry {
    pub row: String,
    pub group: Option<String>,
    pub scores: ArmScores,
}

#[derive(Debug, Clone)]
pub struct StudyTable {
    rows: Vec<String>,
    groups: Vec<Option<String>>,
    metrics: Vec<Metric>,
    entries: Vec<ArmEntry>,
}

impl StudyTable {
    /// Rows and groups keep the order they first appear in. Two arms in one cell, or no
    /// metrics, are errors.
    pub fn new(entries: Vec<ArmEntry>, metrics: Vec<Metric>) -> Result<StudyTable, ReportError> {
        if metrics.is_empty() {
            return Err(ReportError::Invalid(
                "a table needs at least one metric".into(),
            ));
        }
        if entries.is_empty() {
            return Err(ReportError::Invalid(
                "a table needs at least one arm".into(),
            ));
        }
        let mut rows: Vec<String> = Vec::new();
        let mut groups: Vec<Option<String>> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if entries[..i]
                .iter()
                .any(|e| e.row == entry.row && e.group == entry.group)
            {
                return Err(ReportError::Invalid(format!(
                    "two arms for row {:?}{}",
                    entry.row,
                    entry
                        .group
                        .as_ref()
                        .map(|g| format!(", group {g:?}"))
                        .unwrap_or_default()
                )));
            }
            if !rows.contains(&entry.row) {
                rows.push(entry.row.clone());
            }
            if !groups.contains(&entry.group) {
                groups.push(entry.group.clone());
            }
        }
        Ok(StudyTable {
            rows,
            groups,
            metrics,
            entries,
        })
    }

    fn entry(&self, row: &str, group: &Option<String>) -> Option<&ArmEntry> {
        self.entries
            .iter()
            .find(|e| e.row == row && &e.group == group)
    }

    /// Mean ± sd of `metric` over the folds of the arm in (row, group), if there is one and
    /// the metric exists in its source.
    pub fn summary(&self, row: &str, group: Option<&str>, metric: Metric) -> Option<MeanSd> {
        let group = group.map(str::to_string);
        let entry = self.entry(row, &group)?;
        let values: Vec<f64> = entry
            .scores
            .folds
            .iter()
            .filter_map(|f| f.get(metric))
            .filter(|v| v.is_finite())
            .collect();
        MeanSd::of(&values)
    }

    /// Means over different fold sets are not comparable: one line per arm whose folds differ
    /// from the first arm's, or that lacks a metric.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let reference = &self.entries[0];
        for entry in &self.entries {
            if entry.scores.fold_numbers() != reference.scores.fold_numbers() {
                warnings.push(format!(
                    "{} has folds {:?}, {} has {:?}: their means are over different test sets",
                    entry.scores.source.display(),
                    entry.scores.fold_numbers(),
                    reference.scores.source.display(),
                    reference.scores.fold_numbers()
                ));
            }
            for &metric in &self.metrics {
                if entry.scores.folds.iter().any(|f| f.get(metric).is_none()) {
                    warnings.push(format!(
                        "{} has no {} for some folds",
                        entry.scores.source.display(),
                        metric.key()
                    ));
                }
            }
        }
        warnings
    }

    fn columns(&self) -> Vec<(&Option<String>, Metric)> {
        self.groups
            .iter()
            .flat_map(|g| self.metrics.iter().map(move |&m| (g, m)))
            .collect()
    }

    fn heading(group: &Option<String>, metric: Metric) -> String {
        match group {
            Some(g) => format!("{g}: {}", metric.label()),
            None => metric.label().to_string(),
        }
    }

    /// The table as Markdown: mean ± sd per cell, three decimals, the best mean of each column
    /// (highest, or lowest for a distance such as HD95) in bold, "n/a" for a missing cell.
    pub fn to_markdown(&self, first_heading: &str) -> String {
        let columns = self.columns();
        let mut out = format!("| {first_heading} |");
        for (g, m) in &columns {
            write!(out, " {} |", Self::heading(g, *m)).unwrap();
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(columns.len()));
        out.push('\n');
        let best: Vec<Option<f64>> = columns
            .iter()
            .map(|(g, m)| {
                self.rows
                    .iter()
                    .filter_map(|r| self.summary(r, g.as_deref(), *m).map(|s| s.mean))
                    .reduce(if m.higher_is_better() {
                        f64::max
                    } else {
                        f64::min
                    })
            })
            .collect();
        for row in &self.rows {
            write!(out, "| {row} |").unwrap();
            for ((g, m), best) in columns.iter().zip(&best) {
                let cell = match self.summary(row, g.as_deref(), *m) {
                    Some(s) => {
                        let text = match s.sd {
                            Some(sd) => format!("{:.3} ± {sd:.3}", s.mean),
                            None => format!("{:.3}", s.mean),
                        };
                        // Bold only a strict winner of a column with more than one value.
                        let rivals = self
                            .rows
                            .iter()
                            .filter_map(|r| self.summary(r, g.as_deref(), *m))
                            .count();
                        if rivals > 1 && Some(s.mean) == *best {
                            format!("**{text}**")
                        } else {
                            text
                        }
                    }
                    None => "n/a".to_string(),
                };
                write!(out, " {cell} |").unwrap();
            }
            out.push('\n');
        }
        out
    }

    /// One Markdown table per (group, metric): rows × folds, with the mean ± sd at the end.
    pub fn per_fold_markdown(&self, first_heading: &str) -> String {
        let mut folds: Vec<usize> = self
            .entries
            .iter()
            .flat_map(|e| e.scores.fold_numbers())
            .collect();
        folds.sort_unstable();
        folds.dedup();
        let mut out = String::new();
        for (g, m) in self.columns() {
            writeln!(out, "{}\n", Self::heading(g, m)).unwrap();
            write!(out, "| {first_heading} |").unwrap();
            for fold in &folds {
                write!(out, " fold {fold} |").unwrap();
            }
            out.push_str(" mean ± sd |\n|---|");
            out.push_str(&"---:|".repeat(folds.len() + 1));
            out.push('\n');
            for row in &self.rows {
                let Some(entry) = self.entry(row, g) else {
                    continue;
                };
                write!(out, "| {row} |").unwrap();
                for fold in &folds {
                    let value = entry
                        .scores
                        .folds
                        .iter()
                        .find(|f| f.fold == *fold)
                        .and_then(|f| f.get(m));
                    match value {
                        Some(v) => write!(out, " {v:.3} |").unwrap(),
                        None => out.push_str(" n/a |"),
                    }
                }
                match self.summary(row, g.as_deref(), m) {
                    Some(MeanSd {
                        mean, sd: Some(sd), ..
                    }) => write!(out, " {mean:.3} ± {sd:.3} |").unwrap(),
                    Some(MeanSd { mean, .. }) => write!(out, " {mean:.3} |").unwrap(),
                    None => out.push_str(" n/a |"),
                }
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }

    /// Long CSV, one line per (row, group, metric, fold) with full precision, then the mean and
    /// sd of each (row, group, metric) as folds "mean" and "sd".
    pub fn to_csv(&self) -> String {
        let mut out = String::from("row,group,source,metric,fold,value\n");
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        for entry in &self.entries {
            let prefix = format!(
                "{},{},{}",
                quote(&entry.row),
                quote(entry.group.as_deref().unwrap_or("")),
                quote(&entry.scores.source.display().to_string())
            );
            for &metric in &self.metrics {
                for fold in &entry.scores.folds {
                    if let Some(v) = fold.get(metric) {
                        writeln!(out, "{prefix},{},{},{v}", metric.key(), fold.fold).unwrap();
                    }
                }
                if let Some(s) = self.summary(&entry.row, entry.group.as_deref(), metric) {
                    writeln!(out, "{prefix},{},mean,{}", metric.key(), s.mean).unwrap();
                    if let Some(sd) = s.sd {
                        writeln!(out, "{prefix},{},sd,{sd}", metric.key()).unwrap();
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::arm_scores::FoldScores;

    fn arm(row: &str, group: Option<&str>, mcc: &[f64]) -> ArmEntry {
        ArmEntry {
            row: row.into(),
            group: group.map(str::to_string),
            scores: ArmScores {
                source: PathBuf::from(format!("{row}-{}", group.unwrap_or("x"))),
                folds: mcc
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        FoldScores::new(k, &[(Metric::Mcc, v), (Metric::BalancedAccuracy, 0.5)])
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn the_lowest_distance_is_bold() {
        let seg = |row: &str, hd95: [f64; 2]| ArmEntry {
            row: row.into(),
            group: None,
            scores: ArmScores {
                source: PathBuf::from(row),
                folds: (0..2)
                    .map(|k| {
                        FoldScores::new(
                            k,
                            &[
                                (Metric::Dice, 0.5 + hd95[k] / 100.0),
                                (Metric::Hd95, hd95[k]),
                            ],
                        )
                    })
                    .collect(),
            },
        };
        let table = StudyTable::new(
            vec![seg("Scratch", [10.0, 12.0]), seg("ImageNet", [4.0, 6.0])],
            vec![Metric::Dice, Metric::Hd95],
        )
        .unwrap();
        let md = table.to_markdown("Encoder init");
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| Encoder init | Dice | HD95 |");
        assert_eq!(lines[2], "| Scratch | **0.610 ± 0.014** | 11.000 ± 1.414 |");
        assert_eq!(lines[3], "| ImageNet | 0.550 ± 0.014 | **5.000 ± 1.414** |");
    }

    #[test]
    fn cells_are_mean_and_sample_sd_with_the_column_best_in_bold() {
        let table = StudyTable::new(
            vec![
                arm("Random", Some("probe"), &[0.2, 0.4]),
                arm("SimCLR", Some("probe"), &[0.5, 0.7]),
                arm("Random", Some("fine-tuned"), &[0.3, 0.3, 0.6]),
            ],
            vec![Metric::Mcc, Metric::Auc],
        )
        .unwrap();
        // Random probe: mean 0.3, sd sqrt(((0.1)^2 * 2) / 1) = 0.1414.
        let s = table.summary("Random", Some("probe"), Metric::Mcc).unwrap();
        assert!((s.mean - 0.3).abs() < 1e-12);
        assert!((s.sd.unwrap() - 0.02f64.sqrt()).abs() < 1e-12);
        let md = table.to_markdown("Initialisation");
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            "| Initialisation | probe: MCC | probe: AUC | fine-tuned: MCC | fine-tuned: AUC |"
        );
        assert_eq!(
            lines[2],
            "| Random | 0.300 ± 0.141 | n/a | 0.400 ± 0.173 | n/a |"
        );
        // SimCLR has the best probe MCC; it has no fine-tuned arm, so Random's fine-tuned MCC
        // stands alone and is not bold.
        assert_eq!(lines[3], "| SimCLR | **0.600 ± 0.141** | n/a | n/a | n/a |");
        let warnings = table.warnings();
        assert!(
            warnings.iter().any(|w| w.contains("different test sets")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("no auc")),
            "{warnings:?}"
        );
    }

    #[test]
    fn per_fold_tables_and_csv_hold_every_value() {
        let table = StudyTable::new(
            vec![arm("A", None, &[0.25, 0.75]), arm("B", None, &[0.5, 0.5])],
            vec![Metric::Mcc],
        )
        .unwrap();
        assert!(table.warnings().is_empty());
        let per_fold = table.per_fold_markdown("arm");
        assert!(
            per_fold.contains("| arm | fold 0 | fold 1 | mean ± sd |"),
            "{per_fold}"
        );
        assert!(
            per_fold.contains("| A | 0.250 | 0.750 | 0.500 ± 0.354 |"),
            "{per_fold}"
        );
        assert!(
            per_fold.contains("| B | 0.500 | 0.500 | 0.500 ± 0.000 |"),
            "{per_fold}"
        );
        // A tie for best is bold in both rows.
        let md = table.to_markdown("arm");
        assert_eq!(md.matches("**").count(), 4, "{md}");
        let csv = table.to_csv();
        assert!(csv.starts_with("row,group,source,metric,fold,value\n"));
        assert!(csv.contains("A,,A-x,mcc,1,0.75\n"), "{csv}");
        assert!(csv.contains("A,,A-x,mcc,mean,0.5\n"), "{csv}");
        assert_eq!(csv.lines().count(), 1 + 2 * 4);
    }

    #[test]
    fn duplicate_cells_and_empty_tables_are_errors() {
        let err = StudyTable::new(
            vec![arm("A", Some("g"), &[0.1]), arm("A", Some("g"), &[0.2])],
            vec![Metric::Mcc],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("two arms for row \"A\", group \"g\""),
            "{err}"
        );
        assert!(StudyTable::new(vec![arm("A", None, &[0.1])], vec![]).is_err());
        assert!(StudyTable::new(vec![], vec![Metric::Mcc]).is_err());
    }
}
