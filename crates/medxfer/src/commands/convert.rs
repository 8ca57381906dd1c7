//! `medxfer convert INPUT... --to png|npz|manifest --out PATH`: DICOM / NIfTI files or
//! folders to windowed PNG, modality-value npz, or a manifest CSV of the DICOM files; always
//! with a CSV of non-identifying metadata (pseudonymised patient/study/series ids).

use std::path::PathBuf;

use anyhow::Context;
use medxfer_dicom::convert::{ConvertFormat, ConvertOptions, FrameChoice, convert_reporting};
use medxfer_dicom::labels::LabelTable;
use medxfer_dicom::png_out::PngDepth;
use medxfer_dicom::{Pseudonymizer, WindowSpec};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Windowed PNG per frame / slice (see --bits, --window).
    Png,
    /// One .npz per file: modality values after rescale (e.g. HU), unwindowed.
    Npz,
    /// No images: a manifest CSV (path,label,patient_id,...) of the DICOM files themselves.
    Manifest,
}

#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// DICOM or NIfTI files, or folders (searched recursively, any file names).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output kind.
    #[arg(long = "to", value_enum)]
    pub to: Target,
    /// Output folder (png, npz; gets metadata.csv) or the manifest CSV path (manifest).
    #[arg(long)]
    pub out: PathBuf,
    /// PNG bit depth: 8 or 16.
    #[arg(long, default_value_t = 8)]
    pub bits: u8,
    /// Window: auto (file VOI LUT / window, else 0.5-99.5 percentiles), minmax,
    /// CENTER,WIDTH (e.g. 40,400 or --window=-600,1500) or pLOW-HIGH (e.g. p1-99).
    #[arg(long, default_value = "auto", allow_hyphen_values = true)]
    pub window: String,
    /// Convert only this frame (0-based) of multi-frame files; default: every frame.
    #[arg(long)]
    pub frame: Option<u32>,
    /// NIfTI slicing axis (0, 1 or 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub axis: u8,
    /// NIfTI label volumes: `<stem><SUFFIX>.nii[.gz]` beside a volume becomes its masks.
    #[arg(long)]
    pub mask_suffix: Option<String>,
    /// CSV with `label` and `sop_instance_uid` or `path` columns, joined into the output CSV.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Salt for the patient/study/series pseudonyms (env MEDXFER_SALT). Keep it secret and
    /// reuse it to get the same pseudonyms across runs; random when not given.
    #[arg(long)]
    pub salt: Option<String>,
    /// Exit non-zero when any input file could not be converted.
    #[arg(long)]
    pub strict: bool,
    /// No progress bar (plain lines on stderr instead); also automatic when stderr is not
    /// a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let window: WindowSpec = args.window.parse()?;
    if !matches!(args.bits, 8 | 16) {
        anyhow::bail!("--bits {}: PNG depth must be 8 or 16", args.bits);
    }
    let format = match args.to {
        Target::Png => ConvertFormat::Png(if args.bits == 16 {
            PngDepth::Sixteen
        } else {
            PngDepth::Eight
        }),
        Target::Npz => ConvertFormat::Npz,
        Target::Manifest => ConvertFormat::Manifest,
    };
    let labels = args
        .labels
        .as_deref()
        .map(LabelTable::read_csv)
        .transpose()?;
    let reporter = crate::progress::reporter(!args.no_progress);
    let salt = match args.salt.or_else(|| std::env::var("MEDXFER_SALT").ok()) {
        Some(salt) => salt,
        None => {
            reporter.note("note: no --salt given: patient pseudonyms are random for this run only");
            Pseudonymizer::random_salt()
        }
    };
    let options = ConvertOptions {
        format,
        window,
        frames: args.frame.map_or(FrameChoice::All, FrameChoice::One),
        nifti_axis: args.axis as usize,
        mask_suffix: args.mask_suffix,
        labels,
        pseudonyms: Pseudonymizer::new(salt),
    };
    let summary = convert_reporting(&args.inputs, &args.out, &options, reporter.as_ref())
        .with_context(|| format!("converting into {}", args.out.display()))?;
    for skipped in &summary.skipped {
        eprintln!("skipped: {skipped}");
    }
    println!(
        "converted {} file(s) into {} output row(s); skipped {}; wrote {}",
        summary.converted_files,
        summary.outputs,
        summary.skipped.len(),
        summary.metadata_csv.display()
    );
    if summary.unlabelled > 0 {
        eprintln!(
            "warning: {} output row(s) have no label in the labels CSV",
            summary.unlabelled
        );
    }
    if summary.converted_files == 0 {
        anyhow::bail!(
            "no input could be converted ({} skipped)",
            summary.skipped.len()
        );
    }
    if args.strict && !summary.skipped.is_empty() {
        anyhow::bail!(
            "{} input file(s) could not be converted (--strict)",
            summary.skipped.len()
        );
    }
    Ok(())
}
