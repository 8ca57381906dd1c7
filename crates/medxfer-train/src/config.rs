//! The TOML run configuration: every choice is an enum, unknown keys are rejected, and the
//! resolved configuration (after `--set` overrides) is written into the run folder.

use std::path::{Path, PathBuf};

use medxfer_data::DatasetSource;
use medxfer_data::augment::AugmentConfig;
use medxfer_models::{BackboneKind, HeadConfig, Init};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::segmentation::config::{SegmentationConfig, TaskChoice};
pub use crate::split_config::SplitConfig;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed for splits, initialisation, shuffling, augmentation and dropout.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The run folder (checkpoints, predictions, metrics). Relative to the working directory.
    pub out_dir: PathBuf,
    /// `cpu` (burn's Flex backend) or `cuda:N` when built with the `cuda` feature.
    #[serde(default = "default_device")]
    pub device: String,
    /// What the run trains: `classification` (default) or `segmentation`.
    #[serde(default)]
    pub task: TaskChoice,
    pub data: DataConfig,
    #[serde(default)]
    pub split: SplitConfig,
    pub model: ModelConfig,
    pub train: OptimConfig,
    #[serde(default)]
    pub augment: AugmentConfig,
    /// Loss, decoder and mask settings of a segmentation run (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<SegmentationConfig>,
}

fn default_seed() -> u64 {
    42
}

fn default_device() -> String {
    "cpu".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub source: DatasetSource,
    /// Keep only these classes, in this order (e.g. `["benign", "malignant"]`). Empty = all.
    #[serde(default)]
    pub classes: Vec<String>,
    /// The positive class for binary metrics (AUC, sensitivity...). Required with two classes.
    #[serde(default)]
    pub positive: Option<String>,
    /// Square input size in pixels after pad-to-square and resize.
    #[serde(default = "default_image_size")]
    pub image_size: u32,
    /// Where decoded, resized images are cached between runs (`"none"` to disable).
    #[serde(
        default = "default_cache_dir",
        deserialize_with = "cache_dir_from_toml",
        serialize_with = "cache_dir_to_toml"
    )]
    pub cache_dir: Option<PathBuf>,
    /// Largest width x height a PNG/JPEG may declare; a larger one is an error naming the
    /// file, before any pixel memory is taken.
    #[serde(default = "default_max_image_pixels")]
    pub max_image_pixels: u64,
}

fn default_image_size() -> u32 {
    128
}

fn default_max_image_pixels() -> u64 {
    medxfer_data::decode::DecodeLimits::DEFAULT_MAX_PIXELS
}

impl DataConfig {
    /// Make every later decode in this process honour `max_image_pixels`.
    pub fn apply_decode_limits(&self) {
        medxfer_data::decode::set_decode_limits(medxfer_data::decode::DecodeLimits {
            max_pixels: self.max_image_pixels,
        });
    }
}

pub fn default_cache_dir() -> Option<PathBuf> {
    Some(PathBuf::from(".cache/images"))
}

/// The word that turns the image cache off (TOML has no null).
const NO_CACHE: &str = "none";

pub fn cache_dir_from_toml<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok((text != NO_CACHE).then(|| PathBuf::from(text)))
}

/// `"none"` for no cache, so the recorded `config.toml` reads back as the same setting (an
/// omitted key would read back as the default folder, and a resume would see another config).
pub fn cache_dir_to_toml<S: serde::Serializer>(
    dir: &Option<PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match dir {
        Some(dir) => dir.serialize(serializer),
        None => serializer.serialize_str(NO_CACHE),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub backbone: BackboneKind,
    /// `scratch`, `imagenet`, `file:PATH` (torchvision layout) or `ssl:PATH`.
    #[serde(default = "default_init")]
    pub init: Init,
    #[serde(default = "default_head")]
    pub head: HeadConfig,
    /// Input channels the network sees: 3 (luma replicated, ImageNet weights as they are) or 1
    /// (first convolution adapted by summing its RGB weights).
    #[serde(default = "default_channels")]
    pub in_channels: usize,
}

fn default_init() -> Init {
    Init::Scratch
}
fn default_head() -> HeadConfig {
    HeadConfig::Linear
}
fn default_channels() -> usize {
    3
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub strategy: Strategy,
    /// Epochs of the main phase (the unfrozen phase of `two_phase`).
    pub epochs: usize,
    /// Learning rate of the main phase.
    pub lr: f64,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub class_weights: ClassWeights,
    /// Stop a phase after this many epochs without a better validation score (0 = never).
    #[serde(default)]
    pub early_stopping_patience: usize,
    /// Where evaluation-mode batch-norm statistics come from.
    #[serde(default)]
    pub batch_norm_stats: BatchNormStats,
    /// Discriminative learning rates (timm's `layer_decay`): the head (a U-Net's decoder)
    /// learns at the phase's rate, the backbone stage nearest it at `layer_decay` times that,
    /// the next at `layer_decay`^2, and so on down to the stem. Unset: one rate for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_decay: Option<f64>,
}

/// The running statistics a model is validated, selected and saved with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchNormStats {
    /// The exponential moving average kept during training (each layer's own momentum).
    #[default]
    Running,
    /// Before every validation of an image phase, recompute them as the average over up to
    /// `images` unaugmented training images ("precise BN"); costs one forward pass over those
    /// images. Use it when the moving average trails the weights: training from scratch, or
    /// EfficientNet's slow TensorFlow momentum (0.01) over few steps.
    Precise { images: usize },
}

