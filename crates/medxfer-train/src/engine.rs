//! The run engine's loop for one fold, shared by every supervised task: phases of epochs over
//! seeded batches, the learning-rate schedule, a validation score per epoch chosen by the
//! task, best-epoch selection and early stopping on it, a checkpoint committed after every
//! epoch (so a run killed at any instant resumes and ends as an uninterrupted one), the damaged
//! checkpoint fallback, progress events, and the fold's final (best) model.
//!
//! A task says what a model is, how one batch trains, and how a model scores on validation;
//! it knows nothing of folders, checkpoints or resumption.

use std::path::Path;
use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::prelude::Device;
use medxfer_atomic::run_files::MODEL;
use medxfer_events::{Reporter, TaskKind};

use crate::TrainError;
use crate::batches::{mix_seed, shuffled_batches};
use crate::checkpoint::{CurveRow, FoldProgress, checkpoint_name, model_file, optimizer_file};
use crate::config::{OptimizerConfig, ScheduleConfig, TrainConfig};
use crate::fold::{FoldIndices, new_optimizer};
use crate::json_float::Float;
use crate::run_folder::resume;
use crate::schedule::learning_rate;
use crate::strategy::{Phase, phases};

const INIT_STREAM: u64 = 0x1A17;
const SHUFFLE_STREAM: u64 = 0x5AFF;
const AUGMENT_STREAM: u64 = 0xA6;
const DROPOUT_STREAM: u64 = 0xD0;

/// One training step's inputs.
pub struct Step<'a> {
    pub batch: &'a [usize],
    pub lr: f64,
    /// 0-based epoch within the phase (augmentations draw per epoch).
    pub epoch: usize,
    /// The seed of this phase's augmentation stream.
    pub augment_seed: u64,
}

/// A model's validation result after an epoch.
#[derive(Debug, Clone)]
pub struct Validation {
    /// What the best epoch maximises (e.g. AUC, Dice).
    pub monitor: f64,
    pub loss: f64,
    /// One value per [`FoldTask::curve_columns`] entry.
    pub metrics: Vec<f64>,
    /// The task's one-line summary for logs.
    pub summary: String,
}

/// What the engine needs from a task (classification, segmentation, ...).
pub trait FoldTask {
    type Model: Clone;
    /// State a phase computes once (e.g. cached backbone features).
    type PhaseData;

    /// Names of the task's validation metrics in curves (`val_auc`, `val_dice`, ...).
    fn curve_columns(&self) -> &'static [&'static str];
    /// A freshly initialised model for the fold (pretrained weights loaded).
    fn initial_model(&self, fold: usize) -> Result<Self::Model, TrainError>;
    fn load_model(&self, path: &Path) -> Result<Self::Model, TrainError>;
    fn save_model(&self, model: &Self::Model, path: &Path) -> Result<(), TrainError>;
    /// Set which parameters learn in `phase` and compute what the phase reuses.
    fn begin_phase(
        &self,
        model: Self::Model,
        phase: &Phase,
        fold: &FoldIndices,
    ) -> (Self::Model, Self::PhaseData);
    /// Forward, backward and optimizer step on one batch; returns the model and the loss.
    fn train_step(
        &self,
        model: Self::Model,
        data: &Self::PhaseData,
        step: &Step,
        optimizer: &mut ModuleOptimizer,
    ) -> (Self::Model, f64);
    /// Called after an epoch's last step, before validation (e.g. precise batch-norm).
    fn end_epoch(&self, model: &mut Self::Model, data: &Self::PhaseData, fold: &FoldIndices);
    fn validate(
        &self,
        model: &Self::Model,
        data: &Self::PhaseData,
        fold: &FoldIndices,
    ) -> Validation;
}

/// How the engine trains a fold (from the run's configuration).
pub struct LoopSettings<'a> {
    pub seed: u64,
    pub batch_size: usize,
    pub schedule: &'a ScheduleConfig,
    pub optimizer: &'a OptimizerConfig,
    /// Epochs without a better validation score before a phase stops (0: never).
    pub patience: usize,
    pub phases: Vec<Phase>,
    pub events: &'a dyn Reporter,
    /// The training device, whose generator (dropout, initialisation) is seeded per fold and
    /// per epoch.
    pub device: &'a Device,
}

impl<'a> LoopSettings<'a> {
    /// The settings a run configuration gives.
    pub fn from_config(
        config: &'a TrainConfig,
        events: &'a dyn Reporter,
        device: &'a Device,
    ) -> Self {
        let train = &config.train;
        LoopSettings {
            seed: config.seed,
            batch_size: train.batch_size,
            schedule: &train.schedule,
            optimizer: &train.optimizer,
            patience: train.early_stopping_patience,
            phases: phases(&train.strategy, train.epochs, train.lr),
            events,
            device,
        }
    }
}

/// The fold's best model and the wall time its training took (over all resumptions).
pub struct TrainedFold<M> {
    pub model: M,
    pub seconds: f64,
}

