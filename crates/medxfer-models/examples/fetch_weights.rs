//! `weights fetch` without building the whole CLI (handy while developing this crate).
//!
//! `cargo run -p medxfer-models --example fetch_weights -- KIND CACHE_DIR [FROM]`

use std::path::PathBuf;

use medxfer_models::BackboneKind;
use medxfer_models::weights::fetch;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(cache_dir)) = (args.first(), args.get(1)) else {
        return Err("usage: fetch_weights KIND CACHE_DIR [FROM]".into());
    };
    let kind: BackboneKind = kind.parse()?;
    let from = args.get(2).map(PathBuf::from);
    let path = fetch(kind, &PathBuf::from(cache_dir), from.as_deref())?;
    println!("{kind}: {}", path.display());
    Ok(())
}
