//! `medxfer evaluate RUN_DIR`: metrics of a run folder's test rows, written to
//! `RUN_DIR/metrics.json`. Dispatches on `task.json`'s `task`: a classification run's
//! predictions (per fold, mean +- sd across folds, pooled with CIs, calibration and for a
//! binary run `reliability.png`); a segmentation run's masks
//! (the same, per class, plus `segmentation_per_image.csv` and `gallery.png`).

use std::path::PathBuf;

use medxfer_atomic::run_files::{
    METRICS, RELIABILITY_DIAGRAM, SEGMENTATION_GALLERY, SEGMENTATION_PER_IMAGE, TASK,
};
use medxfer_eval::predictions::{TaskInfo, TaskKind};
use medxfer_eval::report::evaluate_run;
use medxfer_eval::segmentation_run::evaluate_segmentation_run;
use medxfer_report::reliability_diagram::write_reliability_diagram;
use medxfer_report::segmentation_gallery::write_gallery;

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// Run folder holding task.json and predictions.csv (classification) or
    /// segmentations.csv (segmentation).
    pub run_dir: PathBuf,
    /// Print the metrics as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let task = TaskInfo::read_json(&args.run_dir.join(TASK))?;
    match task.task {
        TaskKind::Classification => {
            let metrics = evaluate_run(&args.run_dir)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&metrics)?);
            } else {
                print!("{metrics}");
            }
            if metrics.pooled.calibration.is_some() {
                let diagram = args.run_dir.join(RELIABILITY_DIAGRAM);
                let title = format!("reliability: {}", args.run_dir.display());
                write_reliability_diagram(&metrics, &title, &diagram)?;
                eprintln!("wrote {}", diagram.display());
            }
        }
        TaskKind::Segmentation => {
            let metrics = evaluate_segmentation_run(&args.run_dir)?;
            let gallery = args.run_dir.join(SEGMENTATION_GALLERY);
            write_gallery(&args.run_dir, &metrics.per_image, &gallery)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&metrics)?);
            } else {
                print!("{metrics}");
                println!(
                    "per-image metrics: {}",
                    args.run_dir.join(SEGMENTATION_PER_IMAGE).display()
                );
                println!("gallery: {}", gallery.display());
            }
        }
    }
    eprintln!("wrote {}", args.run_dir.join(METRICS).display());
    Ok(())
}