/// Train (or resume, or reuse the finished) fold in `fold_dir`.
pub fn train_fold<T: FoldTask>(
    task: &T,
    settings: &LoopSettings,
    fold: &FoldIndices,
    fold_dir: &Path,
) -> Result<TrainedFold<T::Model>, TrainError> {
    std::fs::create_dir_all(fold_dir).map_err(|e| TrainError::io(fold_dir, e))?;
    let final_model = fold_dir.join(MODEL);
    if let Some(progress) = FoldProgress::load(fold_dir)?
        && progress.finished
        && final_model.exists()
    {
        return Ok(TrainedFold {
            model: task.load_model(&final_model)?,
            seconds: progress.train_seconds,
        });
    }
    let mut state = FoldState::start(task, settings, fold, fold_dir)?;
    while state.progress.phase < settings.phases.len() {
        let phase = &settings.phases[state.progress.phase];
        if state.progress.epochs_done >= phase.epochs {
            state.next_phase(settings.optimizer);
            continue;
        }
        let (model, data) = task.begin_phase(state.model.clone(), phase, fold);
        state.model = model;
        for epoch in state.progress.epochs_done..phase.epochs {
            if state.run_epoch(task, settings, &data, fold, epoch)? {
                break;
            }
        }
    }
    state.finish(task, fold)
}

/// A fold in training: its model, optimizer and committed progress.
struct FoldState<'a, M> {
    model: M,
    optimizer: ModuleOptimizer,
    progress: FoldProgress,
    fold_dir: &'a Path,
    /// Start of the wall time not yet added to `progress.train_seconds`.
    unrecorded_since: Instant,
}

impl<'a, M: Clone> FoldState<'a, M> {
    /// A new model, or the state of the last committed epoch (the one before it when that
    /// checkpoint is damaged).
    fn start<T: FoldTask<Model = M>>(
        task: &T,
        settings: &LoopSettings,
        fold: &FoldIndices,
        fold_dir: &'a Path,
    ) -> Result<Self, TrainError> {
        let unrecorded_since = Instant::now();
        settings
            .device
            .seed(mix_seed(&[settings.seed, fold.fold as u64, INIT_STREAM]));
        let mut model = task.initial_model(fold.fold)?;
        let mut optimizer = new_optimizer(settings.optimizer);
        let resumed = resume(fold_dir, settings.events, |p: &FoldProgress| {
            p.current
                .as_ref()
                .map(|current| restore(task, settings.optimizer, &fold_dir.join(current)))
                .transpose()
        })?;
        let mut progress = FoldProgress::default();
        if let Some((committed, saved)) = resumed {
            progress = committed;
            if let (Some(saved), Some(current)) = (saved, &progress.current) {
                (model, optimizer) = saved;
                settings.events.note(format!(
                    "fold {}: resuming after epoch {} of phase {} ({current})",
                    fold.fold,
                    progress.epochs_done,
                    progress.phase + 1,
                ));
            }
        }
        Ok(FoldState {
            model,
            optimizer,
            progress,
            fold_dir,
            unrecorded_since,
        })
    }

    fn next_phase(&mut self, optimizer: &OptimizerConfig) {
        self.progress.phase += 1;
        self.progress.epochs_done = 0;
        self.progress.epochs_since_best = 0;
        // A new phase starts with fresh optimizer state (its parameters and rate differ).
        self.optimizer = new_optimizer(optimizer);
    }

    /// Train, validate and commit one epoch; true when early stopping ends the phase.
    fn run_epoch<T: FoldTask<Model = M>>(
        &mut self,
        task: &T,
        settings: &LoopSettings,
        data: &T::PhaseData,
        fold: &FoldIndices,
        epoch: usize,
    ) -> Result<bool, TrainError> {
        let phase_index = self.progress.phase;
        let phase = &settings.phases[phase_index];
        let started = Instant::now();
        let (train_loss, lr) = self.train_epoch(task, settings, data, fold, epoch)?;
        task.end_epoch(&mut self.model, data, fold);
        let val = task.validate(&self.model, data, fold);

        let name = checkpoint_name(phase_index, epoch + 1);
        let dir = self.fold_dir.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        task.save_model(&self.model, &model_file(&dir))?;
        let opt_path = optimizer_file(&dir);
        self.optimizer
            .save(&opt_path)
            .map_err(|e| TrainError::Checkpoint {
                path: opt_path.clone(),
                message: format!("cannot save optimizer state: {e}"),
            })?;

        let progress = &mut self.progress;
        let improved = progress.best_score.is_none_or(|best| val.monitor > best);
        if improved {
            progress.best = Some(name.clone());
            progress.best_score = Some(val.monitor);
            progress.epochs_since_best = 0;
        } else {
            progress.epochs_since_best += 1;
        }
        progress.current = Some(name);
        progress.epochs_done = epoch + 1;
        let seconds = started.elapsed().as_secs_f64();
        progress.curve.push(CurveRow {
            phase: phase.name.to_string(),
            epoch: epoch + 1,
            lr,
            train_loss,
            val_loss: val.loss,
            metrics: task
                .curve_columns()
                .iter()
                .map(|c| c.to_string())
                .zip(val.metrics.iter().map(|&v| Float(v)))
                .collect(),
            seconds,
        });
        let patience = settings.patience;
        let stop = patience > 0 && progress.epochs_since_best >= patience;
        if stop {
            progress.epochs_done = phase.epochs;
        }
        progress.train_seconds += self.unrecorded_since.elapsed().as_secs_f64();
        self.unrecorded_since = Instant::now();
        progress.commit(self.fold_dir, task.curve_columns())?;
        settings.events.note(format!(
            "fold {} {} epoch {}/{}: train loss {train_loss:.4}  val loss {:.4}  {}  {seconds:.1}s{}",
            fold.fold,
            phase.name,
            epoch + 1,
            phase.epochs,
            val.loss,
            val.summary,
            if improved { "  *best" } else { "" }
        ));
        if stop {
            settings.events.note(format!(
                "fold {}: early stop in phase `{}` after {patience} epochs without a better validation score",
                fold.fold, phase.name
            ));
        }
        Ok(stop)
    }

