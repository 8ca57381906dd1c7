// Placeholder while the subcommand is being built; replaced by its owner.
#[derive(clap::Args, Debug)]
pub struct SslEvalArgs {}

pub fn run(_args: SslEvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ssl_eval` is not built yet")
}
