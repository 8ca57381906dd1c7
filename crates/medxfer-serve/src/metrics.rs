//! Request counts by route and status, and a latency histogram by route, in the Prometheus
//! text exposition format (version 0.0.4). Routes are a fixed set: a client's path never
//! becomes a label, so it can neither leak into the metrics nor grow them without bound.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// The routes the server knows; anything else is `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    Page,
    Predict,
    Explain,
    Model,
    Health,
    Metrics,
    OpenApi,
    Unknown,
}

impl Route {
    pub fn from_path(path: &str) -> Route {
        match path {
            "/" => Route::Page,
            "/v1/predict" => Route::Predict,
            "/v1/explain" => Route::Explain,
            "/v1/model" => Route::Model,
            "/healthz" => Route::Health,
            "/metrics" => Route::Metrics,
            "/openapi.json" => Route::OpenApi,
            _ => Route::Unknown,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Route::Page => "/",
            Route::Predict => "/v1/predict",
            Route::Explain => "/v1/explain",
            Route::Model => "/v1/model",
            Route::Health => "/healthz",
            Route::Metrics => "/metrics",
            Route::OpenApi => "/openapi.json",
            Route::Unknown => "unknown",
        }
    }

    /// Routes that need the bearer token when one is set (the page, its health check and the
    /// API description carry no model output and stay open).
    pub fn needs_token(self) -> bool {
        matches!(
            self,
            Route::Predict | Route::Explain | Route::Model | Route::Metrics
        )
    }
}

/// Upper bounds of the latency buckets, seconds (inference at 224 px takes 0.05-2 s on a CPU).
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations <= each bucket's bound (not cumulative here; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(Route, u16), u64>,
    latency: BTreeMap<Route, Histogram>,
    rejected_busy: u64,
}

#[derive(Debug, Default)]
pub struct RequestMetrics {
    inner: Mutex<Inner>,
}

impl RequestMetrics {
    pub fn observe(&self, route: Route, status: u16, elapsed: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.requests.entry((route, status)).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let histogram = inner.latency.entry(route).or_default();
        histogram.count += 1;
        histogram.sum_seconds += seconds;
        if let Some(i) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            histogram.buckets[i] += 1;
        }
    }

    /// An upload turned away because the inference queue was full.
    pub fn reject_busy(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.rejected_busy += 1;
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP medxfer_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE medxfer_http_requests_total counter\n");
        for ((route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "medxfer_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                route.label()
            );
        }
        out.push_str(
            "# HELP medxfer_http_request_duration_seconds Time from request to response.\n",
        );
        out.push_str("# TYPE medxfer_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            let label = route.label();
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "medxfer_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "medxfer_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "medxfer_http_request_duration_seconds_sum{{route=\"{label}\"}} {}",
                h.sum_seconds
            );
            let _ = writeln!(
                out,
                "medxfer_http_request_duration_seconds_count{{route=\"{label}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP medxfer_inference_rejected_total Uploads turned away with 503 because the inference queue was full.\n");
        out.push_str("# TYPE medxfer_inference_rejected_total counter\n");
        let _ = writeln!(
            out,
            "medxfer_inference_rejected_total {}",
            inner.rejected_busy
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let metrics = RequestMetrics::default();
        metrics.observe(Route::Predict, 200, Duration::from_millis(40));
        metrics.observe(Route::Predict, 200, Duration::from_millis(150));
        metrics.observe(Route::Predict, 415, Duration::from_millis(1));
        metrics.observe(Route::Unknown, 404, Duration::from_millis(1));
        let text = metrics.render();
        assert!(
            text.contains("medxfer_http_requests_total{route=\"/v1/predict\",status=\"200\"} 2\n")
        );
        assert!(
            text.contains("medxfer_http_requests_total{route=\"/v1/predict\",status=\"415\"} 1\n")
        );
        assert!(text.contains("medxfer_http_requests_total{route=\"unknown\",status=\"404\"} 1\n"));
        // 1 ms <= 0.005; 40 ms <= 0.05; 150 ms <= 0.2.
        let bucket = |le: &str| {
            format!(
                "medxfer_http_request_duration_seconds_bucket{{route=\"/v1/predict\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 1\n", bucket("0.005"))));
        assert!(text.contains(&format!("{} 1\n", bucket("0.025"))));
        assert!(text.contains(&format!("{} 2\n", bucket("0.05"))));
        assert!(text.contains(&format!("{} 3\n", bucket("0.2"))));
        assert!(text.contains(&format!("{} 3\n", bucket("+Inf"))));
        let sum_line = text
            .lines()
            .find(|l| {
                l.starts_with("medxfer_http_request_duration_seconds_sum{route=\"/v1/predict\"}")
            })
            .unwrap();
        let sum: f64 = sum_line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((sum - 0.191).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn client_paths_never_become_labels() {
        assert_eq!(
            Route::from_path("/v1/predict/../../etc/passwd"),
            Route::Unknown
        );
        assert_eq!(Route::from_path("/patients/Doe^John"), Route::Unknown);
        assert_eq!(Route::from_path("/v1/predict"), Route::Predict);
    }
}
