//! `medxfer deid IN... OUT`: DICOM files or folders de-identified with the PS3.15 Basic
//! Application Level Confidentiality Profile by allow-list (known technical attributes kept,
//! listed ones emptied, UIDs replaced consistently, everything else removed). OUT may not be
//! an input, nor inside an input folder.

use std::path::PathBuf;

use anyhow::Context;
use medxfer_dicom::Pseudonymizer;
use medxfer_dicom::deid::{DeidOptions, deidentify};

#[derive(clap::Args, Debug)]
pub struct DeidArgs {
    /// DICOM files or folders (searched recursively), then the output: a folder, or a .dcm
    /// path when the input is one file.
    #[arg(required = true, num_args = 2..)]
    pub paths: Vec<PathBuf>,
    /// Salt of the UID replacement (env MEDXFER_SALT): the same salt maps the same UID to
    /// the same new UID across runs, keeping studies of separate runs linked. Keep it secret.
    #[arg(long)]
    pub salt: Option<String>,
    /// Keep input file names (folders mirrored); by default outputs are named by their new
    /// SOP Instance UID, since export file names often contain patient names.
    #[arg(long)]
    pub keep_names: bool,
    /// Also de-identify files with Burned In Annotation = YES (text in the pixels remains).
    #[arg(long)]
    pub allow_burned_in: bool,
    /// Refuse US, SC, XA and ES files unless they declare Burned In Annotation = NO (these
    /// usually show names in the pixels, which are not cleaned); by default only a warning.
    #[arg(long)]
    pub reject_likely_burned_in: bool,
    /// Exit non-zero when any input file could not be de-identified.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: DeidArgs) -> anyhow::Result<()> {
    let (out, inputs) = args
        .paths
        .split_last()
        .context("give at least one input and the output")?;
    let salt = match args.salt.or_else(|| std::env::var("MEDXFER_SALT").ok()) {
        Some(salt) => salt,
        None => {
            eprintln!("note: no --salt given: new UIDs are random for this run only");
            Pseudonymizer::random_salt()
        }
    };
    let options = DeidOptions {
        pseudonyms: Pseudonymizer::new(salt),
        keep_names: args.keep_names,
        allow_burned_in: args.allow_burned_in,
        reject_likely_burned_in: args.reject_likely_burned_in,
    };
    let summary = deidentify(inputs, out, &options)
        .with_context(|| format!("de-identifying into {}", out.display()))?;
    for skipped in &summary.skipped {
        eprintln!("skipped: {skipped}");
    }
    for warning in &summary.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "de-identified {} file(s) into {}; skipped {}",
        summary.written.len(),
        out.display(),
        summary.skipped.len()
    );
    if summary.written.is_empty() {
        anyhow::bail!(
            "no input could be de-identified ({} skipped)",
            summary.skipped.len()
        );
    }
    if args.strict && !summary.skipped.is_empty() {
        anyhow::bail!(
            "{} input file(s) could not be de-identified (--strict)",
            summary.skipped.len()
        );
    }
    Ok(())
}
