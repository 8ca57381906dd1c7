//! The run engine's loop for one fold, shared by every task (classification, segmentation,
//! self-supervised pretraining in `medxfer-ssl`): phases of epochs over seeded batches, the
//! learning-rate schedule, a validation score per epoch chosen by the task, best-epoch
//! selection and early stopping on it, a checkpoint committed after every epoch (so a run
//! killed at any instant resumes and ends as an uninterrupted one), the damaged checkpoint
//! fallback, continuing a finished shorter run, progress events, and the fold's final output.
//!
//! A task says what a model is, how one batch trains, how a model scores on validation and
//! what a finished fold keeps; it knows nothing of folders' bookkeeping, checkpoints' timing
//! or resumption.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::prelude::Device;
use medxfer_atomic::FolderLock;
use medxfer_atomic::run_files::CURVES;
use medxfer_events::{Reporter, TaskKind};

use crate::TrainError;
use crate::batches::{mix_seed, shuffled_batches};
use crate::checkpoint::{CurveRow, FoldProgress, checkpoint_name, optimizer_file, write_curve_csv};
use crate::config::{ScheduleConfig, TrainConfig};
use crate::fold::{FoldIndices, new_optimizer};
use crate::json_float::Float;
use crate::run_folder::{commit_progress, lock_error, resume};
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
    /// 0-based index of the batch within the epoch.
    pub index: usize,
}

/// What one training step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    pub loss: f64,
    /// The task's per-step training statistics (e.g. SSL's projection spread), averaged over
    /// the epoch's samples and handed to [`FoldTask::validate`].
    pub stats: Vec<f64>,
}

impl StepResult {
    /// A step that measured only its loss.
    pub fn loss(loss: f64) -> Self {
        StepResult {
            loss,
            stats: Vec::new(),
        }
    }
}

/// What an epoch's steps measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedEpoch {
    /// 1-based, within the phase.
    pub epoch: usize,
    /// Mean over the epoch's samples.
    pub loss: f64,
    /// The rate of the epoch's last step.
    pub lr: f64,
    /// [`StepResult::stats`], averaged over the epoch's samples.
    pub stats: Vec<f64>,
}

/// Which epoch's model a fold keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The epoch with the highest [`Validation::monitor`] (with early stopping on it).
    BestScore,
    /// The last epoch (e.g. a pretrained encoder, whose validation loss is no model choice).
    LastEpoch,
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

/// What the engine needs from a task (classification, segmentation, SSL pretraining, ...).
pub trait FoldTask {
    type Model: Clone;
    /// State a phase computes once (e.g. cached backbone features).
    type PhaseData;
    /// What a finished fold keeps (e.g. its best model).
    type Output;

    /// Names of the task's validation metrics in curves (`val_auc`, `val_dice`, ...).
    fn curve_columns(&self) -> &'static [&'static str];
    /// How progress lines name the fold (`fold 3`).
    fn label(&self, fold: &FoldIndices) -> String {
        format!("fold {}", fold.fold)
    }
    fn selection(&self) -> Selection {
        Selection::BestScore
    }
    /// A freshly initialised model for the fold (pretrained weights loaded).
    fn initial_model(&self, fold: usize) -> Result<Self::Model, TrainError>;
    /// Write the model's whole training state into the checkpoint folder `dir`.
    fn save_checkpoint(&self, model: &Self::Model, dir: &Path) -> Result<(), TrainError>;
    fn load_checkpoint(&self, dir: &Path) -> Result<Self::Model, TrainError>;
    /// Write what the finished fold keeps from the selected epoch's model into `fold_dir`;
    /// `curve` is the whole learning curve.
    fn save_output(
        &self,
        model: Self::Model,
        fold_dir: &Path,
        curve: &[CurveRow],
    ) -> Result<Self::Output, TrainError>;
    /// What a finished fold kept, if it is all there.
    fn load_output(&self, fold_dir: &Path) -> Result<Option<Self::Output>, TrainError>;
    /// Training steps per epoch (the schedule's unit).
    fn steps_per_epoch(&self, fold: &FoldIndices, batch_size: usize) -> usize {
        fold.train.len().div_ceil(batch_size)
    }
    /// The epoch's batches; by default the fold's training samples shuffled by `shuffle_seed`.
    fn epoch_batches(
        &self,
        fold: &FoldIndices,
        batch_size: usize,
        _epoch: usize,
        shuffle_seed: u64,
    ) -> Vec<Vec<usize>> {
        shuffled_batches(&fold.train, batch_size, shuffle_seed)
    }
    /// Set which parameters learn in `phase` and compute what the phase reuses.
    fn begin_phase(
        &self,
        model: Self::Model,
        phase: &Phase,
        fold: &FoldIndices,
    ) -> (Self::Model, Self::PhaseData);
    /// Forward, backward and optimizer step on one batch; returns the model and what the
    /// step measured.
    fn train_step(
        &self,
        model: Self::Model,
        data: &Self::PhaseData,
        step: &Step,
        optimizer: &mut ModuleOptimizer,
    ) -> (Self::Model, StepResult);
    /// Called after an epoch's last step, before validation (e.g. precise batch-norm).
    fn end_epoch(&self, model: &mut Self::Model, data: &Self::PhaseData, fold: &FoldIndices);
    /// Score the model after the epoch `trained` describes.
    fn validate(
        &self,
        model: &Self::Model,
        data: &Self::PhaseData,
        fold: &FoldIndices,
        trained: &TrainedEpoch,
    ) -> Validation;
    /// Write the learning curve after each commit; by default `curves.csv` with the task's
    /// columns.
    fn write_curves(&self, fold_dir: &Path, curve: &[CurveRow]) -> Result<(), TrainError> {
        write_curve_csv(&fold_dir.join(CURVES), curve, self.curve_columns())
    }
}

