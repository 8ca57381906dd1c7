//! `cargo bench -p medxfer-eval`: times the statistics workload (AUC + DeLong CI + 2,000
//! resample stratified bootstrap CI on 100,000 scores). `medxfer bench stats` runs the same
//! workload beside the NumPy / scikit-learn reference.

use medxfer_eval::benchmark::{run_stats_workload, synthetic_binary_scores};

fn main() {
    let (labels, scores) = synthetic_binary_scores(100_000, 0);
    let mut times = Vec::new();
    for _ in 0..3 {
        match run_stats_workload(&labels, &scores, 2000, 0) {
            Ok(w) => times.push(w.seconds),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "stats workload (n = 100000, 2000 resamples): best {:.3} s, median {:.3} s over {} runs",
        times[0],
        times[times.len() / 2],
        times.len()
    );
}
