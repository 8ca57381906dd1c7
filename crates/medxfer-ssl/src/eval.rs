//! `medxfer ssl-eval`: how good are a frozen encoder's embeddings for a labelled task? For each
//! fold of the `medxfer train` config (same data, classes and split), embed the fold's training
//! (+ validation) images and its test images, classify the test images by k-NN and by a linear
//! probe, and score accuracy, balanced accuracy and MCC with `medxfer-eval`'s confusion matrix.

use medxfer_events::Reporter;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use medxfer_data::{ImageCache, PreprocessSpec};
use medxfer_eval::confusion::ConfusionMatrix;
use medxfer_eval::report::MeanSd;
use medxfer_models::Backbone;
use serde::Serialize;

use crate::SslError;
use crate::embed::{EncoderInput, embed_images};
use crate::encoder_file::read_encoder;
use crate::probe::{LinearProbe, ProbeConfig, ProbeRegularisation, knn_predict, select_probe_c};
use medxfer_train::TrainConfig;
use medxfer_train::batches::mix_seed;
use medxfer_train::fold::FoldIndices;
use medxfer_train::run::{load_dataset, make_folds, resolve_device};

/// Which encoder to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderChoice {
    /// An `encoder.bpk` written by `medxfer pretrain`; `{fold}` in the path is replaced by the
    /// fold index (one encoder per fold, each pretrained without that fold's test images).
    File(String),
    /// A randomly initialised encoder of the config's `model.backbone` and `model.in_channels`,
    /// fed the config's `data.image_size` (after `--set`): the baseline an SSL encoder must beat
    /// on the same evaluation.
    Random,
}

