// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {}

pub fn run(_args: EvaluateArgs) -> anyhow::Result<()> {
    anyhow::bail!("`evaluate` is not built yet")
}
