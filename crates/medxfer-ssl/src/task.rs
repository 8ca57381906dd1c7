//! Pretraining as a task of the run engine (`medxfer_train::engine`): one phase of two-view
//! steps over the pool, the validation loss on held-out views, the spread of the training
//! projections watched for collapse, the last epoch kept (a lower validation loss is no model
//! choice for an encoder), and the encoder file, curves and t-SNE plot as the fold's output.
//!
//! The engine owns the epochs, checkpoints, resume and continuation; the seed streams here are
//! pretraining's own (functions of the run seed, epoch and batch index), so pretraining draws
//! the same views and shuffles as it always has.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use medxfer_events::Reporter;
use medxfer_train::TrainError;
use medxfer_train::batches::mix_seed;
use medxfer_train::checkpoint::CurveRow;
use medxfer_train::engine::{FoldTask, Selection, Step, StepResult, TrainedEpoch, Validation};
use medxfer_train::fold::FoldIndices;
use medxfer_train::run::CODE_VERSION;
use medxfer_train::strategy::Phase;

use crate::config::PretrainConfig;
use crate::curves::{SslCurveRow, write_curves};
use crate::embed::EncoderInput;
use crate::encoder_file::{ENCODER_FORMAT, EncoderInfo, write_encoder};
use crate::exclusion::TestImages;
use crate::method::SslMethod;
use crate::pool::{Pool, batches};
use crate::tsne::plot_tsne;
use crate::views::view_batch;

const SHUFFLE_STREAM: u64 = 0x55_5AFF;
const VIEW_STREAM: u64 = 0x55_A6;
const VAL_STREAM: u64 = 0x55_7A1;
const STEP_STREAM: u64 = 0x55_57E9;

/// The one curve column: the epoch's mean spread of the normalised training projections.
pub const SPREAD: &str = "spread";

/// A method's whole state, as the engine hands models around.
pub struct SslModel(pub Box<dyn SslMethod>);

impl Clone for SslModel {
    fn clone(&self) -> Self {
        SslModel(self.0.boxed_clone())
    }
}

/// What pretraining runs on.
pub struct Pretraining<'a> {
    pub config: &'a PretrainConfig,
    pub pool: &'a Pool,
    /// The freshly initialised method (built once: building it may note a clamped queue).
    pub initial: SslModel,
    pub batch_size: usize,
    /// Images drawn per epoch.
    pub draws: usize,
    /// The training (autodiff) device, and the plain one validation and embeddings run on.
    pub device: Device,
    pub plain: Device,
    pub excluded_from: Option<&'a TestImages>,
    pub events: &'a dyn Reporter,
}

impl Pretraining<'_> {
    /// The single phase of a pretraining run.
    pub fn phase(&self) -> Phase {
        Phase {
            name: "pretrain".into(),
            epochs: self.config.train.epochs,
            lr: self.config.train.lr,
            trainable: medxfer_train::strategy::Trainable::All,
            on_cached_features: false,
        }
    }

    pub fn encoder_path(out_dir: &Path) -> PathBuf {
        out_dir.join(medxfer_atomic::run_files::ENCODER)
    }

    fn input(&self) -> EncoderInput {
        let config = self.config;
        EncoderInput {
            size: config.views.crop,
            channels: config.model.in_channels,
            mean: vec![config.views.mean],
            std: vec![config.views.std],
        }
    }

    /// Two views of each of `keys`, from the streams `stream(1)` and `stream(2)`.
    fn views(
        &self,
        keys: &[u64],
        stream: impl Fn(u64) -> u64,
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>) {
        let config = self.config;
        let channels = config.model.in_channels;
        let view = |n| {
            view_batch(
                keys,
                |k| self.pool.image(k),
                &config.views,
                channels,
                stream(n),
                device,
            )
        };
        (view(1), view(2))
    }

    /// The loss on the held-out images, with views drawn from a fixed stream so that epochs
    /// are compared on the same views.
    fn validation_loss(&self, method: &dyn SslMethod) -> f64 {
        let (mut sum, mut seen) = (0.0, 0usize);
        let seed = self.config.seed;
        for (b, batch) in self.pool.val_keys().chunks(self.batch_size).enumerate() {
            // Contrastive losses need at least two images in a batch.
            if batch.len() < 2 {
                continue;
            }
            let (v1, v2) = self.views(
                batch,
                |view| mix_seed(&[seed, VAL_STREAM, b as u64, view]),
                &self.plain,
            );
            sum += method.eval_loss(v1, v2) * batch.len() as f64;
            seen += batch.len();
        }
        if seen == 0 {
            f64::NAN
        } else {
            sum / seen as f64
        }
    }

    fn collapsed(&self, spread: f64) -> bool {
        spread.is_finite() && spread < self.config.monitor.collapse_threshold
    }

    fn curve(&self, curve: &[CurveRow]) -> Vec<SslCurveRow> {
        curve
            .iter()
            .map(|row| {
                let spread = row.metrics.get(SPREAD).map_or(f64::NAN, |v| v.0);
                SslCurveRow {
                    epoch: row.epoch,
                    lr: row.lr,
                    train_loss: row.train_loss,
                    val_loss: row.val_loss,
                    spread,
                    collapsed: self.collapsed(spread),
                    seconds: row.seconds,
                }
            })
            .collect()
    }

    fn encoder_info(&self, last: &SslCurveRow) -> EncoderInfo {
        let config = self.config;
        let channels = config.model.in_channels;
        EncoderInfo {
            format: ENCODER_FORMAT.into(),
            version: 1,
            backbone: config.model.backbone,
            in_channels: channels,
            input_size: config.views.crop,
            mean: vec![config.views.mean; channels],
            std: vec![config.views.std; channels],
            method: config.method.name().into(),
            epochs: last.epoch,
            seed: config.seed,
            final_spread: last.spread,
            collapsed: last.collapsed,
            excluded_test_images: self.pool.excluded(),
            excluded_from: self.excluded_from.map(|t| t.description.clone()),
            code_version: CODE_VERSION.into(),
        }
    }
}

