//! `medxfer validate RUN_DIR --data DATA.toml --out DIR`: external validation. The finished
//! run's fold models predict every image of another dataset (its `[data]` table as in a run
//! configuration); the results land in DIR in the run's own contract, and `medxfer evaluate
//! DIR` reports them: per fold model, the fold ensemble with CIs, and for segmentation the
//! gallery. `--tta hflip` averages over the image and its mirror image.

use std::path::PathBuf;

use medxfer_train::external::validate_external_with;
use medxfer_train::fold::TestTimeAugmentation;

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
    /// Test-time augmentation for a classification run: `hflip` averages each model's class
    /// probabilities over the image and its mirror image.
    #[arg(long, value_enum, default_value = "none")]
    tta: TtaChoice,
    /// Print plain lines instead of progress bars.
    #[arg(long)]
    no_progress: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum TtaChoice {
    None,
    Hflip,
}

impl From<TtaChoice> for TestTimeAugmentation {
    fn from(choice: TtaChoice) -> Self {
        match choice {
            TtaChoice::None => TestTimeAugmentation::None,
            TtaChoice::Hflip => TestTimeAugmentation::Hflip,
        }
    }
}

pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let events = crate::progress::reporter(!args.no_progress);
    validate_external_with(
        &args.run_dir,
        &args.data,
        &args.out,
        args.tta.into(),
        events.as_ref(),
    )?;
    eprintln!(
        "wrote {}: see the metrics with `medxfer evaluate {}`",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
