//! The pretraining run: pool, method, epochs of two-view steps, a validation loss and a
//! collapse check per epoch, a checkpoint committed after every epoch (so a killed run resumes
//! where it stopped and ends as an uninterrupted one would), then the encoder, the curves and
//! the t-SNE plot.
//!
//! Layout of `out_dir`: `config.toml` (resolved), `progress.json` (commit point, curve so far),
//! `ckpt-EEEE/` (method state + optimizer after epoch EEEE), `curves.csv`, `curves.png`,
//! `encoder.bpk` + `encoder.json`, `tsne.png`, `tsne.csv`, `summary.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::atomic_file::write_atomic;
use crate::batches::mix_seed;
use crate::run::{CODE_VERSION, resolve_device};
use crate::run_folder::{
    DataFingerprint, Progress, RunFolder, commit_progress, load_progress, resume,
};
use crate::schedule::learning_rate;
use crate::ssl::config::PretrainConfig;
use crate::ssl::continuation::check_continuable;
use crate::ssl::curves::{SslCurveRow, write_curves};
use crate::ssl::ema::stale_target_warning;
use crate::ssl::embed::{EncoderInput, embed_images};
use crate::ssl::encoder_file::{ENCODER_FORMAT, EncoderInfo, write_encoder};
use crate::ssl::exclusion::test_images;
use crate::ssl::method::{SslMethod, build_method};
use crate::ssl::pool::{Pool, batches, split_key};
use crate::ssl::tsne::{PointLabels, tsne_2d, write_tsne};
use crate::ssl::views::view_batch;
use medxfer_atomic::run_files::{CHECKPOINT_PREFIX, OPTIMIZER};
use medxfer_events::{Reporter, TaskKind};
use sha2::{Digest, Sha256};

const INIT_STREAM: u64 = 0x55_1A17;
const SHUFFLE_STREAM: u64 = 0x55_5AFF;
const VIEW_STREAM: u64 = 0x55_A6;
const VAL_STREAM: u64 = 0x55_7A1;
const STEP_STREAM: u64 = 0x55_57E9;

/// The commit point of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PretrainProgress {
    pub epochs_done: usize,
    /// Checkpoint folder holding the state after `epochs_done` epochs.
    pub current: Option<String>,
    pub curve: Vec<SslCurveRow>,
    pub finished: bool,
    /// The shorter run this one continued (`--continue-from`), and after which epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_from: Option<ContinuedFrom>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContinuedFrom {
    pub run: PathBuf,
    pub after_epoch: usize,
}

impl PretrainProgress {
    fn load(dir: &Path) -> Result<Option<Self>, TrainError> {
        load_progress(dir)
    }

    /// Write atomically, then remove checkpoint folders neither this nor the commit before
    /// it names.
    fn commit(&self, dir: &Path) -> Result<(), TrainError> {
        commit_progress(dir, self)
    }
}

