//! `medxfer evaluate RUN_DIR`: metrics of a run folder's test predictions (per fold, mean +- sd
//! across folds, pooled with CIs), written to `RUN_DIR/metrics.json`.

use std::path::PathBuf;

use medxfer_eval::report::{METRICS_FILE, evaluate_run};

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// Run folder holding predictions.csv and task.json.
    pub run_dir: PathBuf,
    /// Print the metrics as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let metrics = evaluate_run(&args.run_dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&metrics)?);
    } else {
        print!("{metrics}");
    }
    eprintln!("wrote {}", args.run_dir.join(METRICS_FILE).display());
    Ok(())
}
