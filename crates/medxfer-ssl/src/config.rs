//! The TOML configuration of a pretraining run. Defaults are paper 003's (section 5.2):
//! ResNet-18 with a 1-channel stem, 64 x 64 views cut from 110 x 110 images, batch 64, Adam at
//! lr 0.014 with weight decay 1e-6, 100 epochs, temperature 0.07, MoCo momentum 0.999 with a
//! 16,384-key queue, BYOL momentum 0.99, 80:20 train/validation split of the unlabelled pool.

use std::path::{Path, PathBuf};

use medxfer_data::DatasetSource;
use medxfer_models::{BackboneKind, Init};
use serde::{Deserialize, Serialize};

use crate::SslError;
use crate::views::ViewConfig;
use medxfer_train::config::{DeviceChoice, ScheduleConfig, load_toml_file, parse_with_overrides};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// Seed for the pool split, initialisation, shuffling and every random view.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The run folder: checkpoints, curves, plots and the encoder.
    pub out_dir: PathBuf,
    /// `cpu` or `cuda:N` (with the `cuda` feature).
    #[serde(default = "default_device")]
    pub device: String,
    pub method: MethodConfig,
    /// One or more unlabelled sources, mixed by weight (`[[sources]]` tables).
    pub sources: Vec<SourceConfig>,
    /// Images a later evaluation tests on, to keep out of pretraining.
    #[serde(default)]
    pub exclude: Option<ExcludeConfig>,
    #[serde(default)]
    pub model: EncoderConfig,
    #[serde(default)]
    pub train: SslTrainConfig,
    #[serde(default)]
    pub views: ViewConfig,
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// Where decoded, resized images are cached between runs (`"none"` to disable).
    #[serde(
        default = "medxfer_train::config::default_cache_dir",
        deserialize_with = "medxfer_train::config::cache_dir_from_toml",
        serialize_with = "medxfer_train::config::cache_dir_to_toml"
    )]
    pub cache_dir: Option<PathBuf>,
}

fn default_seed() -> u64 {
    42
}
fn default_device() -> String {
    "cpu".into()
}

/// The self-supervised objective and its own hyperparameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MethodConfig {
    /// NT-Xent over the 2N views of a batch, 2-layer MLP projection head with batch norm.
    Simclr {
        #[serde(default = "default_temperature")]
        temperature: f64,
        #[serde(default = "default_projection_hidden")]
        projection_hidden: usize,
        #[serde(default = "default_projection_dim")]
        projection_dim: usize,
    },
    /// InfoNCE against a queue of keys from a momentum encoder (MoCo v2: MLP head).
    Moco {
        #[serde(default = "default_temperature")]
        temperature: f64,
        #[serde(default = "default_moco_momentum")]
        momentum: f64,
        /// Keys kept as negatives; clamped below the training pool size (see `moco.rs`).
        #[serde(default = "default_queue_size")]
        queue_size: usize,
        #[serde(default = "default_projection_hidden")]
        projection_hidden: usize,
        #[serde(default = "default_projection_dim")]
        projection_dim: usize,
        /// Shuffled-BN equivalent on one device: the key batch is permuted and normalised in
        /// this many separate groups (1 disables it).
        #[serde(default = "default_shuffle_bn_groups")]
        shuffle_bn_groups: usize,
    },
    /// Online network (projector + predictor) regressing an EMA target network's projection.
    Byol {
        #[serde(default = "default_byol_momentum")]
        momentum: f64,
        #[serde(default = "default_byol_hidden")]
        projection_hidden: usize,
        #[serde(default = "default_byol_dim")]
        projection_dim: usize,
        #[serde(default = "default_byol_hidden")]
        predictor_hidden: usize,
    },
}

fn default_temperature() -> f64 {
    0.07
}
fn default_projection_hidden() -> usize {
    512
}
fn default_projection_dim() -> usize {
    128
}
fn default_moco_momentum() -> f64 {
    0.999
}
fn default_queue_size() -> usize {
    16_384
}
fn default_shuffle_bn_groups() -> usize {
    2
}
fn default_byol_momentum() -> f64 {
    0.99
}
fn default_byol_hidden() -> usize {
    4096
}
fn default_byol_dim() -> usize {
    256
}

