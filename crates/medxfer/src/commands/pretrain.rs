// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct PretrainArgs {}

pub fn run(_args: PretrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`pretrain` is not built yet")
}
