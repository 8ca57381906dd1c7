use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use medxfer_train::TrainConfig;

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The run configuration (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Override a setting: `--set train.epochs=3 --set model.init=scratch` (dotted keys).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Do not draw progress bars (one line per epoch is still printed).
    #[arg(long)]
    no_progress: bool,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = TrainConfig::load(&args.config, &args.overrides)?;
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let summary = medxfer_train::run::run(&config, show_progress)?;
    let metrics = medxfer_eval::report::evaluate_run(&summary.out_dir)
        .with_context(|| format!("evaluating {}", summary.out_dir.display()))?;
    println!("{metrics}");
    let seconds: Vec<String> = summary
        .fold_seconds
        .iter()
        .map(|s| format!("{s:.0}"))
        .collect();
    println!(
        "wall time per fold (s): {}   run folder: {}",
        seconds.join(", "),
        summary.out_dir.display()
    );
    Ok(())
}
