//! One module per subcommand: each defines its clap arguments and a `run` function.

pub mod baseline;
pub mod bench;
pub mod bench_explain;
pub mod bench_serve;
pub mod bench_train;
pub mod compare;
pub mod convert;
pub mod deid;
pub mod embed;
pub mod ensemble;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod fold_workers;
pub mod output_folder;
pub mod predict;
pub mod pretrain;
pub mod robustness;
pub mod serve;
pub mod ssl_eval;
pub mod stats;
pub mod study;
pub mod table;
pub mod torch_reference;
pub mod train;
pub mod validate;
pub mod weights;

/// The size of a rayon pool (medxfer-eval's, the training kernels'): RAYON_NUM_THREADS or the
/// available cores.
pub(crate) fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
