//! `medxfer`: transfer learning for medical images from the command line.
//!
//! This layer parses arguments, validates them, dispatches to the library crates and maps
//! errors to a one-line message and a non-zero exit code.

mod commands;
mod dicom_decoder;
mod heap;
mod progress;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "medxfer",
    version,
    about = "Transfer learning for medical images"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model from a TOML config (resumes an interrupted run in the same folder).
    Train(commands::train::TrainArgs),
    /// Compute metrics (with confidence intervals) from a run folder's predictions.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Test whether two runs differ on the same test images (paired DeLong, McNemar).
    Compare(commands::compare::CompareArgs),
    /// Average finished runs' test probabilities per image (backbone / recipe ensembles).
    Ensemble(commands::ensemble::EnsembleArgs),
    /// Classify images with a trained run.
    Predict(commands::predict::PredictArgs),
    /// Where a classification run looks: Grad-CAM family, occlusion, saliency, integrated gradients.
    Explain(commands::explain::ExplainArgs),
    /// What a classification run's fold models learnt: t-SNE of their features of their own
    /// test images, with the classes' k-NN agreement (into RUN_DIR/embedding for study reports).
    Embed(commands::embed::EmbedArgs),
    /// Perturbation robustness of a binary run: AUC per strength with DeLong CIs (bbox, corruptions).
    Robustness(commands::robustness::RobustnessArgs),
    /// External validation: a finished run's fold models on another dataset (then `evaluate`).
    Validate(commands::validate::ValidateArgs),
    /// Self-supervised pretraining (SimCLR, MoCo v2, BYOL) of an encoder on unlabelled images.
    Pretrain(commands::pretrain::PretrainArgs),
    /// k-NN and linear-probe quality of a pretrained encoder's frozen embeddings.
    SslEval(commands::ssl_eval::SslEvalArgs),
    /// Classical baseline (k-NN, logistic, elastic net, SVM) on pixels, frozen backbone
    /// features or IBSI radiomics of the lesion mask, nested CV on the folds of a train config;
    /// writes a run folder.
    Baseline(commands::baseline::BaselineArgs),
    /// A paper-style table (mean ± sd over folds) of finished runs and SSL evaluations.
    Table(commands::table::TableArgs),
    /// Study grids: run (sharded), merge into the SQLite store, query, HTML report.
    #[command(subcommand)]
    Study(commands::study::StudyCommand),
    /// Fetch or list pretrained weights.
    #[command(subcommand)]
    Weights(commands::weights::WeightsCommand),
    /// Statistics on score tables: AUC with CI, paired comparisons, metrics.
    #[command(subcommand)]
    Stats(commands::stats::StatsCommand),
    /// Benchmarks that print our time beside the reference implementation's.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Convert DICOM / NIfTI to PNG or npz.
    Convert(commands::convert::ConvertArgs),
    /// De-identify DICOM files (PS3.15 Basic Application Level Confidentiality Profile).
    Deid(commands::deid::DeidArgs),
    /// Serve a classification run: JSON API, Grad-CAM overlays and a web page for clinicians.
    Serve(commands::serve::ServeArgs),
    /// Export a classification run's fold models for deployment elsewhere (ONNX).
    Export(commands::export::ExportArgs),
}

fn main() -> std::process::ExitCode {
    heap::tune_for_tensors();
    let cli = Cli::parse();
    dicom_decoder::register();
    let result = match cli.command {
        Command::Train(args) => commands::train::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Ensemble(args) => commands::ensemble::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Embed(args) => commands::embed::run(args),
        Command::Robustness(args) => commands::robustness::run(args),
        Command::Pretrain(args) => commands::pretrain::run(args),
        Command::SslEval(args) => commands::ssl_eval::run(args),
        Command::Baseline(args) => commands::baseline::run(args),
        Command::Table(args) => commands::table::run(args),
        Command::Study(cmd) => commands::study::run(cmd),
        Command::Weights(cmd) => commands::weights::run(cmd),
        Command::Stats(cmd) => commands::stats::run(cmd),
        Command::Bench(cmd) => commands::bench::run(cmd),
        Command::Convert(args) => commands::convert::run(args),
        Command::Deid(args) => commands::deid::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Export(args) => commands::export::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, so the culprit (file, key, row) is visible. A cause
/// whose text the line already ends with is left out: library errors often print their source
/// themselves ("path: No such file or directory"), and it would otherwise appear twice.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug)]
    struct WithSource(std::io::Error);

    impl std::fmt::Display for WithSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "run/config.toml: {}", self.0)
        }
    }

    impl std::error::Error for WithSource {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_printed_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let expected = format!("loading the run: run/config.toml: {io}");
        let err = anyhow::Error::new(WithSource(io)).context("loading the run");
        assert_eq!(one_line(&err), expected);
        let chained = anyhow::anyhow!("inner").context("outer");
        assert_eq!(one_line(&chained), "outer: inner");
    }
}
