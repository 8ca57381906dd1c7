//! `medxfer stats auc | compare | metrics`: statistics on a CSV table of labels and scores.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use medxfer_eval::bootstrap::{BootstrapConfig, CiMethod};
use medxfer_eval::classification::ClassificationMetrics;
use medxfer_eval::confusion::ConfusionMatrix;
use medxfer_eval::delong::{delong_paired, delong_unpaired};
use medxfer_eval::mask_io::{compare_mask_files, compare_mask_folders};
use medxfer_eval::mcnemar::mcnemar_from_correctness;
use medxfer_eval::multiplicity::{benjamini_hochberg, holm};
use medxfer_eval::paired_t::paired_t_test;
use medxfer_eval::score_reports::{
    AucCiMethod, BinaryScoreReport, ComparisonReport, MultiClassScoreReport, auc_report,
};
use medxfer_eval::score_table::ScoreTable;
use medxfer_eval::segmentation::SegmentationMetrics;
use medxfer_eval::threshold::ThresholdRule;
use medxfer_eval::wilcoxon::wilcoxon_signed_rank;

#[derive(Subcommand, Debug)]
pub enum StatsCommand {
    /// AUC of one score with its variance and a DeLong or stratified bootstrap CI.
    Auc(AucArgs),
    /// Compare the AUCs of two scores with the DeLong test (paired unless --unpaired).
    Compare(CompareArgs),
    /// Classification metrics from a predicted-label column or from score column(s).
    Metrics(MetricsArgs),
    /// Paired t-test and Wilcoxon signed-rank test of two numeric columns (e.g. per-fold AUCs).
    Paired(PairedArgs),
    /// Exact McNemar test of two classifiers' predicted labels on the same cases.
    Mcnemar(McnemarArgs),
    /// Holm and Benjamini-Hochberg adjusted p-values of a column of p-values.
    Adjust(AdjustArgs),
    /// Segmentation metrics (Dice, IoU, Hausdorff, HD95, ASSD...) of PNG masks: two files, or
    /// two folders whose masks are matched by file name.
    Segmentation(SegmentationArgs),
}

