//! `medxfer serve RUN_DIR`: the run's fold ensemble behind an HTTP API and a web page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use medxfer_serve::{BearerToken, ServeOptions};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A finished classification run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// Address to listen on; anything but loopback needs --token-file. Port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// File holding the bearer token clients must send (`Authorization: Bearer ...`) to the
    /// /v1 routes and /metrics; at least 24 printable characters.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Largest request body, MiB (larger is answered 413).
    #[arg(long, default_value_t = 32)]
    max_body_mb: usize,
    /// Inferences running at once (each on its own blocking thread); default: the CPU count.
    #[arg(long)]
    max_concurrent: Option<usize>,
    /// Inferences waiting beyond those running; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 16)]
    queue: usize,
    /// Seconds a request may take from its first byte to its answer (then 503).
    #[arg(long, default_value_t = 60.0)]
    timeout_s: f64,
    /// Print one line per request (method, route, status, milliseconds; never image data).
    #[arg(long)]
    log_requests: bool,
    /// Serve only this fold's model (repeat for several); default: every fold's, averaged.
    /// Each model costs one forward pass per answer: one fold answers about k times faster
    /// than a k-fold ensemble. The card's metrics stay the run's cross-validated ones.
    #[arg(long = "fold", value_name = "K")]
    folds: Vec<usize>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let token = args
        .token_file
        .as_deref()
        .map(BearerToken::from_file)
        .transpose()?;
    if !(args.timeout_s > 0.0 && args.timeout_s.is_finite()) {
        anyhow::bail!(
            "--timeout-s {} must be a positive number of seconds",
            args.timeout_s
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = ServeOptions {
        addr: args.addr,
        token,
        max_body_bytes: args.max_body_mb.saturating_mul(1 << 20),
        max_concurrent: args.max_concurrent.unwrap_or(cores),
        queue_depth: args.queue,
        request_timeout: Duration::from_secs_f64(args.timeout_s),
        log_requests: args.log_requests,
        folds: (!args.folds.is_empty()).then(|| args.folds.clone()),
    };
    // Checked before the models load: a refused address costs nothing.
    options.check()?;
    let events: Arc<dyn medxfer_events::Reporter> = Arc::from(crate::progress::reporter(false));
    let run_dir = args.run_dir.clone();
    medxfer_serve::run(&args.run_dir, options, events, |addr| {
        eprintln!(
            "serving {} on http://{addr}/ (API description: http://{addr}/openapi.json)",
            run_dir.display()
        );
    })?;
    Ok(())
}
