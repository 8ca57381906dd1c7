// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {}

pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`train` is not built yet")
}
