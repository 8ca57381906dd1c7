//! `cargo bench -p medxfer-eval`: the statistics workload (AUC + DeLong CI + 2,000-resample
//! stratified bootstrap CI on 100,000 scores) timed beside the NumPy / scikit-learn reference
//! (`stats_reference.py`, run with the venv's Python when it exists). `medxfer bench stats`
//! runs the same comparison from the CLI.

use medxfer_eval::benchmark::{
    reference_python_candidates, run_reference, run_stats_workload, synthetic_binary_scores,
};

const N: usize = 100_000;
const RESAMPLES: usize = 2000;

fn main() {
    let (labels, scores) = synthetic_binary_scores(N, 0);
    let mut times = Vec::new();
    for _ in 0..3 {
        match run_stats_workload(&labels, &scores, RESAMPLES, 0) {
            Ok(w) => times.push(w.seconds),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let ours = times[times.len() / 2];
    println!(
        "medxfer    median {ours:.3} s (best {:.3} s) over {} runs, n = {N}, {RESAMPLES} resamples",
        times[0],
        times.len()
    );
    if std::env::var_os("MEDXFER_BENCH_SKIP_REFERENCE").is_some() {
        println!("reference  skipped (MEDXFER_BENCH_SKIP_REFERENCE is set)");
        return;
    }
    let candidates = reference_python_candidates();
    let Some(python) = candidates.iter().find(|p| p.exists()) else {
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        println!(
            "reference  missing: no Python venv at {}",
            tried.join(" or ")
        );
        return;
    };
    match run_reference(python, &labels, &scores, RESAMPLES, 0) {
        Ok(r) => {
            println!(
                "reference  {:.3} s (NumPy/SciPy/scikit-learn {})",
                r.seconds, r.versions
            );
            println!("speed-up   {:.1}x", r.seconds / ours);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