impl Progress for PretrainProgress {
    fn checkpoints(&self) -> Vec<&str> {
        self.current.as_deref().into_iter().collect()
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

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
/// starts from that shorter run's last checkpoint (see [`crate::ssl::continuation`]).
/// Everything is checked (continuation, data) before the folder is claimed.
pub fn pretrain(
    config: &PretrainConfig,
    options: &PretrainOptions,
    events: &dyn Reporter,
) -> Result<PretrainSummary, TrainError> {
    let out_dir = config.out_dir.clone();
    let continuation = match &options.continue_from {
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
    for line in pool.describe() {
        events.note(line);
    }
    events.note(match &excluded_from {
        Some(test) => format!(
            "excluded {} pretraining image(s) that are among {}",
            pool.excluded(),
            test.description
        ),
        None => "no evaluation split given ([exclude]): no image was excluded".into(),
    });
    let pool_size = pool.train_size();
    let batch_size = config.train.batch_size.min(pool_size);
    if batch_size < config.train.batch_size {
        events.note(format!(
            "batch size lowered from {} to the {pool_size} training images of the pool",
            config.train.batch_size
        ));
    }
    let device = resolve_device(config.device()?)?.autodiff();
    let _folder = RunFolder::claim_for(
        config,
        &pool_fingerprint(&pool)?,
        options.allow_data_change,
        events,
    )?;

    let plain = device.clone().without_autodiff();
    device.seed(mix_seed(&[config.seed, INIT_STREAM]));
    let mut method = build_method(config, pool_size, &device, events);
    let mut optimizer = new_adam(config.train.weight_decay);
    let mut progress = PretrainProgress::default();
    let resumed = resume(&out_dir, events, |p: &PretrainProgress| {
        p.current
            .as_ref()
            .map(|current| restore(method.as_mut(), config, &out_dir.join(current)))
            .transpose()
    })?;
    if let Some((committed, state)) = resumed.filter(|(p, _)| p.epochs_done > 0) {
        progress = committed;
        if let (Some(saved), Some(current)) = (state, &progress.current) {
            optimizer = saved;
            events.note(format!(
                "resuming after epoch {} ({current})",
                progress.epochs_done
            ));
        }
    } else if let Some((source, start)) = continuation {
        let current = start.current.clone().unwrap_or_default();
        optimizer = restore(method.as_mut(), config, &source.join(current))?;
        progress = start;
    }
    let draws = config.train.samples_per_epoch.unwrap_or(pool_size);
    let steps_per_epoch = batches(&pool.epoch_keys(draws, 0), batch_size).len();
    let total_steps = steps_per_epoch * config.train.epochs;
    if let Some((role, momentum)) = config.method.moving_average_target()
        && let Some(warning) =
            stale_target_warning(config.method.name(), role, momentum, total_steps)
    {
        events.warn(warning);
    }
    let input = EncoderInput {
        size: config.views.crop,
        channels: config.model.in_channels,
        mean: vec![config.views.mean],
        std: vec![config.views.std],
    };
    let val_keys = pool.val_keys();
    let method_name = config.method.name();

    for epoch in progress.epochs_done..config.train.epochs {
        let epoch_started = Instant::now();
        let keys = pool.epoch_keys(
            draws,
            mix_seed(&[config.seed, SHUFFLE_STREAM, epoch as u64]),
        );
        let epoch_batches = batches(&keys, batch_size);
        let bar = events.task(
            format!("{method_name} {}/{}", epoch + 1, config.train.epochs),
            epoch_batches.len(),
            TaskKind::Epoch,
        );
        let (mut loss_sum, mut spread_sum, mut seen) = (0.0, 0.0, 0usize);
        let mut lr = config.train.lr;
        for (b, batch) in epoch_batches.iter().enumerate() {
            lr = learning_rate(
                &config.train.schedule,
                config.train.lr,
                epoch * steps_per_epoch + b,
                steps_per_epoch,
                total_steps,
            );
            let stream =
                |view: u64| mix_seed(&[config.seed, VIEW_STREAM, epoch as u64, b as u64, view]);
            let v1 = view_batch(
                batch,
                |k| pool.image(k),
                &config.views,
                input.channels,
                stream(1),
                &device,
            );
            let v2 = view_batch(
                batch,
                |k| pool.image(k),
                &config.views,
                input.channels,
                stream(2),
                &device,
            );
            let step_seed = mix_seed(&[config.seed, STEP_STREAM, epoch as u64, b as u64]);
            let step = method.train_step(v1, v2, lr, &mut optimizer, step_seed);
            let loss = step.loss;
            if !loss.is_finite() {
                return Err(TrainError::Other(format!(
                    "{method_name}: the loss became {loss} in epoch {} (batch {}); lower train.lr (now {})",
                    epoch + 1,
                    b + 1,
                    config.train.lr
                )));
            }
            loss_sum += loss * batch.len() as f64;
            spread_sum += step.spread * batch.len() as f64;
            seen += batch.len();
            bar.step(Some(format!("loss {:.4}", loss_sum / seen as f64)));
        }
        drop(bar);

        let val_loss = validation_loss(
            method.as_ref(),
            &pool,
            &val_keys,
            config,
            batch_size,
            &plain,
        );
        let spread = spread_sum / seen.max(1) as f64;
        let collapsed = spread.is_finite() && spread < config.monitor.collapse_threshold;
        let name = format!("{CHECKPOINT_PREFIX}{:04}", epoch + 1);
        let dir = out_dir.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        method.save(&dir)?;
        let opt_path = dir.join(OPTIMIZER);
        optimizer
            .save(&opt_path)
            .map_err(|e| TrainError::Checkpoint {
                path: opt_path.clone(),
                message: format!("cannot save optimizer state: {e}"),
            })?;
        let seconds = epoch_started.elapsed().as_secs_f64();
        let train_loss = loss_sum / seen.max(1) as f64;
        progress.curve.push(SslCurveRow {
            epoch: epoch + 1,
            lr,
            train_loss,
            val_loss,
            spread,
            collapsed,
            seconds,
        });
        progress.current = Some(name);
        progress.epochs_done = epoch + 1;
        progress.commit(&out_dir)?;
        write_curves(
            &out_dir,
            &progress.curve,
            config.monitor.collapse_threshold,
            method_name,
        )?;
        events.note(format!(
            "{method_name} epoch {}/{}: train loss {train_loss:.4}  val loss {val_loss:.4}  spread {spread:.3}  {seconds:.1}s",
            epoch + 1,
            config.train.epochs
        ));
        if collapsed {
            events.warn(format!(
                "{method_name} epoch {}: the projections have collapsed (spread {spread:.4} < {}): every image maps to nearly the same point",
                epoch + 1,
                config.monitor.collapse_threshold
            ));
        }
    }

    let last = progress
        .curve
        .last()
        .cloned()
        .ok_or_else(|| TrainError::Other("no epoch was trained".into()))?;
    let first = progress.curve[0].clone();
    let encoder_path = out_dir.join("encoder.bpk");
    if !progress.finished || !encoder_path.exists() {
        let info = EncoderInfo {
            format: ENCODER_FORMAT.into(),
            version: 1,
            backbone: config.model.backbone,
            in_channels: config.model.in_channels,
            input_size: config.views.crop,
            mean: vec![config.views.mean; config.model.in_channels],
            std: vec![config.views.std; config.model.in_channels],
            method: method_name.into(),
            epochs: progress.epochs_done,
            seed: config.seed,
            final_spread: last.spread,
            collapsed: last.collapsed,
            excluded_test_images: pool.excluded(),
            excluded_from: excluded_from.as_ref().map(|t| t.description.clone()),
            code_version: CODE_VERSION.into(),
        };
        write_encoder(method.encoder(), &info, &encoder_path)?;
        if config.monitor.tsne {
            plot_tsne(
                method.as_ref(),
                &pool,
                &input,
                config,
                &out_dir,
                &plain,
                events,
            )?;
        }
        progress.finished = true;
        progress.commit(&out_dir)?;
    }
    let summary = PretrainSummary {
        method: method_name.into(),
        out_dir: out_dir.clone(),
        encoder: encoder_path.clone(),
        epochs: progress.epochs_done,
        pool_train_images: pool_size,
        pool_val_images: val_keys.len(),
        excluded_test_images: pool.excluded(),
        first_train_loss: first.train_loss,
        last_train_loss: last.train_loss,
        first_val_loss: first.val_loss,
        last_val_loss: last.val_loss,
        final_spread: last.spread,
        collapsed: last.collapsed,
        seconds: progress.curve.iter().map(|r| r.seconds).sum(),
    };
    let text =
        serde_json::to_string_pretty(&summary).map_err(|e| TrainError::Other(e.to_string()))?;
    write_atomic(&out_dir.join("summary.json"), text.as_bytes())?;
    if summary.collapsed && config.monitor.fail_on_collapse {
        return Err(TrainError::Other(format!(
            "{method_name} run collapsed: the spread of the normalised projections ended at {:.4} (< {}), so the encoder {} maps every image to nearly the same point; it was written but is not a useful initialisation. Try a lower train.lr, more epochs or stronger views (see {}/curves.png)",
            summary.final_spread,
            config.monitor.collapse_threshold,
            encoder_path.display(),
            out_dir.display()
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

/// The loss on the held-out images, with views drawn from a fixed stream so that epochs are
/// compared on the same views.
fn validation_loss(
    method: &dyn SslMethod,
    pool: &Pool,
    keys: &[u64],
    config: &PretrainConfig,
    batch_size: usize,
    plain: &Device,
) -> f64 {
    let (mut sum, mut seen) = (0.0, 0usize);
    for (b, batch) in keys.chunks(batch_size).enumerate() {
        // Contrastive losses need at least two images in a batch.
        if batch.len() < 2 {
            continue;
        }
        let stream = |view: u64| mix_seed(&[config.seed, VAL_STREAM, b as u64, view]);
        let v1 = view_batch(
            batch,
            |k| pool.image(k),
            &config.views,
            config.model.in_channels,
            stream(1),
            plain,
        );
        let v2 = view_batch(
            batch,
            |k| pool.image(k),
            &config.views,
            config.model.in_channels,
            stream(2),
            plain,
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

/// t-SNE of the final encoder's embeddings of (a seeded sample of) the whole pool.
fn plot_tsne(
    method: &dyn SslMethod,
    pool: &Pool,
    input: &EncoderInput,
    config: &PretrainConfig,
    out_dir: &Path,
    plain: &Device,
    events: &dyn Reporter,
) -> Result<(), TrainError> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut keys: Vec<u64> = pool
        .train_keys()
        .into_iter()
        .chain(pool.val_keys())
        .collect();
    if keys.len() > config.monitor.tsne_max_points {
        keys.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(mix_seed(&[
            config.seed,
            0x75E,
        ])));
        keys.truncate(config.monitor.tsne_max_points);
        keys.sort_unstable();
    }
    let images: Vec<_> = keys.iter().map(|&k| pool.image(k)).collect();
    let features = embed_images(method.encoder(), &images, input, 64, plain);
    let dim = method.encoder().feature_dim();
    let Some(coords) = tsne_2d(
        &features,
        dim,
        config.monitor.tsne_perplexity,
        config.monitor.tsne_iterations,
        config.seed,
    ) else {
        events.note(format!(
            "t-SNE skipped: {} images are too few for a perplexity of 2",
            keys.len()
        ));
        return Ok(());
    };
    // Classes are named `source/class` when sources differ, so equal names never merge.
    let multi = pool.sources.len() > 1;
    let mut class_names: Vec<String> = Vec::new();
    let mut classes = Vec::with_capacity(keys.len());
    let mut sources = Vec::with_capacity(keys.len());
    let mut ids = Vec::with_capacity(keys.len());
    for &key in &keys {
        let (s, i) = split_key(key);
        let source = &pool.sources[s];
        let sample = &source.dataset.samples[i];
        let class = &source.dataset.class_names[sample.label];
        let name = if multi {
            format!("{}/{class}", source.name)
        } else {
            class.clone()
        };
        let index = match class_names.iter().position(|c| *c == name) {
            Some(index) => index,
            None => {
                class_names.push(name);
                class_names.len() - 1
            }
        };
        classes.push(index);
        sources.push(s);
        ids.push(sample.id.clone());
    }
    let source_names: Vec<String> = pool.sources.iter().map(|s| s.name.clone()).collect();
    let labels = PointLabels {
        ids: &ids,
        classes: &classes,
        class_names: &class_names,
        sources: &sources,
        source_names: &source_names,
    };
    write_tsne(
        out_dir,
        &coords,
        &labels,
        &format!("{} encoder t-SNE", config.method.name()),
    )
}

/// The progress a continuation starts from: `source`'s curve and checkpoint, not finished.
fn continuation_start(
    config: &PretrainConfig,
    source: &Path,
) -> Result<PretrainProgress, TrainError> {
    let recorded = PretrainConfig::load(&source.join("config.toml"), &[])?;
    let progress = PretrainProgress::load(source)?.ok_or_else(|| TrainError::Config {
        path: source.to_path_buf(),
        message: "not a pretraining run folder (no progress.json)".into(),
    })?;
    check_continuable(&recorded, source, progress.epochs_done, config)?;
    Ok(PretrainProgress {
        finished: false,
        continued_from: Some(ContinuedFrom {
            run: source.to_path_buf(),
            after_epoch: progress.epochs_done,
        }),
        ..progress
    })
}

/// With `--continue-from`: the shorter run's folder and the progress to start from, or None
/// when this run already has epochs of its own (it resumes them instead).
fn continuation(
    config: &PretrainConfig,
    out_dir: &Path,
    source: &Path,
    events: &dyn Reporter,
) -> Result<Option<(PathBuf, PretrainProgress)>, TrainError> {
    let own = PretrainProgress::load(out_dir)?.map_or(0, |p| p.epochs_done);
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

/// Load the method state and optimizer saved in the checkpoint folder `dir`.
fn restore(
    method: &mut dyn SslMethod,
    config: &PretrainConfig,
    dir: &Path,
) -> Result<ModuleOptimizer, TrainError> {
    method.load(dir)?;
    let path = dir.join(OPTIMIZER);
    new_adam(config.train.weight_decay)
        .load(&path)
        .map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            message: format!("cannot load optimizer state: {e}"),
        })
}

/// The pool's images as one fingerprint: each source's manifest, weight and split sizes.
fn pool_fingerprint(pool: &Pool) -> Result<DataFingerprint, TrainError> {
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
