//! The per-channel mean / std a run normalises its inputs with: the backbone's own (ImageNet)
//! statistics, or, when the model starts from a medxfer SSL encoder, the normalisation that
//! encoder was pretrained with (from the `encoder.json` beside it).

use std::path::Path;

use medxfer_atomic::run_files::NORMALISATION;
use medxfer_events::Reporter;
use medxfer_models::{Init, spec};
use serde::{Deserialize, Serialize};

use crate::TrainConfig;
use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::encoder_file::{read_info, sidecar_path};

/// Mean and std per input channel, and where they came from. A run writes it to
/// `input.json` so `medxfer predict` normalises exactly as training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub source: String,
}

/// The normalisation for `config`, checking every fold's `ssl:` encoder (with `{fold}`
/// substituted) exists, is the configured backbone, and agrees with the other folds.
pub fn input_normalisation(
    config: &TrainConfig,
    folds: &[usize],
    events: &dyn Reporter,
) -> Result<Normalisation, TrainError> {
    let channels = config.model.in_channels;
    let mut chosen: Option<Normalisation> = None;
    for &fold in folds {
        let Init::Ssl(path) = config.model.init.for_fold(fold) else {
            break;
        };
        if !path.exists() {
            return Err(TrainError::Config {
                path,
                message: format!("model.init: no such SSL encoder file (fold {fold})"),
            });
        }
        let Some(found) = encoder_normalisation(&path, config, channels, events)? else {
            continue;
        };
        match &chosen {
            Some(first)
                if (first.mean.as_slice(), first.std.as_slice())
                    != (found.mean.as_slice(), found.std.as_slice()) =>
            {
                return Err(TrainError::Config {
                    path,
                    message: format!(
                        "model.init: this encoder was pretrained with mean {:?} / std {:?}, but {} with mean {:?} / std {:?}; the folds must share one input normalisation",
                        found.mean, found.std, first.source, first.mean, first.std
                    ),
                });
            }
            Some(_) => {}
            None => chosen = Some(found),
        }
    }
    Ok(chosen.unwrap_or_else(|| backbone_normalisation(config)))
}

impl Normalisation {
    pub const FILE: &'static str = NORMALISATION;

    pub fn write(&self, run_dir: &Path) -> Result<(), TrainError> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| TrainError::Other(e.to_string()))?;
        write_atomic(&run_dir.join(Self::FILE), text.as_bytes())
    }

    /// The run's recorded normalisation; runs from before `input.json` used the backbone's.
    pub fn read(run_dir: &Path, config: &TrainConfig) -> Result<Self, TrainError> {
        let path = run_dir.join(Self::FILE);
        if !path.exists() {
            return Ok(backbone_normalisation(config));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path,
            message: format!("not a medxfer input normalisation: {e}"),
        })
    }
}

/// The backbone's statistics; a 1-channel input takes their mean over RGB.
fn backbone_normalisation(config: &TrainConfig) -> Normalisation {
    let backbone = spec(config.model.backbone);
    let (mean, std) = fit_channels(
        backbone.mean.to_vec(),
        backbone.std.to_vec(),
        config.model.in_channels,
    );
    Normalisation {
        mean,
        std,
        source: format!("{} defaults", config.model.backbone),
    }
}

/// What the encoder's sidecar says, fitted to `channels`; `None` without a sidecar.
fn encoder_normalisation(
    path: &Path,
    config: &TrainConfig,
    channels: usize,
    events: &dyn Reporter,
) -> Result<Option<Normalisation>, TrainError> {
    if !sidecar_path(path).exists() {
        return Ok(None);
    }
    let info = read_info(path)?;
    if info.backbone != config.model.backbone {
        return Err(TrainError::Config {
            path: path.to_path_buf(),
            message: format!(
                "model.init: this is a {} encoder but model.backbone is {}",
                info.backbone, config.model.backbone
            ),
        });
    }
    if info.excluded_test_images == 0 {
        events.warn(format!(
            "{} was pretrained without excluding any evaluation test images; if it saw this run's test images, its results are optimistic (see `exclude` in the pretraining config)",
            path.display()
        ));
    }
    if info.input_size != config.data.image_size {
        events.note(format!(
            "note: {} was pretrained on {} px images; this run uses {} px",
            path.display(),
            info.input_size,
            config.data.image_size
        ));
    }
    let (mean, std) = fit_channels(info.mean, info.std, channels);
    Ok(Some(Normalisation {
        mean,
        std,
        source: sidecar_path(path).display().to_string(),
    }))
}

/// Per-channel statistics for `channels` inputs: one value repeats, three average to one.
fn fit_channels(mean: Vec<f32>, std: Vec<f32>, channels: usize) -> (Vec<f32>, Vec<f32>) {
    let fit = |values: Vec<f32>| match (values.len(), channels) {
        (n, c) if n == c => values,
        (1, c) => vec![values[0]; c],
        (n, 1) => vec![values.iter().sum::<f32>() / n as f32],
        _ => values,
    };
    (fit(mean), fit(std))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_fit_the_input_channels() {
        assert_eq!(
            fit_channels(vec![0.5], vec![0.5], 3),
            (vec![0.5; 3], vec![0.5; 3])
        );
        let (mean, std) = fit_channels(vec![0.1, 0.2, 0.3], vec![0.3, 0.3, 0.6], 1);
        assert!((mean[0] - 0.2).abs() < 1e-6 && (std[0] - 0.4).abs() < 1e-6);
        assert_eq!(
            fit_channels(vec![0.1, 0.2, 0.3], vec![1.0; 3], 3).0,
            vec![0.1, 0.2, 0.3]
        );
    }
}