#[derive(Debug, Clone)]
pub struct SslEvalOptions {
    pub encoder: EncoderChoice,
    pub train_config: PathBuf,
    pub overrides: Vec<String>,
    /// One fold, or every fold of the split.
    pub fold: Option<usize>,
    pub k: usize,
    pub probe: ProbeConfig,
    /// The linear probe's L2 strength: fixed, or chosen per fold by CV.
    pub probe_c: ProbeRegularisation,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Scores {
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub mcc: f64,
    /// F1 averaged over classes weighted by support (paper 003's Table 6.1 reports it).
    pub f1_weighted: f64,
}

impl Scores {
    fn of(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Scores, SslError> {
        let cm = ConfusionMatrix::new(y_true, y_pred, n_classes)?;
        Ok(Scores {
            accuracy: cm.accuracy(),
            balanced_accuracy: cm.balanced_accuracy(),
            mcc: cm.mcc(),
            f1_weighted: cm.f1_weighted(),
        })
    }

    /// Mean and sample sd over folds of every score, by the same [`MeanSd`] as a run's
    /// `metrics.json`; the sd is None for a single fold.
    fn mean_sd(all: &[Scores]) -> (Scores, Option<Scores>) {
        let stat = |score: fn(&Scores) -> f64| {
            MeanSd::of(&all.iter().map(score).collect::<Vec<_>>()).unwrap_or(MeanSd {
                mean: f64::NAN,
                sd: None,
                n_folds: 0,
            })
        };
        let acc = stat(|s| s.accuracy);
        let bal = stat(|s| s.balanced_accuracy);
        let mcc = stat(|s| s.mcc);
        let f1 = stat(|s| s.f1_weighted);
        let mean = Scores {
            accuracy: acc.mean,
            balanced_accuracy: bal.mean,
            mcc: mcc.mean,
            f1_weighted: f1.mean,
        };
        let sd = (|| {
            Some(Scores {
                accuracy: acc.sd?,
                balanced_accuracy: bal.sd?,
                mcc: mcc.sd?,
                f1_weighted: f1.sd?,
            })
        })();
        (mean, sd)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FoldEval {
    pub fold: usize,
    pub encoder: String,
    pub n_train: usize,
    pub n_test: usize,
    pub knn: Scores,
    pub linear_probe: Scores,
    /// The linear probe's inverse L2 strength (chosen on the training rows when cross-validated).
    pub probe_c: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SslEvalReport {
    pub class_names: Vec<String>,
    pub k: usize,
    pub folds: Vec<FoldEval>,
    pub mean_knn: Scores,
    pub mean_linear_probe: Scores,
    /// Sample sd over folds (absent for one fold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sd_knn: Option<Scores>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sd_linear_probe: Option<Scores>,
}

impl fmt::Display for SslEvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "classes: {}   k-NN k = {}",
            self.class_names.join(", "),
            self.k
        )?;
        writeln!(
            f,
            "fold  n_train n_test | kNN acc  bal.acc  MCC    F1w    | probe acc  bal.acc  MCC    F1w     C"
        )?;
        let line = |f: &mut fmt::Formatter<'_>,
                    name: &str,
                    n: String,
                    k: &Scores,
                    p: &Scores,
                    c: String| {
            writeln!(
                f,
                "{name:<5} {n:<14} | {:.4}   {:.4}   {:>6.3} {:.4} | {:.4}     {:.4}   {:>6.3} {:.4}  {c}",
                k.accuracy,
                k.balanced_accuracy,
                k.mcc,
                k.f1_weighted,
                p.accuracy,
                p.balanced_accuracy,
                p.mcc,
                p.f1_weighted
            )
        };
        for fold in &self.folds {
            line(
                f,
                &fold.fold.to_string(),
                format!("{:>7} {:>6}", fold.n_train, fold.n_test),
                &fold.knn,
                &fold.linear_probe,
                fold.probe_c.to_string(),
            )?;
        }
        line(
            f,
            "mean",
            String::new(),
            &self.mean_knn,
            &self.mean_linear_probe,
            String::new(),
        )?;
        if let (Some(knn), Some(probe)) = (&self.sd_knn, &self.sd_linear_probe) {
            line(f, "sd", String::new(), knn, probe, String::new())?;
        }
        Ok(())
    }
}

const RANDOM_INIT_STREAM: u64 = 0x4A4D;

pub fn ssl_eval(
    options: &SslEvalOptions,
    events: &dyn Reporter,
) -> Result<SslEvalReport, SslError> {
    let config = TrainConfig::load(&options.train_config, &options.overrides)?;
    let dataset = load_dataset(&config)?;
    let labels = dataset.labels();
    let n_classes = dataset.class_names.len();
    let folds = make_folds(&config, &dataset, &labels)?;
    let selected = selected_folds(options, folds)?;
    let device = resolve_device(config.device()?)?;
    let mut caches: HashMap<u32, ImageCache> = HashMap::new();
    let mut results = Vec::new();
    for fold in &selected {
        let (encoder, input, name) =
            encoder_for_fold(&options.encoder, &config, fold.fold, &device)?;
        if !caches.contains_key(&input.size) {
            let cache = ImageCache::build(
                &dataset,
                &PreprocessSpec {
                    size: input.size,
                    channels: 1,
                },
                config.data.cache_dir.as_deref(),
            )?;
            caches.insert(input.size, cache);
        }
        let cache = &caches[&input.size];
        let train: Vec<usize> = fold.train.iter().chain(&fold.val).copied().collect();
        let embed = |indices: &[usize]| {
            let images: Vec<_> = indices.iter().map(|&i| cache.get(i)).collect();
            embed_images(&encoder, &images, &input, 64, &device)
        };
        let (train_x, test_x) = (embed(&train), embed(&fold.test));
        let dim = encoder.feature_dim();
        let train_y: Vec<usize> = train.iter().map(|&i| labels[i]).collect();
        let test_y: Vec<usize> = fold.test.iter().map(|&i| labels[i]).collect();
        let knn = knn_predict(&train_x, &train_y, &test_x, dim, options.k, n_classes);
        let c = probe_c(
            options, &train_x, &train_y, dim, n_classes, fold.fold, events,
        );
        let probe = LinearProbe::fit(&train_x, &train_y, dim, n_classes, c, &options.probe)
            .predict(&test_x);
        let row = FoldEval {
            fold: fold.fold,
            encoder: name,
            n_train: train.len(),
            n_test: fold.test.len(),
            knn: Scores::of(&test_y, &knn, n_classes)?,
            linear_probe: Scores::of(&test_y, &probe, n_classes)?,
            probe_c: c,
        };
        events.note(format!(
            "fold {}: k-NN bal.acc {:.4} MCC {:.3}; linear probe bal.acc {:.4} MCC {:.3}",
            row.fold,
            row.knn.balanced_accuracy,
            row.knn.mcc,
            row.linear_probe.balanced_accuracy,
            row.linear_probe.mcc
        ));
        results.push(row);
    }
    let knn: Vec<Scores> = results.iter().map(|r| r.knn).collect();
    let probe: Vec<Scores> = results.iter().map(|r| r.linear_probe).collect();
    let (mean_knn, sd_knn) = Scores::mean_sd(&knn);
    let (mean_linear_probe, sd_linear_probe) = Scores::mean_sd(&probe);
    Ok(SslEvalReport {
        class_names: dataset.class_names.clone(),
        k: options.k,
        mean_knn,
        mean_linear_probe,
        sd_knn,
        sd_linear_probe,
        folds: results,
    })
}

/// The fold `--fold` names, or every fold.
fn selected_folds(
    options: &SslEvalOptions,
    folds: Vec<FoldIndices>,
) -> Result<Vec<FoldIndices>, SslError> {
    let Some(k) = options.fold else {
        return Ok(folds);
    };
    let count = folds.len();
    let fold = folds.into_iter().nth(k).ok_or_else(|| {
        SslError::invalid(
            "--fold",
            format!(
                "{} has {count} fold(s); fold {k} does not exist",
                options.train_config.display()
            ),
        )
    })?;
    Ok(vec![fold])
}

/// The linear probe's regularisation: fixed, or chosen by cross-validation on the fold's
/// training rows (the choice and every candidate's score are reported).
fn probe_c(
    options: &SslEvalOptions,
    train_x: &[f32],
    train_y: &[usize],
    dim: usize,
    n_classes: usize,
    fold: usize,
    events: &dyn Reporter,
) -> f64 {
    match &options.probe_c {
        ProbeRegularisation::Fixed(c) => *c,
        ProbeRegularisation::CrossValidated { grid, folds } => {
            let (c, scores) = select_probe_c(
                train_x,
                train_y,
                dim,
                n_classes,
                &options.probe,
                grid,
                *folds,
            );
            let listed: Vec<String> = grid
                .iter()
                .zip(&scores)
                .map(|(c, s)| format!("C={c}: {s:.4}"))
                .collect();
            events.note(format!(
                "fold {fold}: linear-probe C by {folds}-fold CV on the training rows (balanced accuracy): {}; chosen C = {c}",
                listed.join(", ")
            ));
            c
        }
    }
}

fn encoder_for_fold(
    choice: &EncoderChoice,
    config: &TrainConfig,
    fold: usize,
    device: &burn::prelude::Device,
) -> Result<(Backbone, EncoderInput, String), SslError> {
    match choice {
        EncoderChoice::File(pattern) => {
            let path = PathBuf::from(pattern.replace("{fold}", &fold.to_string()));
            let (encoder, info) = read_encoder(&path, device)?;
            let input = EncoderInput {
                size: info.input_size,
                channels: info.in_channels,
                mean: info.mean,
                std: info.std,
            };
            Ok((encoder, input, path.display().to_string()))
        }
        EncoderChoice::Random => {
            let (backbone, channels) = (config.model.backbone, config.model.in_channels);
            let size = config.data.image_size;
            device.seed(mix_seed(&[config.seed, fold as u64, RANDOM_INIT_STREAM]));
            let encoder = Backbone::new(backbone, channels, device);
            let input = EncoderInput {
                size,
                channels,
                mean: vec![0.5],
                std: vec![0.5],
            };
            let name = format!("random {backbone} ({channels} channel(s), {size} px)");
            Ok((encoder, input, name))
        }
    }
}
