//! `medxfer bench train-step`: images per second of a backbone's training step (forward +
//! backward of the pooled features' mean) and of its inference forward pass, beside PyTorch
//! (timm's same architecture, best of NCHW and channels_last) at the same thread count, batch
//! and input size, on the same machine in the same command. The ratio is what issue 15 asks
//! to bring to at least 1.0 (training) and 1.2 (inference).

use std::path::PathBuf;

use medxfer_models::BackboneKind;
use medxfer_models::step_rate::{StepMode, StepShape, images_per_second};
use serde::Serialize;

use super::torch_reference::{find_torch_python, run_script};

const REFERENCE_SCRIPT: &str = include_str!("../../bench/pytorch_train_step.py");

#[derive(clap::Args, Debug)]
pub struct BenchTrainArgs {
    /// Backbones to time (repeat the flag; default ResNet-18 and EfficientNet-Lite0).
    #[arg(long = "backbone", value_enum)]
    backbones: Vec<BackboneKind>,
    /// Side of the square input in pixels.
    #[arg(long, default_value_t = 128)]
    size: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed steps after one warm-up step.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Threads for both medxfer and PyTorch.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// What is timed (repeat the flag; default both).
    #[arg(long = "mode", value_enum)]
    modes: Vec<StepMode>,
    /// Python with torch and timm (default: see `find_torch_python`).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    backbone: BackboneKind,
    mode: StepMode,
    size: usize,
    batch: usize,
    threads: usize,
    medxfer_images_per_second: f64,
    pytorch: Option<serde_json::Value>,
    ratio: Option<f64>,
}

pub fn run(args: BenchTrainArgs) -> anyhow::Result<()> {
    if args.rounds == 0 || args.batch == 0 || args.size < 32 || args.threads == 0 {
        anyhow::bail!("--rounds, --batch and --threads must be at least 1 and --size at least 32");
    }
    let backbones = if args.backbones.is_empty() {
        vec![BackboneKind::Resnet18, BackboneKind::EfficientnetLite0]
    } else {
        args.backbones.clone()
    };
    let modes = if args.modes.is_empty() {
        vec![StepMode::Train, StepMode::Inference]
    } else {
        args.modes.clone()
    };
    let python = find_torch_python(args.python.as_deref(), "import torch, timm");
    if !args.json {
        println!("cpu: {}", cpu_model());
        match &python {
            Some(p) => println!("reference: PyTorch (timm) with {}", p.display()),
            None => println!(
                "reference: no Python with torch and timm found (--python, $MEDXFER_TORCH_PYTHON, .cache/torch-venv): no ratio"
            ),
        }
        println!(
            "backbone             mode       input     thr  medxfer img/s  pytorch img/s (layout)  ratio"
        );
    }
    for &backbone in &backbones {
        for &mode in &modes {
            let row = measure(&args, backbone, mode, python.as_deref())?;
            print_row(&row, args.json)?;
        }
    }
    Ok(())
}

fn measure(
    args: &BenchTrainArgs,
    backbone: BackboneKind,
    mode: StepMode,
    python: Option<&std::path::Path>,
) -> anyhow::Result<Row> {
    let shape = StepShape {
        size: args.size,
        batch: args.batch,
        rounds: args.rounds,
        threads: args.threads,
    };
    let medxfer = images_per_second(backbone, mode, shape)?;
    let pytorch = match python {
        Some(python) => Some(run_script(
            python,
            "pytorch_train_step.py",
            REFERENCE_SCRIPT,
            &[
                backbone.name().to_string(),
                args.size.to_string(),
                args.batch.to_string(),
                args.rounds.to_string(),
                args.threads.to_string(),
                mode.name().to_string(),
            ],
            args.threads,
        )?),
        None => None,
    };
    let ratio = pytorch
        .as_ref()
        .and_then(|p| p["best"].as_f64())
        .map(|best| medxfer / best);
    Ok(Row {
        backbone,
        mode,
        size: args.size,
        batch: args.batch,
        threads: args.threads,
        medxfer_images_per_second: medxfer,
        pytorch,
        ratio,
    })
}

fn print_row(row: &Row, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(row)?);
        return Ok(());
    }
    let reference = match &row.pytorch {
        Some(p) => format!(
            "{:>8.1} ({})",
            p["best"].as_f64().unwrap_or(f64::NAN),
            p["best_layout"].as_str().unwrap_or("?")
        ),
        None => "-".into(),
    };
    println!(
        "{:<20} {:<10} {:>3}x{:<4} {:>4}  {:>13.1}  {:<22}  {}",
        row.backbone.name(),
        row.mode.name(),
        row.size,
        row.batch,
        row.threads,
        row.medxfer_images_per_second,
        reference,
        row.ratio.map_or("-".into(), |r| format!("{r:.2}x"))
    );
    Ok(())
}

/// The CPU's model name (what `lscpu` prints), recorded beside every figure.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
