//! `medxfer compare RUN_A RUN_B`: are two runs' test results different? Pairs their test
//! predictions by image and tests the AUC difference (paired DeLong, or a paired bootstrap for
//! multi-class), decisions (McNemar) and, with shared folds, per-fold AUCs (paired t).

use std::path::PathBuf;

use medxfer_eval::run_comparison::compare_runs;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// First run folder (predictions.csv and task.json).
    pub run_a: PathBuf,
    /// Second run folder, with the same test images.
    pub run_b: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let comparison = compare_runs(&args.run_a, &args.run_b)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{comparison}");
    }
    Ok(())
}
