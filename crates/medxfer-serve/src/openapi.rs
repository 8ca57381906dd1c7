//! The OpenAPI 3 description of the API, served at `/openapi.json`.

use serde_json::{Value, json};

use crate::engine::Engine;
use crate::options::ServeOptions;

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn upload_body() -> Value {
    json!({
        "required": true,
        "description": "The image file's bytes as the request body (not multipart). The format is \
            recognised by its first bytes: PNG, JPEG, or DICOM Part 10 (DICM at offset 128). \
            DICOM is de-identified (PS3.15 basic profile) before it is decoded.",
        "content": {
            "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
            "image/png": { "schema": { "type": "string", "format": "binary" } },
            "image/jpeg": { "schema": { "type": "string", "format": "binary" } },
            "application/dicom": { "schema": { "type": "string", "format": "binary" } }
        }
    })
}

fn inference_responses(schema: &str, max_body_bytes: usize) -> Value {
    json!({
        "200": {
            "description": "The fold ensemble's answer",
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
        },
        "401": error_response("Missing or wrong bearer token (when the server has one)"),
        "413": error_response(&format!("Body larger than {max_body_bytes} bytes")),
        "415": error_response("Not a PNG, JPEG or DICOM file"),
        "422": error_response("Recognised but undecodable (e.g. a broken DICOM), or refused on de-identification"),
        "503": error_response("Inference queue full or request timed out; retry after the Retry-After header's seconds")
    })
}

fn schemas(classes: &[String]) -> Value {
    json!({
        "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
        "Prediction": {
            "type": "object",
            "properties": {
                "probabilities": {
                    "type": "array",
                    "description": "Mean softmax probability of the fold models, one entry per class in the run's order",
                    "items": { "type": "object", "properties": {
                        "class": { "type": "string", "enum": classes },
                        "probability": { "type": "number" } } }
                },
                "decision": { "type": "object", "properties": {
                    "class": { "type": "string", "enum": classes },
                    "rule": { "type": "string" },
                    "positive_class": { "type": "string" },
                    "threshold": { "type": "number" } } },
                "models": { "type": "integer" },
                "input": { "type": "object", "properties": {
                    "format": { "type": "string", "enum": ["png", "jpeg", "dicom"] },
                    "width": { "type": "integer" }, "height": { "type": "integer" },
                    "deidentified": { "type": "boolean" },
                    "pixels_may_show_text": { "type": "boolean" } } },
                "inference_ms": { "type": "number" }
            }
        },
        "Explanation": {
            "allOf": [
                { "$ref": "#/components/schemas/Prediction" },
                { "type": "object", "properties": { "explanation": { "type": "object", "properties": {
                    "method": { "type": "string", "enum": ["gradcam"] },
                    "class": { "type": "string" },
                    "png_base64": { "type": "string", "description": "Grad-CAM heat map over the image at its original size, PNG, base64" } } } } }
            ]
        }
    })
}

pub fn openapi(engine: &Engine, options: &ServeOptions) -> Value {
    let secured = json!([{ "bearer": [] }]);
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "medxfer serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A finished medxfer classification run's fold ensemble: class probabilities, \
                the run's decision and Grad-CAM overlays. Research use only."
        },
        "paths": {
            "/v1/predict": { "post": {
                "summary": "Class probabilities and the decision at the run's threshold",
                "requestBody": upload_body(),
                "responses": inference_responses("Prediction", options.max_body_bytes),
                "security": secured } },
            "/v1/explain": { "post": {
                "summary": "The prediction and the Grad-CAM overlay of the decided class",
                "requestBody": upload_body(),
                "responses": inference_responses("Explanation", options.max_body_bytes),
                "security": secured } },
            "/v1/model": { "get": {
                "summary": "Model card: training data, metrics with confidence intervals, intended use, limits",
                "responses": { "200": { "description": "The model card", "content": { "application/json": {} } },
                               "401": error_response("Missing or wrong bearer token") },
                "security": secured } },
            "/metrics": { "get": {
                "summary": "Prometheus text format: requests by route and status, latency histograms",
                "responses": { "200": { "description": "Metrics", "content": { "text/plain": {} } },
                               "401": error_response("Missing or wrong bearer token") },
                "security": secured } },
            "/healthz": { "get": {
                "summary": "Liveness: the models are loaded",
                "responses": { "200": { "description": "OK", "content": { "application/json": {} } } } } },
            "/openapi.json": { "get": {
                "summary": "This description",
                "responses": { "200": { "description": "OpenAPI 3 document", "content": { "application/json": {} } } } } },
            "/": { "get": {
                "summary": "The web page for clinicians",
                "responses": { "200": { "description": "HTML", "content": { "text/html": {} } } } } }
        },
        "components": {
            "schemas": schemas(engine.class_names()),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    });
    if options.token.is_none() {
        // Without a token nothing is enforced; say so rather than describe a check that is off.
        document["info"]["description"] = json!(format!(
            "{} This server runs without a bearer token (loopback only).",
            document["info"]["description"].as_str().unwrap_or_default()
        ));
    }
    document
}
