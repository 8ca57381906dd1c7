// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {}

pub fn run(_args: PredictArgs) -> anyhow::Result<()> {
    anyhow::bail!("`predict` is not built yet")
}
