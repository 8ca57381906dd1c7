//! `medxfer validate RUN_DIR --data DATA.toml --out DIR`: external validation. The finished
//! run's fold models predict every image of another dataset (its `[data]` table as in a run
//! configuration); the results land in DIR in the run's own contract, and `medxfer evaluate
//! DIR` reports them: mean ± sd over the fold models, bootstrap CIs, and for segmentation the
//! gallery.

use std::path::PathBuf;

use medxfer_train::external::validate_external;

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// A finished run folder (from `medxfer train`, every fold assembled).
    run_dir: PathBuf,
    /// A TOML file with a `[data]` table describing the external images (source, classes);
    /// image size, channels and normalisation are the run's.
    #[arg(long, value_name = "DATA.toml")]
    data: PathBuf,
    /// The folder for the results: new, empty, or an earlier validation (replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print plain lines instead of progress bars.
    #[arg(long)]
    no_progress: bool,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let events = crate::progress::reporter(!args.no_progress);
    validate_external(&args.run_dir, &args.data, &args.out, events.as_ref())?;
    eprintln!(
        "wrote {}: see the metrics with `medxfer evaluate {}`",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