/// How the engine trains a fold (from the run's configuration).
pub struct LoopSettings<'a> {
    pub seed: u64,
    pub batch_size: usize,
    pub schedule: &'a ScheduleConfig,
    /// A fresh optimizer (each phase starts with one; checkpoints restore into one).
    pub new_optimizer: Box<dyn Fn() -> ModuleOptimizer + 'a>,
    /// Epochs without a better validation score before a phase stops (0: never).
    pub patience: usize,
    pub phases: Vec<Phase>,
    pub events: &'a dyn Reporter,
    /// The training device, whose generator (dropout, initialisation) is seeded per fold and
    /// per epoch.
    pub device: &'a Device,
    /// Where a fold that has committed nothing begins instead of from scratch: a finished
    /// shorter run's folder and the progress to continue from (its checkpoint restores).
    pub start_from: Option<(PathBuf, FoldProgress)>,
    /// A finished fold keeps its last checkpoint, so a longer run can continue from it.
    pub keep_last_checkpoint: bool,
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
            new_optimizer: Box::new(|| new_optimizer(&train.optimizer)),
            patience: train.early_stopping_patience,
            phases: phases(
                &train.strategy,
                train.epochs,
                train.lr,
                config.trained_stage_names(),
            ),
            events,
            device,
            start_from: None,
            keep_last_checkpoint: false,
        }
    }
}

/// What the finished fold kept, its learning curve, and the wall time its training took
/// (over all resumptions).
pub struct TrainedFold<O> {
    pub output: O,
    pub curve: Vec<CurveRow>,
    pub seconds: f64,
    /// Held until the fold's outputs are written: no other process trains this fold.
    pub lock: FolderLock,
}

