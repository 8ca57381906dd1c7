//! `medxfer bench explain RUN_DIR`: how long the run's explanations take per image.

use std::path::PathBuf;

use medxfer_explain::bench::time_maps;
use medxfer_explain::{ExplainMethod, Explainer, MethodKind, MethodSettings, Stage};

#[derive(clap::Args, Debug)]
pub struct BenchExplainArgs {
    /// A finished classification run folder.
    run_dir: PathBuf,
    /// The method timed.
    #[arg(long, value_enum, default_value = "gradcam")]
    method: MethodKind,
    /// Backbone stage of the CAM methods: `last` or its number (0 = stem).
    #[arg(long, default_value = "last")]
    stage: Stage,
    /// Number of images.
    #[arg(long, default_value_t = 32)]
    images: usize,
    /// Side of the (synthetic) network input, in pixels.
    #[arg(long, default_value_t = 224)]
    size: usize,
}

pub fn run(args: BenchExplainArgs) -> anyhow::Result<()> {
    if args.images == 0 {
        anyhow::bail!("--images must be at least 1");
    }
    let explainer = Explainer::open(&args.run_dir)?;
    let method = ExplainMethod::new(args.method, MethodSettings::default());
    let timing = time_maps(&explainer, method, args.stage, args.images, args.size)?;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into());
    println!(
        "{method}: {} synthetic images at {} px, {} fold model(s), threads: {threads}",
        timing.images, timing.size, timing.models
    );
    println!(
        "medxfer: {:.3} s per image (fold ensemble), {:.3} s per model map, {:.1} s in all",
        timing.seconds_per_image(),
        timing.seconds_per_map(),
        timing.seconds
    );
    if torch_importable() {
        println!(
            "reference: PyTorch is installed, but this benchmark does not run pytorch-grad-cam yet, so no ratio"
        );
    } else {
        println!(
            "reference: pytorch-grad-cam not timed (PyTorch is not installed here: `import torch` fails), so no ratio"
        );
    }
    Ok(())
}

/// Whether the project's venv Python (or `python3`) can import torch.
fn torch_importable() -> bool {
    [".cache/venv/bin/python", "python3"].iter().any(|python| {
        std::process::Command::new(python)
            .args(["-c", "import torch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}
