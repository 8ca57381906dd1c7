use std::path::{Path, PathBuf};

use medxfer_eval::predictions::TaskKind;
use medxfer_train::predict::RunPredictor;

#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A finished run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// Images to classify or segment (preprocessed as in training).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Segmentation runs: write each image's predicted mask as `<stem>_mask.png` (0/255, the
    /// image's size) into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    masks_out: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let predictor = RunPredictor::open(&args.run_dir)?;
    match (predictor.task(), &args.masks_out) {
        (TaskKind::Classification, None) => classify(&predictor, &args),
        (TaskKind::Segmentation, Some(dir)) => segment(&predictor, &args, dir),
        (TaskKind::Classification, Some(_)) => anyhow::bail!(
            "{}: a classification run has no masks: drop --masks-out",
            args.run_dir.display()
        ),
        (TaskKind::Segmentation, None) => anyhow::bail!(
            "{}: a segmentation run predicts masks: add --masks-out DIR",
            args.run_dir.display()
        ),
    }
}

fn classify(predictor: &RunPredictor, args: &PredictArgs) -> anyhow::Result<()> {
    let predictions = predictor.predict(&args.images)?;
    if args.json {
        let rows: Vec<serde_json::Value> = predictions
            .iter()
            .map(|p| {
                let scores: serde_json::Map<String, serde_json::Value> = predictor
                    .class_names
                    .iter()
                    .zip(&p.probabilities)
                    .map(|(c, s)| (c.clone(), serde_json::json!(s)))
                    .collect();
                serde_json::json!({
                    "image": p.path.display().to_string(),
                    "predicted": p.predicted_class,
                    "probabilities": scores,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{} model(s) averaged; probabilities per class: {}",
        predictor.num_models(),
        predictor.class_names.join(", ")
    );
    for p in &predictions {
        let probs: Vec<String> = p.probabilities.iter().map(|x| format!("{x:.4}")).collect();
        println!(
            "{}\t{}\t{}",
            p.path.display(),
            p.predicted_class,
            probs.join("\t")
        );
    }
    Ok(())
}

fn segment(predictor: &RunPredictor, args: &PredictArgs, dir: &Path) -> anyhow::Result<()> {
    let masks = predictor.predict_masks(&args.images, dir)?;
    if args.json {
        let rows: Vec<serde_json::Value> = masks
            .iter()
            .map(|m| {
                serde_json::json!({
                    "image": m.path.display().to_string(),
                    "mask": m.mask_path.display().to_string(),
                    "width": m.width,
                    "height": m.height,
                    "lesion_pixels": m.lesion_pixels,
                    "lesion_fraction": m.lesion_fraction(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let threshold = predictor
        .mask_threshold()
        .map_or(String::new(), |t| format!("; lesion probability > {t}"));
    println!(
        "{} model(s) averaged{threshold}; image, mask, lesion pixels, lesion fraction",
        predictor.num_models(),
    );
    for m in &masks {
        println!(
            "{}\t{}\t{}\t{:.4}",
            m.path.display(),
            m.mask_path.display(),
            m.lesion_pixels,
            m.lesion_fraction()
        );
    }
    Ok(())
}
