// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Not built yet.
    Pending,
}

pub fn run(_cmd: BenchCommand) -> anyhow::Result<()> {
    anyhow::bail!("`bench` is not built yet")
}
