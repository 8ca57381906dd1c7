//! The run's fold ensemble answering uploads: probabilities, the run's decision and the
//! Grad-CAM overlay, all through `medxfer-explain`'s and `medxfer-eval`'s own functions.
//! Everything here is blocking CPU work: callers run it on the blocking thread pool.

use std::path::Path;

use base64::Engine as _;
use medxfer_eval::predictions::TaskInfo;
use medxfer_eval::report::{POSITIVE_THRESHOLD, decide_class};
use medxfer_explain::render::overlay;
use medxfer_explain::{CamKind, ExplainMethod, ExplainRequest, Explainer, Stage};
use serde::Serialize;

use crate::error::{ServeError, UploadError};
use crate::ingest::{Upload, UploadInfo};

/// Opacity of the heat map over the image, as `medxfer explain`'s default.
const OVERLAY_ALPHA: f32 = 0.5;

pub struct Engine {
    explainer: Explainer,
    positive: Option<usize>,
}

/// The decision the run's own metrics were computed with.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub class: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// One class's ensemble probability (a list keeps the run's class order in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct ClassProbability {
    pub class: String,
    pub probability: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub probabilities: Vec<ClassProbability>,
    pub decision: Decision,
    /// Fold models averaged.
    pub models: usize,
    pub input: UploadInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overlay {
    pub method: &'static str,
    /// The class whose evidence the map shows: the decision.
    pub class: String,
    /// Heat map over the image at its original size, PNG, base64.
    pub png_base64: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedPrediction {
    #[serde(flatten)]
    pub prediction: Prediction,
    pub explanation: Overlay,
}

impl Engine {
    /// Loads the fold models of a finished classification run (those of `folds` only, when
    /// given).
    pub fn open(run_dir: &Path, folds: Option<&[usize]>) -> Result<Self, ServeError> {
        let explainer = Explainer::open_folds(run_dir, folds)?;
        let task_path = run_dir.join(medxfer_atomic::run_files::TASK);
        let task = TaskInfo::read_json(&task_path).map_err(|e| ServeError::RunFolder {
            path: task_path.clone(),
            message: e.to_string(),
        })?;
        let positive = task
            .positive_class
            .as_ref()
            .and_then(|p| explainer.class_names().iter().position(|c| c == p));
        Ok(Engine {
            explainer,
            positive,
        })
    }

    pub fn class_names(&self) -> &[String] {
        self.explainer.class_names()
    }

    pub fn num_models(&self) -> usize {
        self.explainer.num_models()
    }

    /// The run's decision rule in words, as in its metrics.json.
    pub fn decision_rule(&self) -> String {
        match self.positive {
            Some(p) if self.class_names().len() == 2 => format!(
                "{} if its probability >= {POSITIVE_THRESHOLD}",
                self.class_names()[p]
            ),
            _ => "class with the highest probability".into(),
        }
    }

    fn decision(&self, probabilities: &[f64]) -> Decision {
        let binary = self.positive.filter(|_| self.class_names().len() == 2);
        Decision {
            class: self.class_names()[decide_class(probabilities, binary)].clone(),
            rule: self.decision_rule(),
            positive_class: binary.map(|p| self.class_names()[p].clone()),
            threshold: binary.map(|_| POSITIVE_THRESHOLD),
        }
    }

    /// The ensemble's probabilities and the run's decision for an upload.
    pub fn predict(&self, upload: &Upload) -> Prediction {
        self.prediction(self.explainer.probabilities(&upload.image), &upload.info)
    }

    fn prediction(&self, probabilities: Vec<f64>, input: &UploadInfo) -> Prediction {
        Prediction {
            decision: self.decision(&probabilities),
            probabilities: self
                .class_names()
                .iter()
                .zip(&probabilities)
                .map(|(class, &probability)| ClassProbability {
                    class: class.clone(),
                    probability,
                })
                .collect(),
            models: self.num_models(),
            input: input.clone(),
        }
    }

    /// The prediction and the Grad-CAM (last stage) overlay of the decided class. The map is
    /// first made for the most probable class, with the probabilities from the same pass; only
    /// when the run's rule decides otherwise (a binary tie at the threshold) is it made again.
    pub fn explain(&self, upload: Upload) -> Result<ExplainedPrediction, UploadError> {
        let explain = |class: Option<String>| {
            let request = ExplainRequest {
                method: ExplainMethod::Cam(CamKind::GradCam),
                stage: Stage::Last,
                class,
            };
            self.explainer
                .explain_image(Path::new("upload"), upload.image.clone(), &request)
                .map_err(|e| UploadError::Model(e.to_string()))
        };
        let mut explanation = explain(None)?;
        let prediction = self.prediction(explanation.probabilities.clone(), &upload.info);
        if prediction.decision.class != explanation.class_name {
            explanation = explain(Some(prediction.decision.class.clone()))?;
        }
        let png = encode_png(&overlay(&explanation, OVERLAY_ALPHA))
            .map_err(|e| UploadError::Internal(format!("encoding the overlay: {e}")))?;
        Ok(ExplainedPrediction {
            explanation: Overlay {
                method: "gradcam",
                class: explanation.class_name,
                png_base64: base64::engine::general_purpose::STANDARD.encode(png),
            },
            prediction,
        })
    }
}

/// PNG at the fast compression level: an answer's overlay is read once by the page, and the
/// default level spends more time than the Grad-CAM itself on a 600 px image.
fn encode_png(picture: &image::RgbImage) -> Result<Vec<u8>, image::ImageError> {
    use image::ImageEncoder as _;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            picture.as_raw(),
            picture.width(),
            picture.height(),
            image::ExtendedColorType::Rgb8,
        )?;
    Ok(png)
}
