//! `medxfer pretrain --config FILE.toml [--set key=value ...]`: self-supervised pretraining
//! (SimCLR, MoCo v2, BYOL). Re-running the same command resumes a killed run;
//! `--continue-from DIR` trains a finished shorter run on into a new, longer one.

use std::path::PathBuf;

use medxfer_ssl::PretrainConfig;
use medxfer_ssl::pretrain::PretrainOptions;

#[derive(clap::Args, Debug)]
pub struct PretrainArgs {
    /// The pretraining configuration (TOML; see examples/ssl-*.toml).
    #[arg(long)]
    config: PathBuf,
    /// Override a setting: `--set train.epochs=5 --set method.kind=moco` (dotted keys).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Do not draw progress bars (one line per epoch is still printed).
    #[arg(long)]
    no_progress: bool,
    /// Start from the last checkpoint of this shorter run (left unchanged) and train on to the
    /// config's train.epochs, as if the longer run had been started in the first place. Its
    /// configuration may differ only in train.epochs and out_dir, with a constant or step
    /// learning-rate schedule.
    #[arg(long, value_name = "RUN_DIR")]
    continue_from: Option<PathBuf>,
    /// Resume even though the pool's images changed since the run started.
    #[arg(long)]
    allow_data_change: bool,
}

pub fn run(args: PretrainArgs) -> anyhow::Result<()> {
    let config = PretrainConfig::load(&args.config, &args.overrides)?;
    let events = crate::progress::reporter(!args.no_progress);
    let options = PretrainOptions {
        continue_from: args.continue_from,
        allow_data_change: args.allow_data_change,
    };
    let summary = medxfer_ssl::pretrain(&config, &options, events.as_ref())?;
    println!(
        "{}: {} epochs in {:.0} s on {} training / {} validation images ({} evaluation test images excluded)",
        summary.method,
        summary.epochs,
        summary.seconds,
        summary.pool_train_images,
        summary.pool_val_images,
        summary.excluded_test_images
    );
    println!(
        "loss: train {:.4} -> {:.4}, validation {:.4} -> {:.4}; projection spread {:.3}",
        summary.first_train_loss,
        summary.last_train_loss,
        summary.first_val_loss,
        summary.last_val_loss,
        summary.final_spread
    );
    println!(
        "encoder: {}   (use it with init = \"ssl:{}\")",
        summary.encoder.display(),
        summary.encoder.display()
    );
    Ok(())
}
