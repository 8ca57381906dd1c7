// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct DeidArgs {}

pub fn run(_args: DeidArgs) -> anyhow::Result<()> {
    anyhow::bail!("`deid` is not built yet")
}
