//! `medxfer table ROW[/GROUP]=PATH ...`: a paper-style table of finished arms (run folders or
//! `ssl-eval --out` results), each cell the mean ± sd over folds; e.g. paper 003's Table 6.1
//! with initialisations as rows and "probe" / "fine-tuned" as column groups, or Table 6.2 from
//! segmentation runs (Dice, IoU, pixel accuracy, precision, recall, HD95).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use medxfer_report::arm_scores::{Metric, SslReadout, load_arm_scores};
use medxfer_report::study_table::{ArmEntry, StudyTable};

#[derive(clap::Args, Debug)]
pub struct TableArgs {
    /// Arms as `ROW=PATH` or `ROW/GROUP=PATH`. PATH is a run folder (its metrics.json) or a
    /// `medxfer ssl-eval --out` JSON (its linear probe; append `#knn` for its k-NN readout).
    #[arg(required = true, value_name = "ROW[/GROUP]=PATH")]
    arms: Vec<String>,
    /// Comma-separated metrics: auc, accuracy, balanced_accuracy, mcc, f1_weighted, f1_macro;
    /// for segmentation runs dice, iou, pixel_accuracy, precision, recall, hd95, assd.
    /// Default: mcc,balanced_accuracy,f1_weighted, or when every arm is a segmentation run
    /// dice,iou,pixel_accuracy,precision,recall,hd95.
    #[arg(long)]
    metrics: Option<String>,
    /// Heading of the row column.
    #[arg(long, default_value = "Arm")]
    row_heading: String,
    /// Also print each metric's per-fold values.
    #[arg(long)]
    per_fold: bool,
    /// Write the Markdown (with the per-fold tables) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write every per-fold value, mean and sd as long CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
}

/// `ROW[/GROUP]=PATH[#knn|#probe]` -> (row, group, path, readout).
fn parse_arm(spec: &str) -> anyhow::Result<(String, Option<String>, PathBuf, Option<SslReadout>)> {
    let Some((name, path)) = spec.split_once('=') else {
        bail!("arm {spec:?}: expected ROW=PATH or ROW/GROUP=PATH");
    };
    let (row, group) = match name.split_once('/') {
        Some((row, group)) => (row.trim(), Some(group.trim().to_string())),
        None => (name.trim(), None),
    };
    if row.is_empty() || group.as_deref() == Some("") || path.is_empty() {
        bail!("arm {spec:?}: the row, group and path must not be empty");
    }
    let (path, readout) = match path.rsplit_once('#') {
        Some((path, "knn")) => (path, Some(SslReadout::Knn)),
        Some((path, "probe")) => (path, Some(SslReadout::LinearProbe)),
        Some((_, other)) => bail!("arm {spec:?}: unknown readout #{other} (use #knn or #probe)"),
        None => (path, None),
    };
    Ok((row.to_string(), group, PathBuf::from(path), readout))
}

fn write_output(path: &Path, text: &str) -> anyhow::Result<()> {
    medxfer_atomic::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The metrics asked for, or the default for these arms.
fn choose_metrics(spec: Option<&str>, entries: &[ArmEntry]) -> anyhow::Result<Vec<Metric>> {
    if let Some(spec) = spec {
        return spec
            .split(',')
            .map(|m| Metric::parse(m.trim()))
            .collect::<Result<Vec<_>, _>>()
            .context("--metrics");
    }
    let segmentation = entries
        .iter()
        .all(|e| e.scores.folds.iter().all(|f| f.get(Metric::Dice).is_some()));
    Ok(if segmentation {
        Metric::SEGMENTATION.to_vec()
    } else {
        vec![Metric::Mcc, Metric::BalancedAccuracy, Metric::F1Weighted]
    })
}

pub fn run(args: TableArgs) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for spec in &args.arms {
        let (row, group, path, readout) = parse_arm(spec)?;
        let scores = load_arm_scores(&path, readout)?;
        entries.push(ArmEntry { row, group, scores });
    }
    let metrics = choose_metrics(args.metrics.as_deref(), &entries)?;
    let table = StudyTable::new(entries, metrics)?;
    for warning in table.warnings() {
        eprintln!("warning: {warning}");
    }
    let summary = table.to_markdown(&args.row_heading);
    let per_fold = table.per_fold_markdown(&args.row_heading);
    print!("{summary}");
    if args.per_fold {
        print!("\n{per_fold}");
    }
    if let Some(path) = &args.out {
        write_output(path, &format!("{summary}\n{per_fold}"))?;
    }
    if let Some(path) = &args.csv {
        write_output(path, &table.to_csv())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_specs_parse_rows_groups_and_readouts() {
        let (row, group, path, readout) = parse_arm("SimCLR/probe=runs/p.json#knn").unwrap();
        assert_eq!((row.as_str(), group.as_deref()), ("SimCLR", Some("probe")));
        assert_eq!(path, PathBuf::from("runs/p.json"));
        assert_eq!(readout, Some(SslReadout::Knn));
        let (row, group, path, readout) = parse_arm("Random=runs/r").unwrap();
        assert_eq!((row.as_str(), group, readout), ("Random", None, None));
        assert_eq!(path, PathBuf::from("runs/r"));
        for bad in ["no-equals", "=path", "a/=p", "a=", "a=p#svm"] {
            assert!(parse_arm(bad).is_err(), "{bad}");
        }
    }
}