#[derive(Args, Debug)]
pub struct SegmentationArgs {
    /// Predicted mask (PNG, non-zero = foreground) or a folder of them.
    #[arg(long, value_name = "PATH")]
    pub pred: PathBuf,
    /// Truth mask or folder (same file names as the predictions).
    #[arg(long, value_name = "PATH")]
    pub truth: PathBuf,
    /// Pixel spacing `ROW,COLUMN` (e.g. mm per pixel) for the distances.
    #[arg(long, value_name = "ROW,COL", default_value = "1,1", value_parser = parse_spacing)]
    pub spacing: [f64; 2],
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_spacing(text: &str) -> Result<[f64; 2], String> {
    let parts: Vec<&str> = text.split(',').collect();
    let parsed: Vec<f64> = parts
        .iter()
        .filter_map(|p| p.trim().parse::<f64>().ok())
        .collect();
    match parsed.as_slice() {
        [r, c] if parts.len() == 2 && *r > 0.0 && *c > 0.0 && r.is_finite() && c.is_finite() => {
            Ok([*r, *c])
        }
        _ => Err(format!(
            "spacing {text:?}: expected two positive numbers ROW,COL"
        )),
    }
}

#[derive(Args, Debug)]
pub struct PairedArgs {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// First column (differences are a - b).
    #[arg(long, value_name = "COL")]
    pub a: String,
    /// Second column.
    #[arg(long, value_name = "COL")]
    pub b: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct McnemarArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Predicted-label column of classifier A.
    #[arg(long, value_name = "COL")]
    pub pred_a: String,
    /// Predicted-label column of classifier B.
    #[arg(long, value_name = "COL")]
    pub pred_b: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AdjustArgs {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Column of p-values.
    #[arg(long, value_name = "COL")]
    pub p: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CiChoice {
    Delong,
    Bootstrap,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum BootstrapInterval {
    Percentile,
    Bca,
}

#[derive(Args, Debug)]
pub struct TableArgs {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Column holding the true label (text or numbers).
    #[arg(long, value_name = "COL")]
    pub label: String,
}

#[derive(Args, Debug)]
pub struct AucArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Label value of the positive class (higher scores should mean positive).
    #[arg(long, value_name = "VALUE")]
    pub positive: String,
    /// Score column.
    #[arg(long, value_name = "COL")]
    pub score: String,
    /// Confidence interval method.
    #[arg(long, value_enum, default_value_t = CiChoice::Delong)]
    pub ci: CiChoice,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Bootstrap resamples (with --ci bootstrap).
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Bootstrap seed (with --ci bootstrap).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bootstrap interval (with --ci bootstrap).
    #[arg(long, value_enum, default_value_t = BootstrapInterval::Percentile)]
    pub interval: BootstrapInterval,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Label value of the positive class.
    #[arg(long, value_name = "VALUE")]
    pub positive: String,
    /// First score column.
    #[arg(long, value_name = "COL")]
    pub score_a: String,
    /// Second score column.
    #[arg(long, value_name = "COL")]
    pub score_b: String,
    /// The scores come from independent samples: a row may leave one of the two score cells
    /// empty, and each AUC uses the rows where its score is present.
    #[arg(long)]
    pub unpaired: bool,
    /// Confidence level of the CI of the difference.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("prediction").required(true).args(["pred", "score"])))]
pub struct MetricsArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Column with the predicted label.
    #[arg(long, value_name = "COL")]
    pub pred: Option<String>,
    /// Score column(s): one binary score (with --positive), or one column per class named
    /// after the class (an optional `score_` prefix is ignored); prediction = highest score.
    #[arg(long, value_name = "COL", num_args = 1..)]
    pub score: Vec<String>,
    /// Label value of the positive class (needed with a single --score).
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// Decision threshold for a single score: a number, `youden`, or `spec:<specificity>`.
    #[arg(long, default_value = "0.5")]
    pub threshold: ThresholdRule,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: StatsCommand) -> anyhow::Result<()> {
    match cmd {
        StatsCommand::Auc(args) => run_auc(args),
        StatsCommand::Compare(args) => run_compare(args),
        StatsCommand::Metrics(args) => run_metrics(args),
        StatsCommand::Paired(args) => run_paired(args),
        StatsCommand::Mcnemar(args) => run_mcnemar(args),
        StatsCommand::Adjust(args) => run_adjust(args),
        StatsCommand::Segmentation(args) => run_segmentation(args),
    }
}

fn distance(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "inf".into()
    }
}

fn run_segmentation(args: SegmentationArgs) -> anyhow::Result<()> {
    let header = format!(
        "{:<24} {:>7} {:>7} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9}",
        "image",
        "Dice",
        "IoU",
        "pix.acc",
        "bal.acc",
        "precision",
        "recall",
        "Hausdorff",
        "HD95",
        "ASSD"
    );
    let row = |name: &str, m: &SegmentationMetrics| {
        format!(
            "{name:<24} {:>7.4} {:>7.4} {:>9.4} {:>9.4} {:>9.4} {:>7.4} {:>9} {:>9} {:>9}",
            m.dice,
            m.iou,
            m.pixel_accuracy,
            m.balanced_pixel_accuracy,
            m.precision,
            m.recall,
            distance(m.hausdorff),
            distance(m.hd95),
            distance(m.assd)
        )
    };
    if args.pred.is_dir() {
        let (per_image, summary) = compare_mask_folders(&args.pred, &args.truth, args.spacing)?;
        let name = |p: &std::path::Path| {
            p.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        };
        if args.json {
            let images: Vec<serde_json::Value> = per_image
                .iter()
                .map(|(p, m)| serde_json::json!({ "image": name(p), "metrics": json_metrics(m) }))
                .collect();
            let value = serde_json::json!({
                "n_images": summary.n_images,
                "n_infinite_distance": summary.n_infinite_distance,
                "mean": json_metrics(&summary.mean),
                "images": images,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("{header}");
            for (p, m) in &per_image {
                println!("{}", row(&name(p), m));
            }
            println!("{}", row("mean", &summary.mean));
            println!(
                "{} images; {} with exactly one empty mask (infinite distances, left out of the distance means)",
                summary.n_images, summary.n_infinite_distance
            );
        }
    } else {
        let m = compare_mask_files(&args.pred, &args.truth, args.spacing)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&json_metrics(&m))?);
        } else {
            println!("{header}");
            let name = args
                .pred
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            println!("{}", row(&name, &m));
        }
    }
    Ok(())
}

/// JSON has no infinity: infinite distances (exactly one mask empty) are written as null.
fn json_metrics(m: &SegmentationMetrics) -> serde_json::Value {
    let finite = |v: f64| {
        if v.is_finite() {
            serde_json::json!(v)
        } else {
            serde_json::Value::Null
        }
    };
    serde_json::json!({
        "dice": m.dice, "iou": m.iou, "pixel_accuracy": m.pixel_accuracy,
        "balanced_pixel_accuracy": m.balanced_pixel_accuracy, "precision": m.precision,
        "recall": m.recall, "hausdorff": finite(m.hausdorff), "hd95": finite(m.hd95),
        "assd": finite(m.assd),
    })
}

fn run_paired(args: PairedArgs) -> anyhow::Result<()> {
    let table = ScoreTable::read(&args.csv)?;
    let a = table.numeric_column(&args.a)?;
    let b = table.numeric_column(&args.b)?;
    let context = || format!("{}: {:?} vs {:?}", args.csv.display(), args.a, args.b);
    let t = paired_t_test(&a, &b).with_context(context)?;
    let w = wilcoxon_signed_rank(&a, &b).with_context(context)?;
    if args.json {
        let value = serde_json::json!({ "n": a.len(), "mean_difference": t.mean_difference, "t_test": t, "wilcoxon": w });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "pairs {}   mean difference ({} - {}) {:.6}",
            a.len(),
            args.a,
            args.b,
            t.mean_difference
        );
        println!(
            "paired t-test         t = {:.4}  df = {}  p = {:.4e}",
            t.t, t.df, t.p_value
        );
        println!(
            "Wilcoxon signed-rank  W = {}  p = {:.4e}  ({:?}, {} non-zero differences)",
            w.statistic, w.p_value, w.method, w.n_nonzero
        );
    }
    Ok(())
}

