use std::path::PathBuf;

use medxfer_export::{EnsembleGraph, ExportFormat, export_run};

/// The formats `--to` accepts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportTarget {
    /// ONNX (opset 13): one `fold_K.onnx` per fold, batch norm folded into the convolutions.
    Onnx,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A finished classification run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    to: ExportTarget,
    /// The folder to write into (created if missing; new, empty, or holding an earlier
    /// export); never inside the run folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also write `ensemble.onnx`: every fold on the same input and the mean of their
    /// probabilities (what `medxfer predict` answers) as one graph.
    #[arg(long)]
    ensemble: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let format = match args.to {
        ExportTarget::Onnx => ExportFormat::Onnx,
    };
    let ensemble = if args.ensemble {
        EnsembleGraph::Write
    } else {
        EnsembleGraph::Skip
    };
    let manifest = export_run(&args.run_dir, &args.out, format, ensemble)?;
    for fold in &manifest.folds {
        println!(
            "{}\t{} bytes",
            args.out.join(&fold.file).display(),
            fold.bytes
        );
    }
    if let Some(file) = &manifest.ensemble_file {
        println!(
            "{}\tthe fold ensemble in one graph",
            args.out.join(file).display()
        );
    }
    println!(
        "{} fold model(s) exported (ONNX opset {}; input `{}` [N, {}, {}, {}], output `{}` [N, {}]); described in {}",
        manifest.folds.len(),
        manifest.opset,
        manifest.input.name,
        manifest.input.shape.1,
        manifest.input.shape.2,
        manifest.input.shape.3,
        manifest.output.name,
        manifest.output.shape.1,
        args.out.join(medxfer_export::EXPORT_JSON).display()
    );
    Ok(())
}
