//! `medxfer serve`: a finished classification run's fold ensemble behind an HTTP API and a
//! single self-contained web page for clinicians.
//!
//! - `POST /v1/predict`, `POST /v1/explain` take an image's bytes (PNG, JPEG or DICOM,
//!   recognised by magic bytes) and answer with the ensemble's probabilities, the run's
//!   decision and, for explain, the Grad-CAM overlay as a base64 PNG;
//! - `GET /v1/model` (model card), `/healthz`, `/metrics` (Prometheus), `/openapi.json`, `/`.
//!
//! DICOM uploads are de-identified before decoding; the `.dcm` decoder itself comes from the
//! data crate's registry, which the `medxfer` binary fills with `medxfer-dicom`'s decoder.
//! Inference runs on tokio's blocking pool, at most `max_concurrent` at once, with a bounded
//! queue: beyond it the answer is 503 with Retry-After.

pub mod card;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod loadtest;
pub mod metrics;
pub mod openapi;
pub mod options;
pub mod server;
pub mod sniff;

pub use error::{ServeError, UploadError};
pub use options::{BearerToken, ServeOptions};
pub use server::{AppState, router, run};
pub use sniff::ImageKind;