/// Train (or resume, or reuse the finished) fold in `fold_dir`.
pub fn train_fold<T: FoldTask>(
    task: &T,
    settings: &LoopSettings,
    fold: &FoldIndices,
    fold_dir: &Path,
) -> Result<TrainedFold<T::Output>, TrainError> {
    std::fs::create_dir_all(fold_dir).map_err(|e| TrainError::io(fold_dir, e))?;
    let lock = FolderLock::acquire(fold_dir).map_err(|e| lock_error(fold_dir, e))?;
    if let Some(progress) = FoldProgress::load(fold_dir)?
        && progress.finished
        && let Some(output) = task.load_output(fold_dir)?
    {
        return Ok(TrainedFold {
            output,
            curve: progress.curve,
            seconds: progress.train_seconds,
            lock,
        });
    }
    let mut state = FoldState::start(task, settings, fold, fold_dir)?;
    while state.progress.phase < settings.phases.len() {
        let phase = &settings.phases[state.progress.phase];
        if state.progress.epochs_done >= phase.epochs {
            state.next_phase(settings);
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
    let (output, curve, seconds) = state.finish(task, settings, fold)?;
    Ok(TrainedFold {
        output,
        curve,
        seconds,
        lock,
    })
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
    /// checkpoint is damaged), or, when nothing was committed, the run `start_from` names.
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
        let mut optimizer = (settings.new_optimizer)();
        let resumed = resume(fold_dir, settings.events, |p: &FoldProgress| {
            p.current
                .as_ref()
                .map(|current| restore(task, settings, &fold_dir.join(current)))
                .transpose()
        })?;
        let mut progress = FoldProgress::default();
        if let Some((committed, saved)) = resumed {
            progress = committed;
            if let (Some(saved), Some(current)) = (saved, &progress.current) {
                (model, optimizer) = saved;
                settings.events.note(format!(
                    "{}: resuming after epoch {} of phase {} ({current})",
                    task.label(fold),
                    progress.epochs_done,
                    progress.phase + 1,
                ));
            }
        } else if let Some((source, start)) = &settings.start_from {
            let current = start.current.clone().unwrap_or_default();
            (model, optimizer) = restore(task, settings, &source.join(current))?;
            progress = start.clone();
        }
        Ok(FoldState {
            model,
            optimizer,
            progress,
            fold_dir,
            unrecorded_since,
        })
    }

    fn next_phase(&mut self, settings: &LoopSettings) {
        self.progress.phase += 1;
        self.progress.epochs_done = 0;
        self.progress.epochs_since_best = 0;
        // A new phase starts with fresh optimizer state (its parameters and rate differ).
        self.optimizer = (settings.new_optimizer)();
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
        let started = Instant::now();
        let trained = self.train_epoch(task, settings, data, fold, epoch)?;
        task.end_epoch(&mut self.model, data, fold);
        let val = task.validate(&self.model, data, fold, &trained);
        let name = checkpoint_name(self.progress.phase, epoch + 1);
        self.save_checkpoint(task, &name)?;
        let improved = self.record(task, &val, name, epoch);
        let phase = &settings.phases[self.progress.phase];
        let seconds = started.elapsed().as_secs_f64();
        self.progress.curve.push(CurveRow {
            phase: phase.name.to_string(),
            epoch: epoch + 1,
            lr: trained.lr,
            train_loss: trained.loss,
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
        let stop = task.selection() == Selection::BestScore
            && patience > 0
            && self.progress.epochs_since_best >= patience;
        if stop {
            self.progress.epochs_done = phase.epochs;
        }
        self.commit(task)?;
        settings.events.note(format!(
            "{} {} epoch {}/{}: train loss {:.4}  val loss {:.4}  {}  {seconds:.1}s{}",
            task.label(fold),
            phase.name,
            epoch + 1,
            phase.epochs,
            trained.loss,
            val.loss,
            val.summary,
            if improved { "  *best" } else { "" }
        ));
        if stop {
            settings.events.note(format!(
                "{}: early stop in phase `{}` after {patience} epochs without a better validation score",
                task.label(fold),
                phase.name
            ));
        }
        Ok(stop)
    }

    /// The model and optimizer after an epoch, written completely before a commit names them.
    fn save_checkpoint<T: FoldTask<Model = M>>(
        &self,
        task: &T,
        name: &str,
    ) -> Result<(), TrainError> {
        let dir = self.fold_dir.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        task.save_checkpoint(&self.model, &dir)?;
        let opt_path = optimizer_file(&dir);
        self.optimizer
            .save(&opt_path)
            .map_err(|e| TrainError::Checkpoint {
                path: opt_path.clone(),
                message: format!("cannot save optimizer state: {e}"),
            })
    }

    /// Note the epoch's checkpoint as current, and as best when the task's selection says so;
    /// true when the epoch is a new best by score.
    fn record<T: FoldTask<Model = M>>(
        &mut self,
        task: &T,
        val: &Validation,
        name: String,
        epoch: usize,
    ) -> bool {
        let progress = &mut self.progress;
        let by_score = task.selection() == Selection::BestScore;
        let improved = !by_score || progress.best_score.is_none_or(|best| val.monitor > best);
        if improved {
            progress.best = Some(name.clone());
            progress.best_score = Some(val.monitor);
            progress.epochs_since_best = 0;
        } else {
            progress.epochs_since_best += 1;
        }
        progress.current = Some(name);
        progress.epochs_done = epoch + 1;
        by_score && improved
    }

    /// Commit the progress (with the wall time so far), then let the task write its curves.
    fn commit<T: FoldTask<Model = M>>(&mut self, task: &T) -> Result<(), TrainError> {
        self.progress.train_seconds += self.unrecorded_since.elapsed().as_secs_f64();
        self.unrecorded_since = Instant::now();
        commit_progress(self.fold_dir, &self.progress)?;
        task.write_curves(self.fold_dir, &self.progress.curve)
    }

    /// The epoch's steps over seeded batches; returns the mean loss and statistics and the
    /// last rate.
    fn train_epoch<T: FoldTask<Model = M>>(
        &mut self,
        task: &T,
        settings: &LoopSettings,
        data: &T::PhaseData,
        fold: &FoldIndices,
        epoch: usize,
    ) -> Result<TrainedEpoch, TrainError> {
        let phase_index = self.progress.phase;
        let phase = &settings.phases[phase_index];
        let [s0, s1, s2, s3] = [
            settings.seed,
            fold.fold as u64,
            phase_index as u64,
            epoch as u64,
        ];
        // Dropout draws from the device's generator: reseed it per epoch so a resumed run
        // draws what an uninterrupted one would.
        settings
            .device
            .seed(mix_seed(&[DROPOUT_STREAM, s0, s1, s2, s3]));
        let shuffle_seed = mix_seed(&[SHUFFLE_STREAM, s0, s1, s2, s3]);
        let batches = task.epoch_batches(fold, settings.batch_size, epoch, shuffle_seed);
        let augment_seed = mix_seed(&[AUGMENT_STREAM, s0, s1, s2]);
        let steps_per_epoch = task.steps_per_epoch(fold, settings.batch_size);
        let total_steps = steps_per_epoch * phase.epochs;
        let label = task.label(fold);
        let bar = settings.events.task(
            format!("{label} {} {}/{}", phase.name, epoch + 1, phase.epochs),
            batches.len(),
            TaskKind::Epoch,
        );
        let mut sums = EpochSums::default();
        let mut lr = phase.lr;
        for (index, batch) in batches.iter().enumerate() {
            lr = learning_rate(
                settings.schedule,
                phase.lr,
                epoch * steps_per_epoch + index,
                steps_per_epoch,
                total_steps,
            );
            let step = Step {
                batch,
                lr,
                epoch,
                augment_seed,
                index,
            };
            let (model, result) =
                task.train_step(self.model.clone(), data, &step, &mut self.optimizer);
            self.model = model;
            if !result.loss.is_finite() {
                return Err(TrainError::Other(format!(
                    "{label}: the training loss became {} in epoch {} of phase `{}` (batch {}); lower the learning rate (now {})",
                    result.loss,
                    epoch + 1,
                    phase.name,
                    index + 1,
                    phase.lr
                )));
            }
            sums.add(&result, batch.len());
            bar.step(Some(format!("loss {:.4}", sums.mean_loss())));
        }
        Ok(sums.finish(epoch + 1, lr))
    }

    /// Save what the selected epoch's model leaves behind and mark the fold finished.
    fn finish<T: FoldTask<Model = M>>(
        mut self,
        task: &T,
        settings: &LoopSettings,
        fold: &FoldIndices,
    ) -> Result<(T::Output, Vec<CurveRow>, f64), TrainError> {
        // A finished run that kept its last checkpoint but lost its output finishes again.
        let selected = self.progress.best.clone().or(self.progress.current.clone());
        let best = selected.ok_or_else(|| {
            TrainError::Other(format!("{}: no epoch was trained", task.label(fold)))
        })?;
        let best_model = task.load_checkpoint(&self.fold_dir.join(&best))?;
        let output = task.save_output(best_model, self.fold_dir, &self.progress.curve)?;
        let progress = &mut self.progress;
        progress.finished = true;
        if !settings.keep_last_checkpoint {
            progress.current = None;
        }
        progress.best = None;
        self.commit(task)?;
        Ok((output, self.progress.curve, self.progress.train_seconds))
    }
}

/// Sample-weighted sums of an epoch's step results.
#[derive(Default)]
struct EpochSums {
    loss: f64,
    stats: Vec<f64>,
    seen: usize,
}

impl EpochSums {
    fn add(&mut self, result: &StepResult, samples: usize) {
        let weight = samples as f64;
        self.loss += result.loss * weight;
        self.stats
            .resize(result.stats.len().max(self.stats.len()), 0.0);
        for (sum, value) in self.stats.iter_mut().zip(&result.stats) {
            *sum += value * weight;
        }
        self.seen += samples;
    }

    fn mean_loss(&self) -> f64 {
        self.loss / self.seen as f64
    }

    fn finish(self, epoch: usize, lr: f64) -> TrainedEpoch {
        let seen = self.seen.max(1) as f64;
        TrainedEpoch {
            epoch,
            loss: self.loss / seen,
            lr,
            stats: self.stats.iter().map(|sum| sum / seen).collect(),
        }
    }
}

/// The model and optimizer state saved in the checkpoint folder `dir`.
fn restore<T: FoldTask>(
    task: &T,
    settings: &LoopSettings,
    dir: &Path,
) -> Result<(T::Model, ModuleOptimizer), TrainError> {
    let model = task.load_checkpoint(dir)?;
    let path = optimizer_file(dir);
    let optimizer = (settings.new_optimizer)()
        .load(&path)
        .map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            message: format!("cannot load optimizer state: {e}"),
        })?;
    Ok((model, optimizer))
}
