use std::path::PathBuf;

use anyhow::Context;
use medxfer_train::TrainConfig;
use medxfer_train::run::{RunOptions, RunSummary};

use super::fold_workers::FoldWorkers;

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The run configuration (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Override a setting: `--set train.epochs=3 --set model.init=scratch` (dotted keys).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Train only this fold (repeatable), e.g. one process per fold; a final run without
    /// `--fold` skips the finished folds and writes predictions and metrics.
    #[arg(long = "fold", value_name = "K")]
    folds: Vec<usize>,
    /// Train up to N folds at once, each in its own worker process (`train --fold K`) with an
    /// equal share of the threads (RAYON_NUM_THREADS or all cores), then assemble the run: the
    /// same predictions as one process with the workers' thread count, faster on a few cores.
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "folds")]
    jobs: usize,
    /// Do not draw progress bars (one line per epoch is still printed).
    #[arg(long)]
    no_progress: bool,
    /// Resume even though images were added, removed or changed since the run started (the
    /// finished folds keep what they were trained on).
    #[arg(long)]
    allow_data_change: bool,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = TrainConfig::load(&args.config, &args.overrides)?;
    let events = crate::progress::reporter(!args.no_progress);
    if args.jobs == 0 {
        anyhow::bail!("--jobs must be at least 1");
    }
    if args.jobs > 1 {
        let folds = medxfer_train::run::fold_numbers(&config)?;
        FoldWorkers {
            config: args.config.clone(),
            overrides: args.overrides.clone(),
            allow_data_change: args.allow_data_change,
            jobs: args.jobs,
        }
        .train(&folds, events.as_ref())?;
    }
    let options = RunOptions {
        only_folds: args.folds,
        allow_data_change: args.allow_data_change,
    };
    let (out_dir, fold_seconds) = match medxfer_train::run::run(&config, &options, events.as_ref())?
    {
        RunSummary::Complete {
            out_dir,
            fold_seconds,
        } => (out_dir, fold_seconds),
        RunSummary::Partial { out_dir, trained } => {
            let trained: Vec<String> = trained.iter().map(usize::to_string).collect();
            println!(
                "trained fold(s) {} in {}; run again without --fold to write predictions and metrics",
                trained.join(", "),
                out_dir.display()
            );
            return Ok(());
        }
    };
    // The same report `medxfer evaluate` prints, for either task.
    super::evaluate::run(super::evaluate::EvaluateArgs {
        run_dir: out_dir.clone(),
        json: false,
    })
    .with_context(|| format!("evaluating {}", out_dir.display()))?;
    let seconds: Vec<String> = fold_seconds.iter().map(|s| format!("{s:.0}")).collect();
    println!(
        "wall time per fold (s): {}   run folder: {}",
        seconds.join(", "),
        out_dir.display()
    );
    Ok(())
}
