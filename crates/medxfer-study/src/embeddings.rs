//! The report's t-SNE panels: for every cell whose folder holds a `medxfer embed` result
//! (`embedding/tsne.csv` and `embedding.json`), one row of panels, a fold each (every fold
//! model's features of its own test images), coloured by true class with misclassified images
//! hollow, and the classes' k-NN agreement in the features per fold.

use std::fmt::Write;

use medxfer_atomic::run_files::{EMBEDDING, EMBEDDING_SUMMARY, TSNE_CSV};
use medxfer_report::tsne::{EmbeddingSummary, read_tsne_csv};

use crate::StudyError;
use crate::report::{ReportCell, escape};
use crate::svg::{ScatterPanel, scatter_panels};

/// `<h2>Feature embeddings (t-SNE)</h2>` with a figure per embedded cell and a note naming the
/// cells without one; empty when no cell has been embedded.
pub fn embedding_panels(cells: &[ReportCell]) -> Result<String, StudyError> {
    let mut figures = String::new();
    let mut without = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let folder = cell.dir.join(EMBEDDING);
        let (csv, json) = (folder.join(TSNE_CSV), folder.join(EMBEDDING_SUMMARY));
        if !(csv.exists() && json.exists()) {
            without.push(cell.name.clone());
            continue;
        }
        let summary = EmbeddingSummary::read(&json)?;
        let points = read_tsne_csv(&csv)?;
        let panels: Vec<ScatterPanel> = summary
            .folds
            .iter()
            .map(|fold| ScatterPanel {
                title: match (fold.knn_agreement, fold.chance_agreement) {
                    (Some(a), Some(c)) => format!("fold {}: {a:.2} ({c:.2})", fold.fold),
                    _ => format!("fold {}", fold.fold),
                },
                points: points
                    .iter()
                    .filter(|p| p.fold == fold.fold)
                    .map(|p| {
                        let class = summary
                            .class_names
                            .iter()
                            .position(|c| *c == p.class)
                            .unwrap_or(summary.class_names.len());
                        (p.x, p.y, class, p.predicted != p.class)
                    })
                    .collect(),
            })
            .collect();
        let three = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        let title = format!(
            "{}. {}: mean {}-NN agreement {} (chance {})",
            i + 1,
            cell.name,
            summary.settings.neighbours,
            three(summary.mean_knn_agreement()),
            three(summary.mean_chance_agreement())
        );
        let _ = write!(
            figures,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            scatter_panels(&title, &panels, &summary.class_names, "misclassified"),
            escape(&title)
        );
    }
    if figures.is_empty() {
        return Ok(figures);
    }
    let mut html = format!(
        "<h2>Feature embeddings (t-SNE)</h2><p class=\"note\">Each fold model's pooled backbone features of its own test images (<code>medxfer embed</code>), laid out by t-SNE per fold; under each panel the fold's leave-one-out k-NN agreement of the true classes in the features (cosine distance), the share of images whose neighbours mostly share their class, and in brackets its chance level (the same neighbourhoods with the labels shuffled, which class imbalance lifts well above one half).</p>{figures}"
    );
    if !without.is_empty() {
        let _ = write!(
            html,
            "<p class=\"note\">Not embedded (run <code>medxfer embed CELL</code>): {}</p>",
            escape(&without.join(", "))
        );
    }
    Ok(html)
}