fn run_mcnemar(args: McnemarArgs) -> anyhow::Result<()> {
    let table = ScoreTable::read(&args.table.csv)?;
    let truth = table.text_column(&args.table.label)?;
    let a = table.text_column(&args.pred_a)?;
    let b = table.text_column(&args.pred_b)?;
    let correct_a: Vec<bool> = truth.iter().zip(&a).map(|(t, p)| t == p).collect();
    let correct_b: Vec<bool> = truth.iter().zip(&b).map(|(t, p)| t == p).collect();
    let result = mcnemar_from_correctness(&correct_a, &correct_b)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "only {} correct {}   only {} correct {}   exact McNemar p = {:.4e}",
            args.pred_a, result.only_a_correct, args.pred_b, result.only_b_correct, result.p_value
        );
    }
    Ok(())
}

fn run_adjust(args: AdjustArgs) -> anyhow::Result<()> {
    let table = ScoreTable::read(&args.csv)?;
    let p = table.numeric_column(&args.p)?;
    let context = || format!("{}: column {:?}", args.csv.display(), args.p);
    let holm_adjusted = holm(&p).with_context(context)?;
    let bh_adjusted = benjamini_hochberg(&p).with_context(context)?;
    if args.json {
        let value =
            serde_json::json!({ "p": p, "holm": holm_adjusted, "benjamini_hochberg": bh_adjusted });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{:>5} {:>12} {:>12} {:>12}", "row", "p", "Holm", "BH");
        for (i, ((p, h), q)) in p.iter().zip(&holm_adjusted).zip(&bh_adjusted).enumerate() {
            println!("{:>5} {p:>12.4e} {h:>12.4e} {q:>12.4e}", i + 1);
        }
    }
    Ok(())
}

