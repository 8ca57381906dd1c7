//! `medxfer ensemble --out DIR RUN...`: a backbone / recipe ensemble of finished runs. Each
//! image's test probabilities are averaged over the runs (optionally weighted) and written as
//! a predictions file that `evaluate`, `compare` and `table` read like any run's.

use std::path::PathBuf;

use anyhow::Context;
use medxfer_atomic::run_files::{ENSEMBLE, PREDICTIONS, TASK};
use medxfer_eval::run_ensemble::{Member, ensemble_runs};
use serde::Serialize;

use super::output_folder::claim_output;

#[derive(clap::Args, Debug)]
pub struct EnsembleArgs {
    /// Run folders to combine (training runs, `validate` or `baseline` folders) that test the
    /// same images.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Folder to write (new, empty, or an earlier ensemble's).
    #[arg(long)]
    pub out: PathBuf,
    /// One weight per run, comma-separated (default: equal weights).
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<f64>,
}

#[derive(Serialize)]
struct EnsembleRecord<'a> {
    members: Vec<MemberRecord>,
    images: usize,
    combination: &'a str,
    folds_agree: bool,
}

#[derive(Serialize)]
struct MemberRecord {
    run_dir: PathBuf,
    weight: f64,
}

pub fn run(args: EnsembleArgs) -> anyhow::Result<()> {
    if !args.weights.is_empty() && args.weights.len() != args.runs.len() {
        anyhow::bail!(
            "--weights: {} weights for {} runs; give one per run",
            args.weights.len(),
            args.runs.len()
        );
    }
    if let Some(run) = args.runs.iter().find(|run| same_folder(run, &args.out)) {
        anyhow::bail!(
            "{}: the output folder is one of the ensemble's runs; choose another --out",
            run.display()
        );
    }
    let members: Vec<Member> = args
        .runs
        .iter()
        .enumerate()
        .map(|(i, dir)| Member {
            dir: dir.clone(),
            weight: args.weights.get(i).copied().unwrap_or(1.0),
        })
        .collect();
    let ensemble = ensemble_runs(&members)?;
    let _lock = claim_output(&args.out, ENSEMBLE, "a medxfer ensemble")?;
    ensemble
        .predictions
        .write_csv(&args.out.join(PREDICTIONS))?;
    ensemble.task.write_json(&args.out.join(TASK))?;
    let record = EnsembleRecord {
        members: members
            .iter()
            .map(|m| MemberRecord {
                run_dir: std::path::absolute(&m.dir).unwrap_or_else(|_| m.dir.clone()),
                weight: m.weight,
            })
            .collect(),
        images: ensemble.predictions.rows.len(),
        combination: "weighted mean of each image's class probabilities (each run's out-of-fold prediction, or fold ensemble for an external validation)",
        folds_agree: ensemble.folds_agree,
    };
    let path = args.out.join(ENSEMBLE);
    medxfer_atomic::write_atomic(&path, serde_json::to_string_pretty(&record)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "ensemble of {} runs over {} test images written to {}{}",
        members.len(),
        record.images,
        args.out.display(),
        if ensemble.folds_agree {
            ""
        } else {
            " (not all runs are out-of-fold predictions over the same folds: every row is fold 0, no per-fold metrics)"
        }
    );
    println!(
        "next: medxfer evaluate {0}; medxfer compare {0} RUN",
        args.out.display()
    );
    Ok(())
}

fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