impl MethodConfig {
    pub fn name(&self) -> &'static str {
        match self {
            MethodConfig::Simclr { .. } => "simclr",
            MethodConfig::Moco { .. } => "moco",
            MethodConfig::Byol { .. } => "byol",
        }
    }

    /// The network that follows the trained one by an exponential moving average, and its
    /// momentum: MoCo's key encoder, BYOL's target network; SimCLR has none.
    pub fn moving_average_target(&self) -> Option<(&'static str, f64)> {
        match self {
            MethodConfig::Simclr { .. } => None,
            MethodConfig::Moco { momentum, .. } => Some(("key encoder", *momentum)),
            MethodConfig::Byol { momentum, .. } => Some(("target network", *momentum)),
        }
    }
}

/// One unlabelled source. Labels, when the source has them, are only used to colour the t-SNE
/// plot; they never reach the loss.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Short name used in logs and plots (e.g. `busi`, `pneumonia`).
    pub name: String,
    pub source: DatasetSource,
    /// Relative share of each epoch's draws (sources are re-sampled to reach their share).
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

/// The evaluation that will test on some of these images: the same config file (and `--set`
/// overrides) `medxfer train` is given, and the fold whose test images must stay unseen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExcludeConfig {
    pub train_config: PathBuf,
    #[serde(default)]
    pub train_overrides: Vec<String>,
    /// Fold index (0 for holdout and predefined splits).
    pub fold: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    #[serde(default = "default_backbone")]
    pub backbone: BackboneKind,
    /// The paper's stem takes one grayscale channel.
    #[serde(default = "default_in_channels")]
    pub in_channels: usize,
    /// Where the encoder starts: `"scratch"` (the paper's choice), or continued pretraining
    /// of `"imagenet"` / `"file:PATH"` / `"ssl:PATH"` weights on the pool (domain-adaptive
    /// pretraining). Left out of a saved config when scratch, so older runs resume unchanged.
    #[serde(default = "default_init", skip_serializing_if = "is_scratch")]
    pub init: Init,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            backbone: default_backbone(),
            in_channels: default_in_channels(),
            init: default_init(),
        }
    }
}

fn default_backbone() -> BackboneKind {
    BackboneKind::Resnet18
}
fn default_in_channels() -> usize {
    1
}
fn default_init() -> Init {
    Init::Scratch
}
fn is_scratch(init: &Init) -> bool {
    *init == Init::Scratch
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SslTrainConfig {
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Adam learning rate (0.014: the paper's average of the three methods' scaled rates).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// L2 penalty added to the gradient, as PyTorch's `Adam(weight_decay=...)`.
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    #[serde(default = "default_schedule")]
    pub schedule: ScheduleConfig,
    /// Share of each source held out to report a validation loss.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// Views drawn per epoch; default: the size of the training pool.
    #[serde(default)]
    pub samples_per_epoch: Option<usize>,
}

impl Default for SslTrainConfig {
    fn default() -> Self {
        SslTrainConfig {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            lr: default_lr(),
            weight_decay: default_weight_decay(),
            schedule: default_schedule(),
            val_fraction: default_val_fraction(),
            samples_per_epoch: None,
        }
    }
}

fn default_epochs() -> usize {
    100
}
fn default_batch_size() -> usize {
    64
}
fn default_lr() -> f64 {
    0.014
}
fn default_weight_decay() -> f64 {
    1e-6
}
fn default_schedule() -> ScheduleConfig {
    ScheduleConfig::Constant { warmup_epochs: 0 }
}
fn default_val_fraction() -> f64 {
    0.2
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Below this spread of the normalised projections (1 = isotropic, 0 = one point) an epoch
    /// counts as collapsed.
    #[serde(default = "default_collapse_threshold")]
    pub collapse_threshold: f64,
    /// End with an error when the final encoder is collapsed (the checkpoint is still written).
    #[serde(default = "default_true")]
    pub fail_on_collapse: bool,
    /// Draw the t-SNE plot of the final embeddings.
    #[serde(default = "default_true")]
    pub tsne: bool,
    #[serde(default = "default_tsne_max_points")]
    pub tsne_max_points: usize,
    #[serde(default = "default_perplexity")]
    pub tsne_perplexity: f64,
    #[serde(default = "default_tsne_iterations")]
    pub tsne_iterations: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            collapse_threshold: default_collapse_threshold(),
            fail_on_collapse: true,
            tsne: true,
            tsne_max_points: default_tsne_max_points(),
            tsne_perplexity: default_perplexity(),
            tsne_iterations: default_tsne_iterations(),
        }
    }
}

