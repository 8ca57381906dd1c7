use std::path::PathBuf;

use medxfer_train::predict::RunPredictor;

#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A finished run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// Images to classify (PNG; preprocessed as in training).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let predictor = RunPredictor::open(&args.run_dir)?;
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
