//! `medxfer ssl-eval`: k-NN and linear-probe accuracy, balanced accuracy and MCC of a frozen
//! encoder's embeddings, on the folds of a `medxfer train` config.

use std::path::PathBuf;

use anyhow::Context;
use medxfer_ssl::eval::{EncoderChoice, SslEvalOptions, ssl_eval};
use medxfer_ssl::probe::{ProbeConfig, ProbeRegularisation};

#[derive(clap::Args, Debug)]
pub struct SslEvalArgs {
    /// `encoder.bpk` from `medxfer pretrain` (`{fold}` is replaced by the fold index), or
    /// `random` for a randomly initialised encoder (the baseline): the config's model.backbone
    /// and model.in_channels, fed data.image_size.
    #[arg(long)]
    encoder: String,
    /// The `medxfer train` config giving the labelled data, classes and split.
    #[arg(long)]
    config: PathBuf,
    /// Override a setting of that config (dotted keys), as `medxfer train --set`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Evaluate one fold only (default: every fold).
    #[arg(long)]
    fold: Option<usize>,
    /// Neighbours for k-NN.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Inverse L2 strength of the linear probe (scikit-learn's C), or `auto`: chosen per fold
    /// from 1e-3, 1e-2, 0.1, 1, 10 by 3-fold CV on that fold's training rows.
    #[arg(long, default_value = "auto")]
    c: String,
    /// Also write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: SslEvalArgs) -> anyhow::Result<()> {
    if args.k == 0 {
        anyhow::bail!("--k must be at least 1");
    }
    let probe_c = if args.c == "auto" {
        ProbeRegularisation::cross_validated()
    } else {
        match args.c.parse::<f64>() {
            Ok(c) if c > 0.0 && c.is_finite() => ProbeRegularisation::Fixed(c),
            _ => anyhow::bail!("--c must be a positive number or `auto`, not {:?}", args.c),
        }
    };
    let encoder = if args.encoder == "random" {
        EncoderChoice::Random
    } else {
        EncoderChoice::File(args.encoder.clone())
    };
    let options = SslEvalOptions {
        encoder,
        train_config: args.config.clone(),
        overrides: args.overrides.clone(),
        fold: args.fold,
        k: args.k,
        probe: ProbeConfig::default(),
        probe_c,
    };
    let report = ssl_eval(&options, crate::progress::reporter(false).as_ref())?;
    print!("{report}");
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&report)?;
        medxfer_atomic::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
