//! `medxfer study`: run a grid of training runs (sharded over any scheduler), merge the cell
//! folders into the SQLite store, query it, and write the HTML report.

use std::path::PathBuf;

use anyhow::Context;
use medxfer_study::definition::StudyDefinition;
use medxfer_study::grid::Shard;
use medxfer_study::runner::StoreUpdates;

#[derive(clap::Subcommand, Debug)]
pub enum StudyCommand {
    /// Train the cells of STUDY.toml (this shard's), skipping finished ones, resuming others.
    Run(RunArgs),
    /// (Re)build STUDY_DIR/study.sqlite from the cell run folders (e.g. after copying shards' folders together).
    Merge(MergeArgs),
    /// One SQL statement on the store, read-only; rows printed tab-separated with a header.
    Query(QueryArgs),
    /// One self-contained HTML page: tables, statistics, plots.
    Report(ReportArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The study file (TOML: base config, axes, exclusions).
    study: PathBuf,
    /// Run every n-th cell: `i/n` with 0 <= i < n. Without it: SLURM_ARRAY_TASK_ID /
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX with --shard-count, or the whole grid.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The number of shards when the index comes from the environment (a Kubernetes indexed
    /// Job's completions; overrides SLURM_ARRAY_TASK_COUNT).
    #[arg(long, value_name = "N")]
    shard_count: Option<usize>,
    /// Do not draw progress bars (plain lines).
    #[arg(long)]
    no_progress: bool,
    /// Do not write the store as cells finish (for a study folder on a network file system,
    /// where SQLite's WAL mode does not work across machines); `study merge` builds it later.
    #[arg(long)]
    no_store: bool,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    study_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    study_dir: PathBuf,
    /// e.g. "SELECT cell, metric, AVG(value) FROM fold_metrics GROUP BY cell, metric"
    sql: String,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    study_dir: PathBuf,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(command: StudyCommand) -> anyhow::Result<()> {
    match command {
        StudyCommand::Run(args) => run_grid(args),
        StudyCommand::Merge(args) => {
            let (manifest, finished) = medxfer_study::merge(&args.study_dir)?;
            println!(
                "study {}: {finished} of {} cells finished; store {}",
                manifest.name,
                manifest.cells.len(),
                args.study_dir.join(medxfer_study::folder::STORE).display()
            );
            Ok(())
        }
        StudyCommand::Query(args) => {
            let rows = medxfer_study::query(&args.study_dir, &args.sql)?;
            println!("{}", rows.columns.join("\t"));
            for row in rows.rows {
                println!("{}", row.join("\t"));
            }
            Ok(())
        }
        StudyCommand::Report(args) => {
            let summary = medxfer_study::report::write_report(&args.study_dir, &args.out)?;
            println!(
                "report of {} cell(s) written to {}{}",
                summary.cells_reported,
                args.out.display(),
                if summary.cells_missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} unfinished left out: {})",
                        summary.cells_missing.len(),
                        summary.cells_missing.join(", ")
                    )
                }
            );
            Ok(())
        }
    }
}

fn run_grid(args: RunArgs) -> anyhow::Result<()> {
    let shard = Shard::from_sources(args.shard.as_deref(), args.shard_count, |name| {
        std::env::var(name).ok()
    })?;
    let definition = StudyDefinition::load(&args.study)?;
    let plan = medxfer_study::runner::plan(&definition)?;
    let events = crate::progress::reporter(!args.no_progress);
    let store_updates = if args.no_store {
        StoreUpdates::None
    } else {
        StoreUpdates::EachCell
    };
    let summary = medxfer_study::runner::run_study(&plan, shard, store_updates, events.as_ref())
        .with_context(|| format!("study {}", args.study.display()))?;
    println!(
        "shard {}/{}: {} cell(s): {} trained, {} skipped (finished before), {} failed; study folder {}",
        shard.index,
        shard.count,
        summary.cells_in_shard,
        summary.trained.len(),
        summary.skipped.len(),
        summary.failed.len(),
        summary.study_dir.display()
    );
    if let Some((cell, reason)) = summary.failed.first() {
        anyhow::bail!(
            "{} cell(s) failed; the first, {cell}: {reason}",
            summary.failed.len()
        );
    }
    Ok(())
}