    /// The epoch's steps over seeded, shuffled batches; returns the mean loss and last rate.
    fn train_epoch<T: FoldTask<Model = M>>(
        &mut self,
        task: &T,
        settings: &LoopSettings,
        data: &T::PhaseData,
        fold: &FoldIndices,
        epoch: usize,
    ) -> Result<(f64, f64), TrainError> {
        let phase_index = self.progress.phase;
        let phase = &settings.phases[phase_index];
        let stream = [
            settings.seed,
            fold.fold as u64,
            phase_index as u64,
            epoch as u64,
        ];
        let [s0, s1, s2, s3] = stream;
        // Dropout draws from the device's generator: reseed it per epoch so a resumed run
        // draws what an uninterrupted one would.
        settings
            .device
            .seed(mix_seed(&[DROPOUT_STREAM, s0, s1, s2, s3]));
        let batches = shuffled_batches(
            &fold.train,
            settings.batch_size,
            mix_seed(&[SHUFFLE_STREAM, s0, s1, s2, s3]),
        );
        let augment_seed = mix_seed(&[AUGMENT_STREAM, s0, s1, s2]);
        let steps_per_epoch = fold.train.len().div_ceil(settings.batch_size);
        let total_steps = steps_per_epoch * phase.epochs;
        let bar = settings.events.task(
            format!(
                "fold {} {} {}/{}",
                fold.fold,
                phase.name,
                epoch + 1,
                phase.epochs
            ),
            batches.len(),
            TaskKind::Epoch,
        );
        let (mut loss_sum, mut seen, mut lr) = (0.0, 0usize, phase.lr);
        for (b, batch) in batches.iter().enumerate() {
            lr = learning_rate(
                settings.schedule,
                phase.lr,
                epoch * steps_per_epoch + b,
                steps_per_epoch,
                total_steps,
            );
            let step = Step {
                batch,
                lr,
                epoch,
                augment_seed,
            };
            let (model, loss) =
                task.train_step(self.model.clone(), data, &step, &mut self.optimizer);
            self.model = model;
            if !loss.is_finite() {
                return Err(TrainError::Other(format!(
                    "fold {}: the training loss became {loss} in epoch {} of phase `{}`; lower the learning rate",
                    fold.fold,
                    epoch + 1,
                    phase.name
                )));
            }
            loss_sum += loss * batch.len() as f64;
            seen += batch.len();
            bar.step(Some(format!("loss {:.4}", loss_sum / seen as f64)));
        }
        Ok((loss_sum / seen.max(1) as f64, lr))
    }

    /// Save the best epoch's model as the fold's model and mark the fold finished.
    fn finish<T: FoldTask<Model = M>>(
        mut self,
        task: &T,
        fold: &FoldIndices,
    ) -> Result<TrainedFold<M>, TrainError> {
        let best = self.progress.best.clone().ok_or_else(|| {
            TrainError::Other(format!("fold {}: no epoch was trained", fold.fold))
        })?;
        let best_model = task.load_model(&model_file(&self.fold_dir.join(&best)))?;
        task.save_model(&best_model, &self.fold_dir.join(MODEL))?;
        let progress = &mut self.progress;
        progress.finished = true;
        progress.current = None;
        progress.best = None;
        progress.train_seconds += self.unrecorded_since.elapsed().as_secs_f64();
        progress.commit(self.fold_dir, task.curve_columns())?;
        Ok(TrainedFold {
            model: best_model,
            seconds: progress.train_seconds,
        })
    }
}

/// The model and optimizer state saved in the checkpoint folder `dir`.
fn restore<T: FoldTask>(
    task: &T,
    optimizer: &OptimizerConfig,
    dir: &Path,
) -> Result<(T::Model, ModuleOptimizer), TrainError> {
    let model = task.load_model(&model_file(dir))?;
    let path = optimizer_file(dir);
    let optimizer = new_optimizer(optimizer)
        .load(&path)
        .map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            message: format!("cannot load optimizer state: {e}"),
        })?;
    Ok((model, optimizer))
}