fn default_batch_size() -> usize {
    32
}

/// How much of the network learns, and in which phases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// Random initialisation, everything trains (requires `init = "scratch"`).
    Scratch,
    /// Backbone frozen; its features are computed once and the head trains on the cache.
    LinearProbe,
    /// The last `stages` backbone stages and the head train; earlier stages stay frozen.
    Partial { stages: usize },
    /// Everything trains from the pretrained initialisation.
    Full,
    /// Head alone first (`head_epochs` at `head_lr`, on cached features), then everything at
    /// the main `lr` for `epochs`.
    TwoPhase { head_epochs: usize, head_lr: f64 },
    /// ULMFiT's gradual unfreezing: the head alone first (as `two_phase`), then one more
    /// backbone stage from the top every `epochs_per_stage` epochs at the main `lr`, then
    /// everything for `epochs`. Each step is a phase with fresh optimizer state and its own
    /// schedule.
    GradualUnfreezing {
        head_epochs: usize,
        head_lr: f64,
        epochs_per_stage: usize,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    Adamw {
        #[serde(default = "default_weight_decay")]
        weight_decay: f64,
    },
    Sgd {
        #[serde(default = "default_momentum")]
        momentum: f64,
        #[serde(default = "default_weight_decay")]
        weight_decay: f64,
        #[serde(default)]
        nesterov: bool,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adamw {
            weight_decay: default_weight_decay(),
        }
    }
}

