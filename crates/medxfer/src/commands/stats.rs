// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Subcommand, Debug)]
pub enum StatsCommand {
    /// Not built yet.
    Pending,
}

pub fn run(_cmd: StatsCommand) -> anyhow::Result<()> {
    anyhow::bail!("`stats` is not built yet")
}
