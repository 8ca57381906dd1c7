//! What a finished classification run's models learnt, as a picture: every fold model embeds
//! the test images of its own fold (the images it never trained on) with its backbone's
//! pooled features, the features the head reads; t-SNE lays each fold's points out in 2-D,
//! coloured by true class, and a leave-one-out k-NN agreement in the features says in one
//! number how well the classes separate there. Folds are embedded separately because each
//! fold model has its own feature space (paper 000 shows such t-SNE panels per model).

use std::collections::HashMap;
use std::path::Path;

use medxfer_atomic::run_files::{CONFIG, EMBEDDING_SUMMARY, PREDICTIONS, TSNE_CSV, TSNE_PNG};
use medxfer_data::dataset::Dataset;
use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskKind};
use medxfer_events::Reporter;
use medxfer_report::plot::{Area, Canvas, scatter_chart};
pub use medxfer_report::tsne::{EmbedSettings, EmbeddingSummary, FoldSummary, TsnePoint};
use medxfer_report::tsne::{Neighbours, tsne_2d, tsne_csv};
use medxfer_train::TrainConfig;
use medxfer_train::predict::RunPredictor;
use medxfer_train::run::{decode_images, load_dataset};

use crate::ExplainError;

/// One fold's embedded test images.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldEmbedding {
    pub fold: usize,
    pub points: Vec<TsnePoint>,
    /// Each point's true class, as an index into the run's classes.
    pub classes: Vec<usize>,
    /// Leave-one-out k-NN agreement of the true classes in the features, and of shuffled
    /// classes (chance); `None` when the fold has too few images.
    pub knn_agreement: Option<f64>,
    pub chance_agreement: Option<f64>,
}

/// Embed every fold's test images of the classification run in `run_dir` and write
/// `tsne.csv`, `tsne.png` and `embedding.json` into `out_dir` (created when missing).
pub fn embed_run(
    run_dir: &Path,
    out_dir: &Path,
    settings: &EmbedSettings,
    events: &dyn Reporter,
) -> Result<EmbeddingSummary, ExplainError> {
    settings
        .validate()
        .map_err(|message| ExplainError::Invalid {
            what: "embedding settings",
            message,
        })?;
    let predictor = RunPredictor::open(run_dir)?;
    if predictor.task() != TaskKind::Classification {
        return Err(ExplainError::Segmentation {
            run: run_dir.to_path_buf(),
        });
    }
    let config = TrainConfig::load(&run_dir.join(CONFIG), &[])?;
    config.data.apply_decode_limits();
    let dataset = load_dataset(&config)?;
    let cache = decode_images(&config, &dataset, events)?;
    let predictions_path = run_dir.join(PREDICTIONS);
    let predictions =
        Predictions::read_csv(&predictions_path).map_err(medxfer_train::TrainError::from)?;
    let index = sample_index(&dataset);
    let mut folds = Vec::new();
    let mut feature_dim = 0;
    for (model, &fold) in predictor.fold_numbers().iter().enumerate() {
        let rows: Vec<&PredictionRow> = predictions
            .rows
            .iter()
            .filter(|r| r.fold == fold && r.split == Split::Test)
            .collect();
        let indices = test_indices(&rows, &index, &predictions_path)?;
        let features = predictor.classifier_features(model, &cache, &indices)?;
        feature_dim = features.len() / indices.len().max(1);
        let embedded = embed_fold(fold, &rows, &predictions, &features, feature_dim, settings)?;
        match &embedded {
            Some(f) => events.note(format!(
                "fold {fold}: {} test images embedded, {}-NN agreement {} (chance {})",
                f.points.len(),
                settings.neighbours,
                three_digits(f.knn_agreement),
                three_digits(f.chance_agreement)
            )),
            None => events.note(format!(
                "fold {fold}: {} test images are too few for t-SNE; skipped",
                rows.len()
            )),
        }
        folds.extend(embedded);
    }
    let summary = EmbeddingSummary {
        run_dir: run_dir.to_path_buf(),
        class_names: predictions.class_names.clone(),
        feature_dim,
        settings: *settings,
        folds: folds
            .iter()
            .map(|f| FoldSummary {
                fold: f.fold,
                images: f.points.len(),
                knn_agreement: f.knn_agreement,
                chance_agreement: f.chance_agreement,
            })
            .collect(),
    };
    write_outputs(out_dir, &folds, &summary)?;
    Ok(summary)
}

/// Each sample's position in the dataset by (source, image id), the key of a predictions row.
fn sample_index(dataset: &Dataset) -> HashMap<(Option<&str>, &str), usize> {
    dataset
        .samples
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.origin.as_deref(), s.id.as_str()), i))
        .collect()
}