fn print<T: serde::Serialize + std::fmt::Display>(report: &T, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn run_auc(args: AucArgs) -> anyhow::Result<()> {
    let table = ScoreTable::read(&args.table.csv)?;
    let is_positive = table.binary_labels(&args.table.label, &args.positive)?;
    let scores = table.numeric_column(&args.score)?;
    let bootstrap = BootstrapConfig {
        n_resamples: args.resamples,
        level: args.level,
        seed: args.seed,
        method: match args.interval {
            BootstrapInterval::Percentile => CiMethod::Percentile,
            BootstrapInterval::Bca => CiMethod::Bca,
        },
    };
    let method = match args.ci {
        CiChoice::Delong => AucCiMethod::Delong,
        CiChoice::Bootstrap => AucCiMethod::Bootstrap,
    };
    let report = auc_report(&is_positive, &scores, method, &bootstrap)
        .with_context(|| format!("{}: column {:?}", args.table.csv.display(), args.score))?;
    print(&report, args.json)
}

fn run_compare(args: CompareArgs) -> anyhow::Result<()> {
    let path = &args.table.csv;
    let table = ScoreTable::read(path)?;
    let is_positive = table.binary_labels(&args.table.label, &args.positive)?;
    let comparison = if args.unpaired {
        let a = table.optional_numeric_column(&args.score_a)?;
        let b = table.optional_numeric_column(&args.score_b)?;
        if let Some(row) = (0..a.len()).find(|&r| a[r].is_none() && b[r].is_none()) {
            bail!(
                "{}: row {}: both {:?} and {:?} are empty",
                path.display(),
                row + 1,
                args.score_a,
                args.score_b
            );
        }
        let present = |column: &[Option<f64>]| -> (Vec<bool>, Vec<f64>) {
            column
                .iter()
                .zip(&is_positive)
                .filter_map(|(v, &p)| v.map(|v| (p, v)))
                .unzip()
        };
        let (labels_a, scores_a) = present(&a);
        let (labels_b, scores_b) = present(&b);
        delong_unpaired(&labels_a, &scores_a, &labels_b, &scores_b, args.level)
    } else {
        let a = table.numeric_column(&args.score_a)?;
        let b = table.numeric_column(&args.score_b)?;
        delong_paired(&is_positive, &a, &b, args.level)
    }
    .with_context(|| {
        format!(
            "{}: comparing {:?} with {:?}",
            path.display(),
            args.score_a,
            args.score_b
        )
    })?;
    print(&ComparisonReport::from(comparison), args.json)
}

fn run_metrics(args: MetricsArgs) -> anyhow::Result<()> {
    let path = &args.table.csv;
    let table = ScoreTable::read(path)?;
    let labels = table.text_column(&args.table.label)?;
    if let Some(pred_column) = &args.pred {
        if !args.score.is_empty() {
            bail!("give either --pred or --score, not both");
        }
        let predicted = table.text_column(pred_column)?;
        let mut class_names: Vec<String> = labels.iter().chain(&predicted).cloned().collect();
        class_names.sort();
        class_names.dedup();
        let index = |name: &String| class_names.iter().position(|c| c == name).unwrap_or(0);
        let y_true: Vec<usize> = labels.iter().map(index).collect();
        let y_pred: Vec<usize> = predicted.iter().map(index).collect();
        let cm = ConfusionMatrix::new(&y_true, &y_pred, class_names.len())?;
        return print(
            &ClassificationMetrics::from_confusion(&cm, &class_names),
            args.json,
        );
    }
    if args.score.len() == 1 {
        let Some(positive) = &args.positive else {
            bail!("a single --score needs --positive VALUE (the label of the positive class)");
        };
        let is_positive = table.binary_labels(&args.table.label, positive)?;
        let scores = table.numeric_column(&args.score[0])?;
        let negative_name = {
            let mut others: Vec<&String> = labels.iter().filter(|l| *l != positive).collect();
            others.sort();
            others.dedup();
            match others.as_slice() {
                [one] => (*one).clone(),
                _ => format!("not {positive}"),
            }
        };
        let report = BinaryScoreReport::compute(
            &is_positive,
            &scores,
            args.threshold,
            &[negative_name, positive.clone()],
        )
        .with_context(|| format!("{}: column {:?}", path.display(), args.score[0]))?;
        return print(&report, args.json);
    }
    let class_names: Vec<String> = args
        .score
        .iter()
        .map(|c| c.strip_prefix("score_").unwrap_or(c).to_string())
        .collect();
    let columns = args
        .score
        .iter()
        .map(|c| table.numeric_column(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut y_true = Vec::with_capacity(labels.len());
    for (row, label) in labels.iter().enumerate() {
        match class_names.iter().position(|c| c == label) {
            Some(k) => y_true.push(k),
            None => bail!(
                "{}: row {}: label {label:?} matches none of the score columns' classes {class_names:?}",
                path.display(),
                row + 1
            ),
        }
    }
    let scores: Vec<f64> = (0..labels.len())
        .flat_map(|r| columns.iter().map(move |col| col[r]))
        .collect();
    let report = MultiClassScoreReport::compute(&y_true, &scores, &class_names)
        .with_context(|| format!("{}", path.display()))?;
    print(&report, args.json)
}
