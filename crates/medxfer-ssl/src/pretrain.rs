//! The pretraining run: pool, method, and the run engine's epochs of two-view steps (see
//! [`crate::task`]), then the summary. A checkpoint is committed after every epoch, so a
//! killed run resumes where it stopped and ends as an uninterrupted one would.
//!
//! Layout of `out_dir`: `config.toml` (resolved), `progress.json` (commit point, curve so far),
//! `ckpt-000-EEEE/` (method state + optimizer after epoch EEEE; a finished run keeps its last
//! one for `--continue-from`), `curves.csv`, `curves.png`, `encoder.bpk` + `encoder.json`,
//! `tsne.png`, `tsne.csv`, `summary.json`.

use std::path::{Path, PathBuf};

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::Device;
use medxfer_events::Reporter;
use medxfer_models::weights::default_cache_dir;
use medxfer_models::{Backbone, Init, load_init};
use medxfer_train::batches::mix_seed;
use medxfer_train::checkpoint::{ContinuedFrom, CurveRow, FoldProgress};
use medxfer_train::engine::{self, LoopSettings};
use medxfer_train::fold::FoldIndices;
use medxfer_train::run::resolve_device;
use medxfer_train::run_folder::{DataFingerprint, RunFolder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SslError;
use crate::config::PretrainConfig;
use crate::continuation::check_continuable;
use crate::ema::stale_target_warning;
use crate::error::write_atomic;
use crate::exclusion::{TestImages, test_images};
use crate::method::{SslMethod, build_method};
use crate::pool::Pool;
use crate::task::{Pretraining, SPREAD, SslModel};

const INIT_STREAM: u64 = 0x55_1A17;

/// What a finished run measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PretrainSummary {
    pub method: String,
    pub out_dir: PathBuf,
    pub encoder: PathBuf,
    pub epochs: usize,
    pub pool_train_images: usize,
    pub pool_val_images: usize,
    pub excluded_test_images: usize,
    pub first_train_loss: f64,
    pub last_train_loss: f64,
    pub first_val_loss: f64,
    pub last_val_loss: f64,
    pub final_spread: f64,
    pub collapsed: bool,
    pub seconds: f64,
}

/// How to pretrain: from scratch or on from a shorter run, and whether a resume may see
/// changed data.
#[derive(Debug, Clone, Default)]
pub struct PretrainOptions {
    /// A finished shorter run to train on from (when this run has no epoch of its own yet).
    pub continue_from: Option<PathBuf>,
    /// Resume even when the pool's images differ from those the run started on.
    pub allow_data_change: bool,
}

