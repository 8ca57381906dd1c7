//! `medxfer bench explain RUN_DIR`: how long the run's explanations take per image.

use std::path::PathBuf;

use medxfer_explain::bench::time_maps;
use medxfer_explain::{ExplainMethod, Explainer, MethodKind, MethodSettings, Stage};

use super::torch_reference::{find_torch_python, run_script};

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
    /// Python with torch, timm and grad-cam for the reference (default: see
    /// `find_torch_python`).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
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
    reference(&args, &explainer, &timing)
}

const REFERENCE_SCRIPT: &str = include_str!("../../bench/pytorch_gradcam.py");

/// pytorch-grad-cam on timm's same backbone, same stage, size and class count, per map;
/// Grad-CAM only (the other methods have no like-for-like reference here).
fn reference(
    args: &BenchExplainArgs,
    explainer: &Explainer,
    timing: &medxfer_explain::bench::ExplainTiming,
) -> anyhow::Result<()> {
    if args.method != MethodKind::GradCam || args.stage != Stage::Last {
        println!(
            "reference: pytorch-grad-cam is timed for --method gradcam at --stage last only, so no ratio"
        );
        return Ok(());
    }
    let Some(python) = find_torch_python(
        args.python.as_deref(),
        "import torch, timm, pytorch_grad_cam",
    ) else {
        println!(
            "reference: no Python with torch, timm and grad-cam found (--python, $MEDXFER_TORCH_PYTHON, .cache/torch-venv), so no ratio"
        );
        return Ok(());
    };
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let backbone = explainer.backbone_kind();
    let result = run_script(
        &python,
        "pytorch_gradcam.py",
        REFERENCE_SCRIPT,
        &[
            backbone.name().to_string(),
            args.size.to_string(),
            args.images.to_string(),
            explainer.class_names().len().to_string(),
            threads.to_string(),
        ],
        threads,
    )?;
    let theirs = result["seconds_per_map"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("pytorch_gradcam.py: no seconds_per_map in {result}"))?;
    println!(
        "reference: pytorch-grad-cam ({}, {threads} thread(s), timm {backbone}): {theirs:.3} s per model map; medxfer is {:.2}x its speed",
        python.display(),
        theirs / timing.seconds_per_map()
    );
    Ok(())
}
