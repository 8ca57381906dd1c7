// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {}

pub fn run(_args: ConvertArgs) -> anyhow::Result<()> {
    anyhow::bail!("`convert` is not built yet")
}