impl FoldTask for Pretraining<'_> {
    type Model = SslModel;
    type PhaseData = ();
    /// The encoder file.
    type Output = PathBuf;

    fn curve_columns(&self) -> &'static [&'static str] {
        &[SPREAD]
    }

    fn label(&self, _: &FoldIndices) -> String {
        self.config.method.name().to_string()
    }

    fn selection(&self) -> Selection {
        Selection::LastEpoch
    }

    fn initial_model(&self, _: usize) -> Result<SslModel, TrainError> {
        Ok(self.initial.clone())
    }

    fn save_checkpoint(&self, model: &SslModel, dir: &Path) -> Result<(), TrainError> {
        Ok(model.0.save(dir)?)
    }

    fn load_checkpoint(&self, dir: &Path) -> Result<SslModel, TrainError> {
        let mut model = self.initial.clone();
        model.0.load(dir)?;
        Ok(model)
    }

    /// `encoder.bpk` + `encoder.json`, and the t-SNE plot of the final encoder.
    fn save_output(
        &self,
        model: SslModel,
        out_dir: &Path,
        curve: &[CurveRow],
    ) -> Result<PathBuf, TrainError> {
        let rows = self.curve(curve);
        let last = rows
            .last()
            .ok_or_else(|| TrainError::Other("no epoch was trained".into()))?;
        let path = Self::encoder_path(out_dir);
        write_encoder(model.0.encoder(), &self.encoder_info(last), &path)?;
        if self.config.monitor.tsne {
            let input = self.input();
            plot_tsne(
                model.0.encoder(),
                self.pool,
                &input,
                self.config,
                out_dir,
                &self.plain,
                self.events,
            )?;
        }
        Ok(path)
    }

    fn load_output(&self, out_dir: &Path) -> Result<Option<PathBuf>, TrainError> {
        let path = Self::encoder_path(out_dir);
        Ok(path.exists().then_some(path))
    }

    fn steps_per_epoch(&self, _: &FoldIndices, batch_size: usize) -> usize {
        batches(&self.pool.epoch_keys(self.draws, 0), batch_size).len()
    }

    /// The pool's weighted draw for the epoch, in batches (a last partial batch is dropped).
    fn epoch_batches(
        &self,
        _: &FoldIndices,
        batch_size: usize,
        epoch: usize,
        _: u64,
    ) -> Vec<Vec<usize>> {
        let seed = mix_seed(&[self.config.seed, SHUFFLE_STREAM, epoch as u64]);
        let keys = self.pool.epoch_keys(self.draws, seed);
        // Pool keys pack (source, index) into 64 bits; medxfer builds for 64-bit targets.
        batches(&keys, batch_size)
            .into_iter()
            .map(|batch| batch.into_iter().map(|key| key as usize).collect())
            .collect()
    }

    fn begin_phase(&self, model: SslModel, _: &Phase, _: &FoldIndices) -> (SslModel, ()) {
        (model, ())
    }

    fn train_step(
        &self,
        mut model: SslModel,
        _: &(),
        step: &Step,
        optimizer: &mut ModuleOptimizer,
    ) -> (SslModel, StepResult) {
        let seed = self.config.seed;
        let (epoch, index) = (step.epoch as u64, step.index as u64);
        let keys: Vec<u64> = step.batch.iter().map(|&key| key as u64).collect();
        let (v1, v2) = self.views(
            &keys,
            |view| mix_seed(&[seed, VIEW_STREAM, epoch, index, view]),
            &self.device,
        );
        let step_seed = mix_seed(&[seed, STEP_STREAM, epoch, index]);
        let outcome = model.0.train_step(v1, v2, step.lr, optimizer, step_seed);
        let result = StepResult {
            loss: outcome.loss,
            stats: vec![outcome.spread],
        };
        (model, result)
    }

    fn end_epoch(&self, _: &mut SslModel, _: &(), _: &FoldIndices) {}

    fn validate(
        &self,
        model: &SslModel,
        _: &(),
        _: &FoldIndices,
        trained: &TrainedEpoch,
    ) -> Validation {
        let val_loss = self.validation_loss(model.0.as_ref());
        let spread = trained.stats.first().copied().unwrap_or(f64::NAN);
        if self.collapsed(spread) {
            self.events.warn(format!(
                "{} epoch {}: the projections have collapsed (spread {spread:.4} < {}): every image maps to nearly the same point",
                self.config.method.name(),
                trained.epoch,
                self.config.monitor.collapse_threshold
            ));
        }
        Validation {
            monitor: -val_loss,
            loss: val_loss,
            metrics: vec![spread],
            summary: format!("spread {spread:.3}"),
        }
    }

    /// `curves.csv` (epoch, rate, losses, spread, collapse) and `curves.png`.
    fn write_curves(&self, out_dir: &Path, curve: &[CurveRow]) -> Result<(), TrainError> {
        let config = self.config;
        Ok(write_curves(
            out_dir,
            &self.curve(curve),
            config.monitor.collapse_threshold,
            config.method.name(),
        )?)
    }
}