fn default_collapse_threshold() -> f64 {
    0.05
}
fn default_true() -> bool {
    true
}
fn default_tsne_max_points() -> usize {
    2000
}
fn default_perplexity() -> f64 {
    30.0
}
fn default_tsne_iterations() -> usize {
    1000
}

impl PretrainConfig {
    /// Read a TOML file and apply `key=value` overrides; errors name the file and the key.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, SslError> {
        Ok(load_toml_file(path, overrides, Self::from_toml_str)?)
    }

    pub fn from_toml_str(text: &str, overrides: &[String]) -> Result<Self, String> {
        let config: PretrainConfig = parse_with_overrides(text, overrides)?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn device(&self) -> Result<DeviceChoice, SslError> {
        Ok(DeviceChoice::parse(&self.device)?)
    }

    pub fn validate(&self) -> Result<(), SslError> {
        self.validate_sources()?;
        if !matches!(self.model.in_channels, 1 | 3) {
            return Err(SslError::invalid("model.in_channels", "must be 1 or 3"));
        }
        validate_train(&self.train)?;
        self.views.validate()?;
        validate_method(&self.method)?;
        validate_monitor(&self.monitor)?;
        self.device()?;
        Ok(())
    }

    fn validate_sources(&self) -> Result<(), SslError> {
        if self.sources.is_empty() {
            return Err(SslError::invalid(
                "sources",
                "name at least one [[sources]] table",
            ));
        }
        for (i, source) in self.sources.iter().enumerate() {
            if !(source.weight > 0.0 && source.weight.is_finite()) {
                return Err(SslError::invalid(
                    &format!("sources[{i}].weight"),
                    "must be a positive number",
                ));
            }
            if self.sources[..i].iter().any(|s| s.name == source.name) {
                return Err(SslError::invalid(
                    &format!("sources[{i}].name"),
                    format!("`{}` is used twice", source.name),
                ));
            }
        }
        Ok(())
    }
}

fn validate_train(t: &SslTrainConfig) -> Result<(), SslError> {
    if t.epochs == 0 {
        return Err(SslError::invalid("train.epochs", "must be at least 1"));
    }
    if t.batch_size < 2 {
        return Err(SslError::invalid(
            "train.batch_size",
            "must be at least 2 (views are contrasted within a batch)",
        ));
    }
    if !(t.lr > 0.0 && t.lr.is_finite()) {
        return Err(SslError::invalid("train.lr", "must be a positive number"));
    }
    if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
        return Err(SslError::invalid(
            "train.weight_decay",
            "must be zero or positive",
        ));
    }
    if !(t.val_fraction > 0.0 && t.val_fraction < 0.9) {
        return Err(SslError::invalid(
            "train.val_fraction",
            "must be in (0, 0.9)",
        ));
    }
    if let ScheduleConfig::Step { step_epochs: 0, .. } = t.schedule {
        return Err(SslError::invalid(
            "train.schedule.step_epochs",
            "must be at least 1",
        ));
    }
    if t.samples_per_epoch == Some(0) {
        return Err(SslError::invalid(
            "train.samples_per_epoch",
            "must be at least 1",
        ));
    }
    Ok(())
}

fn validate_method(method: &MethodConfig) -> Result<(), SslError> {
    match *method {
        MethodConfig::Simclr {
            temperature,
            projection_hidden,
            projection_dim,
        } => {
            check_temperature(temperature)?;
            check_width("method.projection_hidden", projection_hidden)?;
            check_width("method.projection_dim", projection_dim)?;
        }
        MethodConfig::Moco {
            temperature,
            momentum,
            queue_size,
            projection_hidden,
            projection_dim,
            shuffle_bn_groups,
        } => {
            check_temperature(temperature)?;
            check_momentum(momentum)?;
            check_width("method.projection_hidden", projection_hidden)?;
            check_width("method.projection_dim", projection_dim)?;
            if queue_size == 0 {
                return Err(SslError::invalid("method.queue_size", "must be at least 1"));
            }
            if shuffle_bn_groups == 0 {
                return Err(SslError::invalid(
                    "method.shuffle_bn_groups",
                    "must be at least 1",
                ));
            }
        }
        MethodConfig::Byol {
            momentum,
            projection_hidden,
            projection_dim,
            predictor_hidden,
        } => {
            check_momentum(momentum)?;
            check_width("method.projection_hidden", projection_hidden)?;
            check_width("method.projection_dim", projection_dim)?;
            check_width("method.predictor_hidden", predictor_hidden)?;
        }
    }
    Ok(())
}