fn default_weight_decay() -> f64 {
    1e-4
}
fn default_momentum() -> f64 {
    0.9
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleConfig {
    Constant {
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Cosine decay from the phase's lr to 0 over the phase, after a linear warm-up.
    Cosine {
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Multiply the lr by `gamma` every `step_epochs`, after a linear warm-up.
    Step {
        step_epochs: usize,
        #[serde(default = "default_gamma")]
        gamma: f64,
        #[serde(default)]
        warmup_epochs: usize,
    },
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig::Cosine { warmup_epochs: 0 }
    }
}

impl ScheduleConfig {
    /// The `kind` as written in TOML.
    pub fn name(&self) -> &'static str {
        match self {
            ScheduleConfig::Constant { .. } => "constant",
            ScheduleConfig::Cosine { .. } => "cosine",
            ScheduleConfig::Step { .. } => "step",
        }
    }
}

fn default_gamma() -> f64 {
    0.1
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    /// `n / (k * n_c)`, as scikit-learn's `class_weight="balanced"`.
    #[default]
    Balanced,
    None,
}

impl TrainConfig {
    /// Read a TOML file, apply `key=value` overrides (dotted keys, TOML values; bare words
    /// are strings), deserialize and validate. Errors name the file and the key.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, TrainError> {
        load_toml_file(path, overrides, Self::from_toml_str)
    }

    pub fn from_toml_str(text: &str, overrides: &[String]) -> Result<Self, String> {
        let config: TrainConfig = parse_with_overrides(text, overrides)?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    pub fn to_toml_string(&self) -> String {
        // Serialising a plain data struct cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let t = &self.train;
        if t.batch_size == 0 {
            return Err(TrainError::invalid(
                "train.batch_size",
                "must be at least 1",
            ));
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(TrainError::invalid("train.lr", "must be a positive number"));
        }
        if let Some(segmentation) = &self.segmentation {
            if self.task != TaskChoice::Segmentation {
                return Err(TrainError::invalid(
                    "segmentation",
                    "a [segmentation] table needs task = \"segmentation\"",
                ));
            }
            segmentation.validate()?;
        }
        if self.data.max_image_pixels == 0 {
            return Err(TrainError::invalid(
                "data.max_image_pixels",
                "must be at least 1",
            ));
        }
        if t.epochs == 0 && !matches!(t.strategy, Strategy::TwoPhase { .. }) {
            return Err(TrainError::invalid("train.epochs", "must be at least 1"));
        }
        if t.batch_norm_stats == (BatchNormStats::Precise { images: 0 }) {
            return Err(TrainError::invalid(
                "train.batch_norm_stats.images",
                "must be at least 1",
            ));
        }
        self.validate_strategy()?;
        if !matches!(self.model.in_channels, 1 | 3) {
            return Err(TrainError::invalid("model.in_channels", "must be 1 or 3"));
        }
        if self.data.image_size < 16 {
            return Err(TrainError::invalid(
                "data.image_size",
                "must be at least 16",
            ));
        }
        self.split.validate()?;
        if let ScheduleConfig::Step { step_epochs: 0, .. } = t.schedule {
            return Err(TrainError::invalid(
                "train.schedule.step_epochs",
                "must be at least 1",
            ));
        }
        self.device()?;
        Ok(())
    }

    /// The strategy against the initialisation it needs.
    fn validate_strategy(&self) -> Result<(), TrainError> {
        match &self.train.strategy {
            Strategy::Scratch if self.model.init != Init::Scratch => {
                return Err(TrainError::invalid(
                    "model.init",
                    "strategy `scratch` trains from random weights: set init = \"scratch\" or choose strategy `full`",
                ));
            }
            Strategy::LinearProbe
            | Strategy::Partial { .. }
            | Strategy::TwoPhase { .. }
            | Strategy::GradualUnfreezing { .. }
                if self.model.init == Init::Scratch =>
            {
                return Err(TrainError::invalid(
                    "model.init",
                    "freezing a randomly initialised backbone is meaningless: choose pretrained weights (imagenet, file:, ssl:) or strategy `scratch`",
                ));
            }
            Strategy::Partial { stages } if *stages == 0 => {
                return Err(TrainError::invalid(
                    "train.strategy.stages",
                    "must be at least 1 (use linear_probe to freeze the whole backbone)",
                ));
            }
            Strategy::TwoPhase { head_lr, .. } | Strategy::GradualUnfreezing { head_lr, .. }
                if !(*head_lr > 0.0 && head_lr.is_finite()) =>
            {
                return Err(TrainError::invalid(
                    "train.strategy.head_lr",
                    "must be a positive number",
                ));
            }
            Strategy::GradualUnfreezing {
                epochs_per_stage: 0,
                ..
            } => {
                return Err(TrainError::invalid(
                    "train.strategy.epochs_per_stage",
                    "must be at least 1 (use two_phase to unfreeze everything at once)",
                ));
            }
            _ => {}
        }
        self.validate_layer_decay()
    }

    fn validate_layer_decay(&self) -> Result<(), TrainError> {
        let Some(decay) = self.train.layer_decay else {
            return Ok(());
        };
        if !(decay > 0.0 && decay <= 1.0) {
            return Err(TrainError::invalid(
                "train.layer_decay",
                "must be in (0, 1]: each stage nearer the stem learns at this fraction of the rate of the one above it",
            ));
        }
        if self.train.strategy == Strategy::LinearProbe {
            return Err(TrainError::invalid(
                "train.layer_decay",
                "has no effect with strategy `linear_probe` (no backbone stage learns)",
            ));
        }
        Ok(())
    }

    /// The backbone stages (stem first) the task's model runs and can unfreeze: all of a
    /// classifier's; a U-Net encoder's up to its deepest skip.
    pub fn trained_stage_names(&self) -> &'static [&'static str] {
        let spec = medxfer_models::spec(self.model.backbone);
        match self.task {
            TaskChoice::Classification => spec.stage_names,
            TaskChoice::Segmentation => spec.encoder_stage_names(),
        }
    }

    /// The parsed `device` setting.
    pub fn device(&self) -> Result<DeviceChoice, TrainError> {
        DeviceChoice::parse(&self.device)
    }
}

/// Read a TOML config file through `parse`, naming the file in any error.
pub fn load_toml_file<T>(
    path: &Path,
    overrides: &[String],
    parse: impl FnOnce(&str, &[String]) -> Result<T, String>,
) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    parse(&text, overrides).map_err(|message| TrainError::Config {
        path: path.to_path_buf(),
        message,
    })
}

/// Parse TOML, apply `key=value` overrides, deserialize (unknown keys are errors); one-line
/// messages.
pub fn parse_with_overrides<T: serde::de::DeserializeOwned>(
    text: &str,
    overrides: &[String],
) -> Result<T, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
    for item in overrides {
        apply_override(&mut table, item)?;
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| one_line(&e.to_string()))
}

/// Where the tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
}

impl DeviceChoice {
    pub fn parse(text: &str) -> Result<Self, TrainError> {
        if text == "cpu" {
            return Ok(DeviceChoice::Cpu);
        }
        if let Some(index) = text.strip_prefix("cuda:") {
            let index = index
                .parse()
                .map_err(|_| TrainError::invalid("device", format!("`{text}`: expected cuda:N")))?;
            return Ok(DeviceChoice::Cuda(index));
        }
        Err(TrainError::invalid(
            "device",
            format!("`{text}`: expected `cpu` or `cuda:N`"),
        ))
    }
}

