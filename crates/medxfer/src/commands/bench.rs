//! `medxfer bench ...`: benchmarks that print our time beside a reference implementation's.

use std::path::PathBuf;

use anyhow::bail;
use medxfer_eval::benchmark::{
    StatsWorkload, reference_python_candidates, run_reference, run_stats_workload,
    synthetic_binary_scores,
};

use super::rayon_threads;

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// AUC + DeLong CI + stratified bootstrap CI on synthetic binary scores, ours vs
    /// NumPy/scikit-learn (run with the venv's Python when it exists).
    Stats(BenchStatsArgs),
    /// Load a running `medxfer serve` from N keep-alive clients: latency percentiles, errors
    /// and (with --server-pid) the server's memory before and after.
    Serve(super::bench_serve::BenchServeArgs),
    /// Seconds per image of an explanation method (default Grad-CAM, 32 images at 224 px)
    /// with a run's fold models.
    Explain(super::bench_explain::BenchExplainArgs),
    /// Images per second of a backbone's training step and inference forward pass, beside
    /// PyTorch (timm) at the same threads, batch and size, with the ratio.
    TrainStep(super::bench_train::BenchTrainArgs),
}

#[derive(clap::Args, Debug)]
pub struct BenchStatsArgs {
    /// Number of cases (about 30% positive).
    #[arg(long, default_value_t = 100_000)]
    pub n: usize,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Seed of the data and of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Timed repetitions of our workload (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Python with numpy, scipy and scikit-learn (default: the venv under MEDXFER_CACHE or
    /// ./.cache, as set up by .ci/setup.d/20-python-reference.sh).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Stats(args) => run_stats(args),
        BenchCommand::Serve(args) => super::bench_serve::run(args),
        BenchCommand::Explain(args) => super::bench_explain::run(args),
        BenchCommand::TrainStep(args) => super::bench_train::run(args),
    }
}

fn run_stats(args: BenchStatsArgs) -> anyhow::Result<()> {
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let (labels, scores) = synthetic_binary_scores(args.n, args.seed);
    let mut runs: Vec<StatsWorkload> = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        runs.push(run_stats_workload(
            &labels,
            &scores,
            args.resamples,
            args.seed,
        )?);
    }
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let ours = &runs[runs.len() / 2];

    let python = match &args.python {
        Some(p) => Some(p.clone()),
        None => reference_python_candidates()
            .into_iter()
            .find(|p| p.exists()),
    };
    let reference = match &python {
        Some(p) if p.exists() => {
            if !args.json {
                eprintln!(
                    "running the NumPy/scikit-learn reference with {} (this can take minutes)...",
                    p.display()
                );
            }
            Some(run_reference(
                p,
                &labels,
                &scores,
                args.resamples,
                args.seed,
            )?)
        }
        _ => None,
    };
    let ratio = reference.as_ref().map(|r| r.seconds / ours.seconds);

    if args.json {
        let value = serde_json::json!({
            "n": args.n,
            "resamples": args.resamples,
            "threads": rayon_threads(),
            "ours": ours,
            "reference": reference,
            "speedup": ratio,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "workload: n = {} binary scores ({} positive), AUC + DeLong 95% CI + {}-resample stratified bootstrap 95% CI",
        args.n,
        labels.iter().filter(|&&y| y).count(),
        args.resamples
    );
    println!(
        "medxfer    {:>9.3} s  (median of {}, {} threads)  AUC {:.6}  DeLong [{:.6}, {:.6}]  bootstrap [{:.6}, {:.6}]",
        ours.seconds,
        args.repeats,
        rayon_threads(),
        ours.auc,
        ours.delong.ci_low,
        ours.delong.ci_high,
        ours.bootstrap.ci_low,
        ours.bootstrap.ci_high
    );
    match (&reference, ratio) {
        (Some(r), Some(ratio)) => {
            println!(
                "reference  {:>9.3} s  (NumPy/SciPy/scikit-learn {})  AUC {:.6}  DeLong [{:.6}, {:.6}]  bootstrap [{:.6}, {:.6}]",
                r.seconds,
                r.versions,
                r.auc,
                r.delong_ci[0],
                r.delong_ci[1],
                r.bootstrap_ci[0],
                r.bootstrap_ci[1]
            );
            println!("speed-up   {ratio:.1}x");
            let variance_gap =
                (r.variance - ours.delong.variance).abs() / r.variance.abs().max(f64::MIN_POSITIVE);
            if (r.auc - ours.auc).abs() > 1e-12 || variance_gap > 1e-9 {
                println!(
                    "warning: AUC or DeLong variance differ from the reference beyond rounding"
                );
            }
        }
        _ => {
            let tried: Vec<String> = match &args.python {
                Some(p) => vec![p.display().to_string()],
                None => reference_python_candidates()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
            };
            println!(
                "reference  missing: no Python with numpy/scipy/scikit-learn at {} (run .ci/setup.d/20-python-reference.sh)",
                tried.join(" or ")
            );
        }
    }
    Ok(())
}