fn validate_monitor(m: &MonitorConfig) -> Result<(), SslError> {
    if !(m.collapse_threshold >= 0.0 && m.collapse_threshold < 1.0) {
        return Err(SslError::invalid(
            "monitor.collapse_threshold",
            "must be in [0, 1)",
        ));
    }
    if !(m.tsne_perplexity >= 2.0 && m.tsne_perplexity.is_finite()) {
        return Err(SslError::invalid(
            "monitor.tsne_perplexity",
            "must be at least 2",
        ));
    }
    if m.tsne_iterations < 250 {
        return Err(SslError::invalid(
            "monitor.tsne_iterations",
            "must be at least 250 (the early-exaggeration phase)",
        ));
    }
    Ok(())
}

fn check_temperature(t: f64) -> Result<(), SslError> {
    if t > 0.0 && t.is_finite() {
        Ok(())
    } else {
        Err(SslError::invalid(
            "method.temperature",
            "must be a positive number",
        ))
    }
}

fn check_momentum(m: f64) -> Result<(), SslError> {
    if (0.0..1.0).contains(&m) {
        Ok(())
    } else {
        Err(SslError::invalid("method.momentum", "must be in [0, 1)"))
    }
}

fn check_width(key: &str, width: usize) -> Result<(), SslError> {
    if width > 0 {
        Ok(())
    } else {
        Err(SslError::invalid(key, "must be at least 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
out_dir = "runs/ssl"
method = { kind = "byol" }
[[sources]]
name = "busi"
source = { kind = "folder", root = "data/busi" }
"#;

    #[test]
    fn defaults_are_the_papers() {
        let c = PretrainConfig::from_toml_str(MINIMAL, &[]).unwrap();
        assert_eq!(c.model.backbone, BackboneKind::Resnet18);
        assert_eq!(c.model.in_channels, 1);
        assert_eq!((c.train.epochs, c.train.batch_size), (100, 64));
        assert_eq!(
            (c.train.lr, c.train.weight_decay, c.train.val_fraction),
            (0.014, 1e-6, 0.2)
        );
        assert_eq!((c.views.resize, c.views.crop), (110, 64));
        assert_eq!(
            c.method,
            MethodConfig::Byol {
                momentum: 0.99,
                projection_hidden: 4096,
                projection_dim: 256,
                predictor_hidden: 4096
            }
        );
        let moco =
            PretrainConfig::from_toml_str(MINIMAL, &["method={kind=\"moco\"}".into()]).unwrap();
        match moco.method {
            MethodConfig::Moco {
                temperature,
                momentum,
                queue_size,
                ..
            } => assert_eq!((temperature, momentum, queue_size), (0.07, 0.999, 16_384)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = PretrainConfig::from_toml_str(MINIMAL, &["train.epoch=3".into()]).unwrap_err();
        assert!(err.contains("epoch"), "{err}");
        let err =
            PretrainConfig::from_toml_str(MINIMAL, &["method.temperature=0.1".into()]).unwrap_err();
        assert!(err.contains("temperature"), "{err}");
        let err =
            PretrainConfig::from_toml_str(MINIMAL, &["train.batch_size=1".into()]).unwrap_err();
        assert!(err.contains("train.batch_size"), "{err}");
        let err = PretrainConfig::from_toml_str(MINIMAL, &["views.crop=200".into()]).unwrap_err();
        assert!(err.contains("views.crop"), "{err}");
    }

    #[test]
    fn round_trips_through_toml() {
        let c = PretrainConfig::from_toml_str(MINIMAL, &["seed=3".into()]).unwrap();
        let again = PretrainConfig::from_toml_str(&c.to_toml_string(), &[]).unwrap();
        assert_eq!(c, again);
    }
}

impl medxfer_train::run_folder::RunConfig for PretrainConfig {
    fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    fn to_toml_string(&self) -> String {
        PretrainConfig::to_toml_string(self)
    }

    fn load_recorded(path: &Path) -> Result<Self, medxfer_train::TrainError> {
        Ok(PretrainConfig::load(path, &[])?)
    }
}
