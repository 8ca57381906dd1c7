// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Subcommand, Debug)]
pub enum WeightsCommand {
    /// Not built yet.
    Pending,
}

pub fn run(_cmd: WeightsCommand) -> anyhow::Result<()> {
    anyhow::bail!("`weights` is not built yet")
}
