//! A small HTTP/1.1 load generator for `medxfer bench serve`: N clients, each on one
//! keep-alive connection, post the same image back to back for a time or a request count, and
//! the latencies of every answer are summarised. Plain TCP and Content-Length framing only:
//! enough for this server, which never chunks its answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::ServeError;

/// When the clients stop.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Duration(Duration),
    /// Requests over all clients together.
    Requests(usize),
}

#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub addr: SocketAddr,
    pub path: String,
    pub body: Vec<u8>,
    pub token: Option<String>,
    pub clients: usize,
    pub budget: Budget,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadReport {
    pub requests: usize,
    /// Answers other than 200, and requests that failed on the connection.
    pub errors: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// What one client saw: (latency, success) per request.
type Samples = Vec<(Duration, bool)>;

pub fn run_load(plan: &LoadPlan) -> Result<LoadReport, ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    runtime.block_on(async {
        let started = Instant::now();
        let remaining =
            std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(match plan.budget {
                Budget::Requests(n) => n,
                Budget::Duration(_) => usize::MAX,
            }));
        let mut clients = Vec::with_capacity(plan.clients);
        for _ in 0..plan.clients {
            let plan = plan.clone();
            let remaining = remaining.clone();
            clients.push(tokio::spawn(async move {
                client(&plan, started, &remaining).await
            }));
        }
        let mut samples = Vec::new();
        for handle in clients {
            let client_samples = handle
                .await
                .map_err(|e| ServeError::Runtime(e.to_string()))??;
            samples.extend(client_samples);
        }
        Ok(summarise(&samples, started.elapsed()))
    })
}

async fn client(
    plan: &LoadPlan,
    started: Instant,
    remaining: &std::sync::atomic::AtomicUsize,
) -> Result<Samples, ServeError> {
    use std::sync::atomic::Ordering;
    let connect = || async {
        TcpStream::connect(plan.addr)
            .await
            .map(BufReader::new)
            .map_err(|e| ServeError::Runtime(format!("connecting to {}: {e}", plan.addr)))
    };
    let mut stream = connect().await?;
    let request = request_bytes(plan);
    let mut samples = Vec::new();
    loop {
        if let Budget::Duration(limit) = plan.budget
            && started.elapsed() >= limit
        {
            break;
        }
        let taken =
            remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if taken.is_err() {
            break;
        }
        let sent = Instant::now();
        match exchange(&mut stream, &request).await {
            Ok(status) => samples.push((sent.elapsed(), status == 200)),
            Err(_) => {
                samples.push((sent.elapsed(), false));
                stream = connect().await?;
            }
        }
    }
    Ok(samples)
}

fn request_bytes(plan: &LoadPlan) -> Vec<u8> {
    let auth = plan
        .token
        .as_ref()
        .map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let mut out = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n{auth}Content-Length: {}\r\n\r\n",
        plan.path,
        plan.addr,
        plan.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&plan.body);
    out
}

/// Sends one request and reads its whole answer; returns the status code.
async fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<u16> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    stream.get_mut().write_all(request).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let mut length = None;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(invalid("connection closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let length = length.ok_or_else(|| invalid("no Content-Length"))?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(status)
}

/// Latency percentiles by the nearest-rank method.
fn summarise(samples: &[(Duration, bool)], elapsed: Duration) -> LoadReport {
    let mut ms: Vec<f64> = samples.iter().map(|(d, _)| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        if ms.is_empty() {
            return f64::NAN;
        }
        let k = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
        ms[k - 1]
    };
    LoadReport {
        requests: samples.len(),
        errors: samples.iter().filter(|(_, ok)| !ok).count(),
        seconds: elapsed.as_secs_f64(),
        p50_ms: rank(0.50),
        p90_ms: rank(0.90),
        p99_ms: rank(0.99),
        max_ms: ms.last().copied().unwrap_or(f64::NAN),
        mean_ms: if ms.is_empty() {
            f64::NAN
        } else {
            ms.iter().sum::<f64>() / ms.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<(Duration, bool)> = (1..=100)
            .map(|i| (Duration::from_millis(i), i != 7))
            .collect();
        let report = summarise(&samples, Duration::from_secs(2));
        assert_eq!(report.requests, 100);
        assert_eq!(report.errors, 1);
        assert!((report.p50_ms - 50.0).abs() < 1e-9);
        assert!((report.p99_ms - 99.0).abs() < 1e-9);
        assert!((report.max_ms - 100.0).abs() < 1e-9);
        assert!((report.mean_ms - 50.5).abs() < 1e-9);
    }

    /// A one-request server written here answers 200 with a body; the client reads it whole.
    #[test]
    fn a_request_round_trips_over_keep_alive() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{BufRead, Read, Write};
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            for _ in 0..2 {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                assert_eq!(body, b"abc");
                (&stream)
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
            }
        });
        let plan = LoadPlan {
            addr,
            path: "/v1/predict".into(),
            body: b"abc".to_vec(),
            token: None,
            clients: 1,
            budget: Budget::Requests(2),
        };
        let report = run_load(&plan).unwrap();
        server.join().unwrap();
        assert_eq!((report.requests, report.errors), (2, 0));
    }
}
