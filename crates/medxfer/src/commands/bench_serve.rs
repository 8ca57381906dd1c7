//! `medxfer bench serve`: load on a running `medxfer serve` from N keep-alive clients, with
//! latency percentiles, the error count and, given the server's pid, its memory before and after.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use medxfer_serve::loadtest::{Budget, LoadPlan, run_load};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchRoute {
    Predict,
    Explain,
}

impl BenchRoute {
    fn path(self) -> &'static str {
        match self {
            BenchRoute::Predict => "/v1/predict",
            BenchRoute::Explain => "/v1/explain",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct BenchServeArgs {
    /// The image every request sends (PNG, JPEG or DICOM).
    #[arg(long)]
    image: PathBuf,
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[arg(long, value_enum, default_value = "predict")]
    route: BenchRoute,
    /// Concurrent clients, each on its own keep-alive connection.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// How long to load the server (ignored with --requests).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Stop after this many requests over all clients instead of after --seconds.
    #[arg(long)]
    requests: Option<usize>,
    /// File holding the server's bearer token.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The server's process id: its resident memory (VmRSS) is read before and after.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
}

/// Resident memory of a process in KiB (Linux /proc).
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("{path}: cannot read"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{path}: no VmRSS line"))
}

pub fn run(args: BenchServeArgs) -> anyhow::Result<()> {
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let body = std::fs::read(&args.image)
        .with_context(|| format!("{}: cannot read", args.image.display()))?;
    let token = match &args.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let plan = LoadPlan {
        addr: args.addr,
        path: args.route.path().to_string(),
        body,
        token,
        clients: args.clients,
        budget: match args.requests {
            Some(n) => Budget::Requests(n),
            None => Budget::Duration(Duration::from_secs(args.seconds)),
        },
    };
    let rss_before = args.server_pid.map(rss_kib).transpose()?;
    let report = run_load(&plan)?;
    let rss_after = args.server_pid.map(rss_kib).transpose()?;
    if args.json {
        let value = serde_json::json!({
            "route": plan.path,
            "clients": args.clients,
            "report": report,
            "server_rss_kib_before": rss_before,
            "server_rss_kib_after": rss_after,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "{} x {} clients: {} requests in {:.1} s ({:.1}/s), {} errors",
        plan.path,
        args.clients,
        report.requests,
        report.seconds,
        report.requests as f64 / report.seconds,
        report.errors
    );
    println!(
        "latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
        report.p50_ms, report.p90_ms, report.p99_ms, report.max_ms, report.mean_ms
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "server RSS: {:.1} MiB before, {:.1} MiB after ({:+.1}%)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after as f64 / before as f64 - 1.0) * 100.0
        );
    }
    Ok(())
}
