//! medxfer-export: a finished classification run's fold models as ONNX files (opset 13,
//! batch norm folded into the convolutions), with the protobuf written by hand
//! (`protobuf`, `onnx`) rather than generated.

mod classifier_graph;
mod error;
mod fold_batch_norm;
mod graph_builder;
mod inception_graph;
pub mod onnx;
mod protobuf;
mod run_export;

pub use classifier_graph::{INPUT_NAME, OUTPUT_NAME, classifier_graph, ensemble_graph};
pub use error::ExportError;
pub use fold_batch_norm::{FoldedConv, fold_batch_norm};
pub use run_export::{
    ENSEMBLE_FILE, EXPORT_JSON, EnsembleGraph, ExportFormat, ExportManifest, ExportedFold,
    InputDescription, OutputDescription, export_run,
};