/// Pretrain (or resume) the run `config` describes; the error of a collapsed run comes after
/// everything has been written. With `continue_from`, a run that has no epoch of its own yet
/// starts from that shorter run's last checkpoint (see [`crate::continuation`]).
/// Everything is checked (continuation, data) before the folder is claimed.
pub fn pretrain(
    config: &PretrainConfig,
    options: &PretrainOptions,
    events: &dyn Reporter,
) -> Result<PretrainSummary, SslError> {
    let out_dir = config.out_dir.clone();
    let start_from = match &options.continue_from {
        Some(source) => continuation(config, &out_dir, source, events)?,
        None => None,
    };
    let excluded_from = match &config.exclude {
        Some(exclude) => Some(test_images(
            exclude,
            config.views.resize,
            config.cache_dir.as_deref(),
        )?),
        None => None,
    };
    let pool = Pool::load(config, excluded_from.as_ref())?;
    describe_pool(&pool, excluded_from.as_ref(), events);
    let pool_size = pool.train_size();
    let batch_size = config.train.batch_size.min(pool_size);
    if batch_size < config.train.batch_size {
        events.note(format!(
            "batch size lowered from {} to the {pool_size} training images of the pool",
            config.train.batch_size
        ));
    }
    let device = resolve_device(config.device()?)?.autodiff();
    let start_encoder = starting_encoder(config, &device)?;
    let mut folder = RunFolder::claim_for(
        config,
        &pool_fingerprint(&pool)?,
        options.allow_data_change,
        events,
    )?;

    device.seed(mix_seed(&[config.seed, INIT_STREAM]));
    let task = Pretraining {
        config,
        pool: &pool,
        initial: SslModel(initial_method(
            config,
            pool_size,
            start_encoder,
            &device,
            events,
        )),
        batch_size,
        draws: config.train.samples_per_epoch.unwrap_or(pool_size),
        device: device.clone(),
        plain: device.clone().without_autodiff(),
        excluded_from: excluded_from.as_ref(),
        events,
    };
    warn_of_stale_target(&task, config, events);
    let settings = LoopSettings {
        seed: config.seed,
        batch_size,
        schedule: &config.train.schedule,
        new_optimizer: Box::new(|| new_adam(config.train.weight_decay)),
        patience: 0,
        phases: vec![task.phase()],
        events,
        device: &device,
        start_from,
        keep_last_checkpoint: true,
    };
    let everything = FoldIndices {
        fold: 0,
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    // The engine locks the fold's folder, here the run folder itself, for as long as the run
    // writes it: the claim hands its lock over, as a `--fold` process's does.
    folder.release_to_fold_locks();
    let trained = engine::train_fold(&task, &settings, &everything, &out_dir)?;
    let summary = summarise(config, &pool, trained.output.clone(), &trained.curve)?;
    finish(config, summary)
}

/// The weights `model.init` names (`{fold}` in a path is the excluded fold), loaded before the
/// run folder is claimed so that a missing or mismatched file leaves it untouched; `None` for
/// scratch, whose seeded initialisation stays exactly what it was.
fn starting_encoder(
    config: &PretrainConfig,
    device: &Device,
) -> Result<Option<Backbone>, SslError> {
    let init = match &config.exclude {
        Some(exclude) => config.model.init.for_fold(exclude.fold),
        None => config.model.init.clone(),
    };
    if init == Init::Scratch {
        return Ok(None);
    }
    let kind = config.model.backbone;
    let backbone = Backbone::new(kind, config.model.in_channels, device);
    Ok(Some(load_init(
        backbone,
        kind,
        &init,
        &default_cache_dir(),
    )?))
}

fn initial_method(
    config: &PretrainConfig,
    pool_size: usize,
    start_encoder: Option<Backbone>,
    device: &Device,
    events: &dyn Reporter,
) -> Box<dyn SslMethod> {
    let mut method = build_method(config, pool_size, device, events);
    if let Some(encoder) = start_encoder {
        events.note(format!(
            "encoder starts from {} weights (continued pretraining); projection heads are new",
            config.model.init
        ));
        method.start_encoder_from(&encoder);
    }
    method
}

fn describe_pool(pool: &Pool, excluded_from: Option<&TestImages>, events: &dyn Reporter) {
    for line in pool.describe() {
        events.note(line);
    }
    events.note(match excluded_from {
        Some(test) => format!(
            "excluded {} pretraining image(s) that are among {}",
            pool.excluded(),
            test.description
        ),
        None => "no evaluation split given ([exclude]): no image was excluded".into(),
    });
}

/// An EMA target (MoCo's key encoder, BYOL's target) that would keep much of its random
/// initial weights over the whole run is worth a warning before training starts.
fn warn_of_stale_target(task: &Pretraining, config: &PretrainConfig, events: &dyn Reporter) {
    use medxfer_train::engine::FoldTask;
    let empty = FoldIndices {
        fold: 0,
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    let total_steps = task.steps_per_epoch(&empty, task.batch_size) * config.train.epochs;
    if let Some((role, momentum)) = config.method.moving_average_target()
        && let Some(warning) =
            stale_target_warning(config.method.name(), role, momentum, total_steps)
    {
        events.warn(warning);
    }
}

/// The summary of a finished run, from its curve.
fn summarise(
    config: &PretrainConfig,
    pool: &Pool,
    encoder: PathBuf,
    curve: &[CurveRow],
) -> Result<PretrainSummary, SslError> {
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
        return Err(SslError::Other("no epoch was trained".into()));
    };
    let final_spread = last.metrics.get(SPREAD).map_or(f64::NAN, |v| v.0);
    Ok(PretrainSummary {
        method: config.method.name().into(),
        out_dir: config.out_dir.clone(),
        encoder,
        epochs: last.epoch,
        pool_train_images: pool.train_size(),
        pool_val_images: pool.val_keys().len(),
        excluded_test_images: pool.excluded(),
        first_train_loss: first.train_loss,
        last_train_loss: last.train_loss,
        first_val_loss: first.val_loss,
        last_val_loss: last.val_loss,
        final_spread,
        collapsed: final_spread.is_finite() && final_spread < config.monitor.collapse_threshold,
        seconds: curve.iter().map(|r| r.seconds).sum(),
    })
}

/// Write `summary.json`; a collapsed run is an error once everything is written.
fn finish(config: &PretrainConfig, summary: PretrainSummary) -> Result<PretrainSummary, SslError> {
    let text =
        serde_json::to_string_pretty(&summary).map_err(|e| SslError::Other(e.to_string()))?;
    write_atomic(&config.out_dir.join("summary.json"), text.as_bytes())?;
    if summary.collapsed && config.monitor.fail_on_collapse {
        return Err(SslError::Other(format!(
            "{} run collapsed: the spread of the normalised projections ended at {:.4} (< {}), so the encoder {} maps every image to nearly the same point; it was written but is not a useful initialisation. Try a lower train.lr, more epochs or stronger views (see {}/curves.png)",
            summary.method,
            summary.final_spread,
            config.monitor.collapse_threshold,
            summary.encoder.display(),
            config.out_dir.display()
        )));
    }
    Ok(summary)
}

/// PyTorch's `Adam(weight_decay=wd)`: the L2 penalty is added to the gradient.
fn new_adam(weight_decay: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay((weight_decay > 0.0).then(|| WeightDecayConfig {
            penalty: weight_decay as f32,
        }))
        .init()
}

/// The progress a continuation starts from: `source`'s curve and checkpoint, not finished.
fn continuation_start(config: &PretrainConfig, source: &Path) -> Result<FoldProgress, SslError> {
    let recorded = PretrainConfig::load(&source.join("config.toml"), &[])?;
    let progress = FoldProgress::load(source)?.ok_or_else(|| SslError::Config {
        path: source.to_path_buf(),
        message: "not a pretraining run folder (no progress.json)".into(),
    })?;
    let epochs = epochs_trained(&progress);
    check_continuable(&recorded, source, epochs, config)?;
    // A finished run has moved past its one phase; the longer run goes on within it.
    Ok(FoldProgress {
        phase: 0,
        epochs_done: epochs,
        finished: false,
        continued_from: Some(ContinuedFrom {
            run: source.to_path_buf(),
            after_epoch: epochs,
        }),
        ..progress
    })
}

/// Epochs a pretraining run has committed (one per curve row: it has a single phase).
fn epochs_trained(progress: &FoldProgress) -> usize {
    progress.curve.len()
}

/// With `--continue-from`: the shorter run's folder and the progress to start from, or None
/// when this run already has epochs of its own (it resumes them instead).
fn continuation(
    config: &PretrainConfig,
    out_dir: &Path,
    source: &Path,
    events: &dyn Reporter,
) -> Result<Option<(PathBuf, FoldProgress)>, SslError> {
    let own = FoldProgress::load(out_dir)?.map_or(0, |p| epochs_trained(&p));
    if own > 0 {
        events.note(format!(
            "{} already has {own} epoch(s) of its own: resuming it (--continue-from {} is not used)",
            out_dir.display(),
            source.display()
        ));
        return Ok(None);
    }
    let start = continuation_start(config, source)?;
    events.note(format!(
        "continuing {} after its epoch {} (a {} schedule, so this equals an uninterrupted {}-epoch run); {} is not changed",
        source.display(),
        start.epochs_done,
        config.train.schedule.name(),
        config.train.epochs,
        source.display()
    ));
    Ok(Some((source.to_path_buf(), start)))
}

/// The pool's images as one fingerprint: each source's manifest, weight and split sizes.
fn pool_fingerprint(pool: &Pool) -> Result<DataFingerprint, SslError> {
    let mut hasher = Sha256::new();
    hasher.update(b"medxfer-pool-v1\n");
    let mut images = 0;
    for source in &pool.sources {
        let manifest = medxfer_data::manifest::manifest_hash(&source.dataset)?;
        hasher.update(format!(
            "{}\t{}\t{manifest}\t{}\t{}\t{}\n",
            source.name,
            source.weight,
            source.train.len(),
            source.val.len(),
            source.excluded
        ));
        images += source.dataset.len();
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(DataFingerprint { sha256, images })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::load_module;
    use crate::projection::ProjectedEncoder;
    use burn::prelude::*;
    use medxfer_events::Silent;
    use medxfer_models::BackboneKind;

    fn config(method: &str) -> PretrainConfig {
        let text = format!(
            "out_dir = \"runs/ssl\"\nmethod = {{ kind = \"{method}\", projection_hidden = 8, \
             projection_dim = 4 }}\n[[sources]]\nname = \"toy\"\n\
             source = {{ kind = \"folder\", root = \"data\" }}\n"
        );
        PretrainConfig::from_toml_str(&text, &[]).unwrap()
    }

    fn features(encoder: &Backbone, device: &Device) -> Vec<f32> {
        let x = Tensor::<4>::ones([2, 1, 16, 16], device) * 0.3;
        encoder
            .valid()
            .forward_features(x.valid())
            .into_data()
            .iter::<f32>()
            .collect()
    }

    /// Continued pretraining starts the online encoder and the momentum copy (MoCo's key,
    /// BYOL's target) from the given weights, not from the fresh seeded initialisation.
    #[test]
    fn every_method_starts_each_copy_of_its_encoder_from_the_given_weights() {
        let device = Device::flex().autodiff();
        let plain = device.clone().without_autodiff();
        let start = Backbone::new(BackboneKind::Resnet18, 1, &device);
        let expected = features(&start, &plain);
        for method in ["simclr", "moco", "byol"] {
            let config = config(method);
            let fresh = initial_method(&config, 64, None, &device, &Silent);
            assert_ne!(features(fresh.encoder(), &plain), expected, "{method}");
            let started = initial_method(&config, 64, Some(start.clone()), &device, &Silent);
            assert_eq!(features(started.encoder(), &plain), expected, "{method}");
            if method == "simclr" {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            started.save(dir.path()).unwrap();
            let target = ProjectedEncoder::new(BackboneKind::Resnet18, 1, 8, 4, &device);
            let target = load_module(target, &dir.path().join("target.bpk")).unwrap();
            assert_eq!(
                features(&target.encoder, &plain),
                expected,
                "{method} target"
            );
        }
    }
}