/// Set `a.b.c = value` in a TOML table, creating intermediate tables.
pub(crate) fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), String> {
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| format!("--set `{item}`: expected key=value"))?;
    let key = key.trim();
    let raw = raw.trim();
    // Parse the value as TOML (numbers, booleans, arrays, inline tables); a bare word is a string.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("--set `{item}`: empty key segment"));
    }
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("--set `{item}`: `{part}` is not a table"))?;
    }
    current.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// A multi-line parser message (TOML errors draw the offending line and a caret) as one line.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
out_dir = "runs/x"
[data]
source = { kind = "folder", root = "data" }
classes = ["benign", "malignant"]
positive = "malignant"
[model]
backbone = "resnet18"
[train]
strategy = { kind = "scratch" }
epochs = 2
lr = 1e-3
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let config = TrainConfig::from_toml_str(MINIMAL, &[]).unwrap();
        assert_eq!(config.seed, 42);
        assert_eq!(config.train.batch_size, 32);
        assert_eq!(config.split, SplitConfig::default());
        assert_eq!(config.model.init, Init::Scratch);
    }

    #[test]
    fn cache_dir_none_turns_the_cache_off_and_reads_back_so() {
        let default = TrainConfig::from_toml_str(MINIMAL, &[]).unwrap();
        assert_eq!(default.data.cache_dir, Some(PathBuf::from(".cache/images")));
        let off = TrainConfig::from_toml_str(MINIMAL, &["data.cache_dir=none".into()]).unwrap();
        assert_eq!(off.data.cache_dir, None);
        let recorded = TrainConfig::from_toml_str(&off.to_toml_string(), &[]).unwrap();
        assert_eq!(recorded, off);
        let elsewhere =
            TrainConfig::from_toml_str(MINIMAL, &["data.cache_dir=/tmp/c".into()]).unwrap();
        assert_eq!(elsewhere.data.cache_dir, Some(PathBuf::from("/tmp/c")));
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let text = MINIMAL.replace("epochs = 2", "epochs = 2\nepochz = 3");
        let err = TrainConfig::from_toml_str(&text, &[]).unwrap_err();
        assert!(err.contains("epochz"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn overrides_replace_nested_values() {
        let config = TrainConfig::from_toml_str(
            MINIMAL,
            &[
                "train.epochs=7".into(),
                "seed=3".into(),
                "train.optimizer={kind=\"sgd\", momentum=0.8}".into(),
                "out_dir=runs/other".into(),
            ],
        )
        .unwrap();
        assert_eq!(config.train.epochs, 7);
        assert_eq!(config.seed, 3);
        assert_eq!(config.out_dir, PathBuf::from("runs/other"));
        assert!(matches!(
            config.train.optimizer,
            OptimizerConfig::Sgd { momentum, .. } if (momentum - 0.8).abs() < 1e-12
        ));
    }

    #[test]
    fn scratch_strategy_with_pretrained_init_is_rejected() {
        let err = TrainConfig::from_toml_str(MINIMAL, &["model.init=imagenet".into()]).unwrap_err();
        assert!(err.contains("model.init"), "{err}");
    }

    #[test]
    fn resolved_config_round_trips() {
        let config = TrainConfig::from_toml_str(MINIMAL, &[]).unwrap();
        let again = TrainConfig::from_toml_str(&config.to_toml_string(), &[]).unwrap();
        assert_eq!(config, again);
    }

    #[test]
    fn batch_norm_statistics_default_to_running_and_precise_needs_images() {
        let config = TrainConfig::from_toml_str(MINIMAL, &[]).unwrap();
        assert_eq!(config.train.batch_norm_stats, BatchNormStats::Running);
        let precise = |images: usize| {
            TrainConfig::from_toml_str(
                MINIMAL,
                &[format!(
                    "train.batch_norm_stats={{kind=\"precise\",images={images}}}"
                )],
            )
        };
        assert_eq!(
            precise(200).unwrap().train.batch_norm_stats,
            BatchNormStats::Precise { images: 200 }
        );
        let err = precise(0).unwrap_err();
        assert!(err.contains("train.batch_norm_stats.images"), "{err}");
    }

    #[test]
    fn bad_device_is_rejected() {
        let err = TrainConfig::from_toml_str(MINIMAL, &["device=gpu".into()]).unwrap_err();
        assert!(err.contains("device"), "{err}");
    }
}

impl crate::run_folder::RunConfig for TrainConfig {
    fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    fn to_toml_string(&self) -> String {
        TrainConfig::to_toml_string(self)
    }

    fn load_recorded(path: &Path) -> Result<Self, TrainError> {
        TrainConfig::load(path, &[])
    }
}
