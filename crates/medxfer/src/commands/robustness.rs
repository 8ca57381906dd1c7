//! `medxfer robustness RUN_DIR --suite bbox|corruptions --out DIR`: how a finished binary
//! classification run's AUC holds up when its out-of-fold test images are perturbed.

use std::path::{Path, PathBuf};

use medxfer_robustness::corruption::Corruption;
use medxfer_robustness::plot::write_plot;
use medxfer_robustness::{RobustnessReport, StudyRun, StudySettings, Suite};

#[derive(clap::Args, Debug)]
pub struct RobustnessArgs {
    /// A finished binary classification run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// bbox: crops around each test image's lesion box (its masks, or BUS-BRA's BBOX) with
    /// random shifts and scale changes up to 0.1 ... 0.5 of the box's side; corruptions:
    /// Gaussian and speckle noise, blur, contrast, gamma and JPEG at five severities.
    #[arg(long, value_enum)]
    suite: Suite,
    /// Folder for robustness_<suite>.csv, .json, _scores.csv and .png (created if missing; not
    /// the run's).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Corruption suite: only this corruption (repeat for several; default all six).
    #[arg(long = "corruption", value_enum, value_name = "NAME")]
    corruptions: Vec<Corruption>,
    /// Seed of every random shift, scale and noise draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Bbox suite: context kept around the box on each side, as a fraction of its side.
    #[arg(long, default_value_t = 0.1)]
    margin: f64,
    /// Print plain lines instead of progress bars.
    #[arg(long)]
    no_progress: bool,
}

pub fn run(args: RobustnessArgs) -> anyhow::Result<()> {
    if !(args.margin >= 0.0 && args.margin <= 2.0) {
        anyhow::bail!("--margin {} must be between 0 and 2", args.margin);
    }
    if args.suite == Suite::Bbox && !args.corruptions.is_empty() {
        anyhow::bail!(
            "--corruption chooses corruptions of --suite corruptions, not of the bbox suite"
        );
    }
    check_out(&args.out, &args.run_dir)?;
    let study = StudyRun::open(&args.run_dir)?;
    let settings = StudySettings {
        suite: args.suite,
        corruptions: args.corruptions.clone(),
        seed: args.seed,
        margin: args.margin,
    };
    let events = crate::progress::reporter(!args.no_progress);
    let scores = study.run(&settings, events.as_ref())?;
    let report = RobustnessReport::new(study.run_dir(), &settings, &scores)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.out.display()))?;
    report.write(&args.out, &scores)?;
    let plot = write_plot(&report, &args.out)?;
    print_table(&report);
    let stem = args.out.join(format!("robustness_{}", args.suite.name()));
    println!(
        "table: {} and .json; per-image scores: {}_scores.csv; plot: {}",
        stem.with_extension("csv").display(),
        stem.display(),
        plot.display()
    );
    Ok(())
}

/// Refuse a file as `--out` and the run's own folder (nothing is created yet).
fn check_out(out: &Path, run_dir: &Path) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "{}: exists and is not a folder: --out needs a folder",
            out.display()
        );
    }
    let same = out
        .canonicalize()
        .ok()
        .zip(run_dir.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    if same {
        anyhow::bail!(
            "{}: is the studied run's own folder: choose another --out",
            out.display()
        );
    }
    Ok(())
}

fn print_table(report: &RobustnessReport) {
    println!(
        "{} suite: {} out-of-fold test images ({} {}, {} other) scored by {} fold model(s); AUC [95% DeLong CI], paired DeLong against the unperturbed images",
        report.suite.name(),
        report.images,
        report.positives,
        report.positive_class,
        report.negatives,
        report.fold_models
    );
    if report.largest_gap_from_recorded > 1e-4 {
        println!(
            "note: unperturbed scores differ from predictions.csv by up to {:.2e}",
            report.largest_gap_from_recorded
        );
    }
    println!(
        "  {:<16} {:>5} {:>9}  {:<24} {:<26} {:>9}",
        "perturbation", "level", "parameter", "AUC [95% CI]", "difference [95% CI]", "p"
    );
    for r in &report.conditions {
        let p = r.p_value.map_or("-".to_string(), format_p);
        println!(
            "  {:<16} {:>5} {:>9} {:<24} {:<26} {:>9}",
            r.perturbation,
            r.level,
            format!("{}", r.parameter),
            format!("{:.3} [{:.3}, {:.3}]", r.auc, r.ci_low, r.ci_high),
            format!(
                "{:+.3} [{:+.3}, {:+.3}]",
                r.difference, r.difference_ci_low, r.difference_ci_high
            ),
            p
        );
    }
}

/// Three decimals, or scientific notation below 0.001 (so tiny p-values are not shown as 0).
fn format_p(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}