/// The dataset positions of a fold's test rows; a row whose image the data no longer holds is
/// an error naming the predictions file.
fn test_indices(
    rows: &[&PredictionRow],
    index: &HashMap<(Option<&str>, &str), usize>,
    predictions_path: &Path,
) -> Result<Vec<usize>, ExplainError> {
    rows.iter()
        .map(|r| {
            index
                .get(&(r.source.as_deref(), r.image_id.as_str()))
                .copied()
                .ok_or_else(|| {
                    ExplainError::output(
                        predictions_path,
                        format!(
                            "test image {:?} of fold {} is not in the run's data any more",
                            r.image_id, r.fold
                        ),
                    )
                })
        })
        .collect()
}

/// One fold's t-SNE and k-NN agreement, or `None` when the fold is too small for t-SNE.
fn embed_fold(
    fold: usize,
    rows: &[&PredictionRow],
    predictions: &Predictions,
    features: &[f32],
    dim: usize,
    settings: &EmbedSettings,
) -> Result<Option<FoldEmbedding>, ExplainError> {
    let classes = rows
        .iter()
        .map(|r| {
            predictions.class_index(&r.label).ok_or_else(|| {
                ExplainError::output(
                    PREDICTIONS,
                    format!("label {:?} is not one of the run's classes", r.label),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(coords) = tsne_2d(
        features,
        dim,
        settings.perplexity,
        settings.iterations,
        settings.seed,
    ) else {
        return Ok(None);
    };
    let points = rows
        .iter()
        .zip(coords)
        .map(|(row, (x, y))| TsnePoint {
            fold,
            image_id: row.image_id.clone(),
            source: row.source.clone().unwrap_or_default(),
            class: row.label.clone(),
            predicted: predictions.class_names[argmax(&row.scores)].clone(),
            x,
            y,
        })
        .collect();
    let neighbours = Neighbours::new(features, dim, settings.neighbours);
    Ok(Some(FoldEmbedding {
        fold,
        points,
        knn_agreement: neighbours.as_ref().map(|n| n.agreement(&classes)),
        chance_agreement: neighbours
            .as_ref()
            .map(|n| n.chance_agreement(&classes, CHANCE_SHUFFLES, settings.seed)),
        classes,
    }))
}

/// Label shuffles behind a fold's chance agreement.
const CHANCE_SHUFFLES: usize = 100;

fn three_digits(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{v:.3}"))
}

fn argmax(scores: &[f64]) -> usize {
    scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The three files, each written atomically.
fn write_outputs(
    out_dir: &Path,
    folds: &[FoldEmbedding],
    summary: &EmbeddingSummary,
) -> Result<(), ExplainError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ExplainError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let write = |name: &str, bytes: &[u8]| {
        let path = out_dir.join(name);
        medxfer_atomic::write_atomic(&path, bytes)
            .map_err(|source| ExplainError::Io { path, source })
    };
    let points: Vec<TsnePoint> = folds.iter().flat_map(|f| f.points.clone()).collect();
    write(TSNE_CSV, &tsne_csv(&points)?)?;
    let json = serde_json::to_string_pretty(summary)
        .map_err(|e| ExplainError::output(out_dir.join(EMBEDDING_SUMMARY), e.to_string()))?;
    write(EMBEDDING_SUMMARY, json.as_bytes())?;
    draw_folds(folds, summary).save_png(&out_dir.join(TSNE_PNG))?;
    Ok(())
}

/// One scatter panel per fold, up to five in a row.
fn draw_folds(folds: &[FoldEmbedding], summary: &EmbeddingSummary) -> Canvas {
    const PANEL: f64 = 360.0;
    let per_row = folds.len().clamp(1, 5);
    let rows = folds.len().div_ceil(per_row).max(1);
    let mut canvas = Canvas::new(
        (PANEL as usize * per_row) as u32,
        (PANEL as usize * rows) as u32,
    );
    for (i, fold) in folds.iter().enumerate() {
        let area = Area {
            x: (i % per_row) as f64 * PANEL,
            y: (i / per_row) as f64 * PANEL,
            width: PANEL,
            height: PANEL,
        };
        let points: Vec<(f64, f64)> = fold.points.iter().map(|p| (p.x, p.y)).collect();
        let title = match (fold.knn_agreement, fold.chance_agreement) {
            (Some(a), Some(c)) => format!(
                "fold {}: {}-NN agreement {a:.2} (chance {c:.2})",
                fold.fold, summary.settings.neighbours
            ),
            _ => format!("fold {}", fold.fold),
        };
        scatter_chart(
            &mut canvas,
            area,
            &title,
            &points,
            &fold.classes,
            &summary.class_names,
        );
    }
    canvas
}
