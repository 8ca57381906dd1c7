//! `medxfer embed RUN_DIR... [--out DIR]`: a t-SNE of what each finished classification run's
//! fold models learnt (each fold model's pooled features of its own test images), with the
//! leave-one-out k-NN agreement of the classes in those features. Written into
//! `RUN_DIR/embedding/` by default, where `medxfer study report` finds it, so
//! `medxfer embed STUDY/cells/*` prepares a whole study's panels.

use std::path::PathBuf;

use medxfer_atomic::run_files::{EMBEDDING, TSNE_PNG};
use medxfer_explain::embedding::{EmbedSettings, embed_run};

#[derive(clap::Args, Debug)]
pub struct EmbedArgs {
    /// Finished classification run folders (from `medxfer train` or a study's `cells/`).
    #[arg(required = true)]
    run_dirs: Vec<PathBuf>,
    /// Folder for `tsne.csv`, `tsne.png` and `embedding.json` (default: RUN_DIR/embedding);
    /// only with a single run folder.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// t-SNE perplexity (lowered for small folds to at most (images - 1) / 3).
    #[arg(long, default_value_t = EmbedSettings::default().perplexity)]
    perplexity: f64,
    /// t-SNE iterations.
    #[arg(long, default_value_t = EmbedSettings::default().iterations)]
    iterations: usize,
    /// Seed of t-SNE's initial layout.
    #[arg(long, default_value_t = EmbedSettings::default().seed)]
    seed: u64,
    /// Neighbours in the leave-one-out k-NN agreement.
    #[arg(long, default_value_t = EmbedSettings::default().neighbours)]
    neighbours: usize,
    /// Print plain lines instead of progress bars.
    #[arg(long)]
    no_progress: bool,
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    if args.out.is_some() && args.run_dirs.len() > 1 {
        anyhow::bail!(
            "--out takes one run folder; {} were given (each writes into its own embedding/)",
            args.run_dirs.len()
        );
    }
    let settings = EmbedSettings {
        perplexity: args.perplexity,
        iterations: args.iterations,
        seed: args.seed,
        neighbours: args.neighbours,
    };
    let events = crate::progress::reporter(!args.no_progress);
    for run_dir in &args.run_dirs {
        let out = args.out.clone().unwrap_or_else(|| run_dir.join(EMBEDDING));
        let summary = embed_run(run_dir, &out, &settings, events.as_ref())?;
        let three = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        println!(
            "{}: {} folds, {}-D features, mean {}-NN agreement {} (chance {}): {}",
            run_dir.display(),
            summary.folds.len(),
            summary.feature_dim,
            settings.neighbours,
            three(summary.mean_knn_agreement()),
            three(summary.mean_chance_agreement()),
            out.join(TSNE_PNG).display()
        );
    }
    Ok(())
}
