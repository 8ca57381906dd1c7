//! The HTTP side: routes, the guard every request passes (token, timeout, metrics, headers),
//! and admission to the blocking inference pool with back-pressure.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use medxfer_events::Reporter;
use tokio::sync::Semaphore;

use crate::card::ModelCard;
use crate::engine::Engine;
use crate::error::{ServeError, UploadError};
use crate::ingest::ingest;
use crate::metrics::{RequestMetrics, Route};
use crate::openapi::openapi;
use crate::options::{BearerToken, ServeOptions};

const PAGE: &str = include_str!("page.html");
/// What a busy or timed-out answer asks the client to wait, seconds.
const RETRY_AFTER_SECONDS: u64 = 1;

pub struct AppState {
    engine: Arc<Engine>,
    card: serde_json::Value,
    openapi: serde_json::Value,
    metrics: RequestMetrics,
    /// Inferences admitted (running or waiting); none left means 503.
    admission: Arc<Semaphore>,
    /// Inferences running on blocking threads.
    workers: Arc<Semaphore>,
    token: Option<BearerToken>,
    max_body_bytes: usize,
    timeout: Duration,
    log_requests: bool,
    events: Arc<dyn Reporter>,
}

impl AppState {
    /// Loads the run's models and model card.
    pub fn open(
        run_dir: &Path,
        options: &ServeOptions,
        events: Arc<dyn Reporter>,
    ) -> Result<Self, ServeError> {
        options.check()?;
        let engine = Engine::open(run_dir, options.folds.as_deref())?;
        let card = ModelCard::build(run_dir, &engine, options.folds.as_deref())?;
        Ok(AppState {
            card: serde_json::to_value(&card).map_err(|e| ServeError::Runtime(e.to_string()))?,
            openapi: openapi(&engine, options),
            engine: Arc::new(engine),
            metrics: RequestMetrics::default(),
            admission: Arc::new(Semaphore::new(options.max_concurrent + options.queue_depth)),
            workers: Arc::new(Semaphore::new(options.max_concurrent)),
            token: options.token.clone(),
            max_body_bytes: options.max_body_bytes,
            timeout: options.request_timeout,
            log_requests: options.log_requests,
            events,
        })
    }
}

/// Every route, behind the guard, with the body limit.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/v1/predict", post(predict))
        .route("/v1/explain", post(explain))
        .route("/v1/model", get(model_card))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves until the process ends; `ready` gets the bound address (port 0 picks a free one).
pub fn run(
    run_dir: &Path,
    options: ServeOptions,
    events: Arc<dyn Reporter>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let state = Arc::new(AppState::open(run_dir, &options, events)?);
    let listener =
        std::net::TcpListener::bind(options.addr).map_err(|source| ServeError::Bind {
            addr: options.addr,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: options.addr,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    // Two async threads only parse HTTP; inference runs on the blocking pool, which the
    // worker semaphore keeps at `max_concurrent` threads busy.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(options.max_concurrent.max(1))
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    let app = router(state, options.max_body_bytes);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| ServeError::Runtime(e.to_string()))?;
        ready(bound);
        axum::serve(listener, app)
            .await
            .map_err(|e| ServeError::Runtime(e.to_string()))
    })
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, axum::Json(body)).into_response()
}

fn retry_later(message: impl Into<String>) -> Response {
    let mut response = json_error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// Token, timeout, security headers, metrics and the optional request log.
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = Route::from_path(request.uri().path());
    let method = request.method().clone();
    let authorised = !route.needs_token()
        || state.token.as_ref().is_none_or(|token| {
            let header = request.headers().get(header::AUTHORIZATION);
            token.accepts(header.and_then(|h| h.to_str().ok()))
        });
    // A declared length over the limit is refused before a byte of the body is read (the
    // body limit alone would wait for the body first); undeclared lengths meet that limit.
    let declared_too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > state.max_body_bytes as u64);
    let mut response = if declared_too_large {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {} bytes", state.max_body_bytes),
        )
    } else if !authorised {
        let mut response = json_error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    } else {
        match tokio::time::timeout(state.timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => retry_later(format!(
                "the request took longer than {} s",
                state.timeout.as_secs_f64()
            )),
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Answers are about a patient's image: no cache keeps them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let status = response.status().as_u16();
    state.metrics.observe(route, status, started.elapsed());
    if state.log_requests {
        state.events.note(format!(
            "{method} {} {status} {:.1} ms",
            route.label(),
            started.elapsed().as_secs_f64() * 1e3
        ));
    }
    response
}

#[derive(Debug, Clone, Copy)]
enum Inference {
    Predict,
    Explain,
}

async fn predict(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    infer(state, body, Inference::Predict).await
}

async fn explain(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    infer(state, body, Inference::Explain).await
}

/// Admission (503 when the queue is full), a turn on the blocking pool, then the model.
async fn infer(
    state: Arc<AppState>,
    body: Result<Bytes, BytesRejection>,
    task: Inference,
) -> Response {
    let bytes = match body {
        Ok(bytes) => bytes,
        Err(rejection) => return json_error(rejection.status(), rejection.body_text()),
    };
    let Ok(admitted) = state.admission.clone().try_acquire_owned() else {
        state.metrics.reject_busy();
        return retry_later("the inference queue is full");
    };
    let Ok(turn) = state.workers.clone().acquire_owned().await else {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "inference pool closed");
    };
    let engine = state.engine.clone();
    let started = Instant::now();
    // The permits live as long as the work: a timed-out request's inference still holds its
    // turn until it ends, so the pool is never oversubscribed.
    let outcome = tokio::task::spawn_blocking(move || {
        let _permits = (admitted, turn);
        let upload = ingest(&bytes)?;
        match task {
            Inference::Predict => serde_json::to_value(engine.predict(&upload)),
            Inference::Explain => serde_json::to_value(engine.explain(upload)?),
        }
        .map_err(|e| UploadError::Internal(e.to_string()))
    })
    .await;
    match outcome {
        Ok(Ok(mut answer)) => {
            answer["inference_ms"] = serde_json::json!(started.elapsed().as_secs_f64() * 1e3);
            axum::Json(answer).into_response()
        }
        Ok(Err(err)) => json_error(upload_status(&err), err.to_string()),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "the inference failed"),
    }
}

fn upload_status(err: &UploadError) -> StatusCode {
    match err {
        UploadError::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        UploadError::Undecodable { .. } | UploadError::Deidentification(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        UploadError::Model(_) | UploadError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn page() -> Response {
    let mut response = axum::response::Html(PAGE).into_response();
    // Everything the page needs is inline; it may talk to this server only.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             img-src data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

async fn model_card(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.card.clone()).into_response()
}

async fn openapi_json(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.openapi.clone()).into_response()
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(serde_json::json!({
        "status": "ok",
        "models": state.engine.num_models(),
        "classes": state.engine.class_names(),
    }))
    .into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn unknown_route() -> Response {
    json_error(StatusCode::NOT_FOUND, "no such route (see /openapi.json)")
}
