//! 2-D t-SNE of feature vectors (the `bhtsne` crate's Barnes-Hut t-SNE from a seeded initial
//! layout) and a neighbourhood score of how well the classes separate in the features
//! themselves, which t-SNE pictures only qualitatively; and `embedding.json`, the summary
//! `medxfer embed` writes beside its t-SNE and the study report reads.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::ReportError;

/// 2-D t-SNE coordinates of the L2-normalised rows of `features` (n x dim), or `None` when
/// there are too few points for a perplexity of at least 2.
pub fn tsne_2d(
    features: &[f32],
    dim: usize,
    perplexity: f64,
    iterations: usize,
    seed: u64,
) -> Option<Vec<(f64, f64)>> {
    let n = features.len().checked_div(dim).unwrap_or(0);
    // bhtsne requires n - 1 >= 3 * perplexity.
    let perplexity = perplexity.min(((n.saturating_sub(1)) / 3) as f64).floor();
    if perplexity < 2.0 {
        return None;
    }
    let rows: Vec<Vec<f32>> = features
        .chunks_exact(dim)
        .map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter().map(|v| v / norm).collect()
        })
        .collect();
    let samples: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1e-4).ok()?;
    let init: Vec<f32> = (0..n * 2).map(|_| normal.sample(&mut rng)).collect();
    let embedding = bhtsne::tSNE::<f32, &[f32], 2>::new(&samples)
        .perplexity(perplexity as f32)
        .epochs(iterations)
        .initial_embedding(init)
        .barnes_hut(0.5, |a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .embedding();
    Some(
        embedding
            .chunks_exact(2)
            .map(|p| (p[0] as f64, p[1] as f64))
            .collect(),
    )
}

/// Leave-one-out k-nearest-neighbour agreement: the fraction of rows whose majority class
/// among their `k` nearest other rows (cosine distance of the L2-normalised rows, as t-SNE
/// sees them; ties go to the nearest neighbour's class) is their own class. `None` with fewer
/// than `k + 1` rows.
pub fn knn_agreement(features: &[f32], dim: usize, classes: &[usize], k: usize) -> Option<f64> {
    let n = classes.len();
    if dim == 0 || k == 0 || n <= k || features.len() != n * dim {
        return None;
    }
    let rows: Vec<Vec<f32>> = features
        .chunks_exact(dim)
        .map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter().map(|v| v / norm).collect()
        })
        .collect();
    let num_classes = classes.iter().max().map_or(0, |&c| c + 1);
    let agreeing = (0..n)
        .filter(|&i| {
            let mut others: Vec<(f32, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let dot: f32 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
                    (1.0 - dot, classes[j])
                })
                .collect();
            others.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut votes = vec![0usize; num_classes];
            for &(_, class) in &others[..k] {
                votes[class] += 1;
            }
            let most = *votes.iter().max().unwrap_or(&0);
            // The nearest neighbour among the tied classes breaks a tie.
            let winner = others[..k]
                .iter()
                .find(|(_, c)| votes[*c] == most)
                .map(|&(_, c)| c);
            winner == Some(classes[i])
        })
        .count();
    Some(agreeing as f64 / n as f64)
}

/// How the embedding is computed; validated by [`EmbedSettings::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmbedSettings {
    /// t-SNE perplexity (lowered to what a small fold allows: at most (n - 1) / 3).
    pub perplexity: f64,
    /// t-SNE gradient-descent iterations.
    pub iterations: usize,
    /// Seed of t-SNE's initial layout.
    pub seed: u64,
    /// Neighbours in the k-NN agreement.
    pub neighbours: usize,
}

impl Default for EmbedSettings {
    fn default() -> Self {
        EmbedSettings {
            perplexity: 30.0,
            iterations: 1000,
            seed: 0,
            neighbours: 5,
        }
    }
}

impl EmbedSettings {
    /// The first problem, as a message naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.perplexity.is_finite() && self.perplexity >= 2.0) {
            return Err(format!("perplexity {} must be at least 2", self.perplexity));
        }
        if self.iterations < 250 {
            return Err(format!(
                "iterations {} are too few for t-SNE to settle (at least 250)",
                self.iterations
            ));
        }
        if self.neighbours == 0 {
            return Err("neighbours must be at least 1".to_string());
        }
        Ok(())
    }
}

/// `embedding.json`: what was embedded, how, and each fold's agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingSummary {
    pub run_dir: PathBuf,
    pub class_names: Vec<String>,
    pub feature_dim: usize,
    pub settings: EmbedSettings,
    pub folds: Vec<FoldSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldSummary {
    pub fold: usize,
    pub images: usize,
    pub knn_agreement: Option<f64>,
}

impl EmbeddingSummary {
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| ReportError::format(path, e.to_string()))
    }

    /// The mean agreement over the folds that have one.
    pub fn mean_knn_agreement(&self) -> Option<f64> {
        let values: Vec<f64> = self.folds.iter().filter_map(|f| f.knn_agreement).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// One row of a `tsne.csv` written by `medxfer embed`: an image's place in its fold's t-SNE,
/// its true class and the fold model's predicted class, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsnePoint {
    pub fold: usize,
    pub image_id: String,
    /// The image's source in a multi-source run; empty otherwise.
    pub source: String,
    pub class: String,
    pub predicted: String,
    pub x: f64,
    pub y: f64,
}

/// `fold,image_id,source,class,predicted,x,y` with a header, quoted where needed.
pub fn tsne_csv(points: &[TsnePoint]) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for point in points {
        writer
            .serialize(point)
            .map_err(|e| ReportError::Invalid(format!("t-SNE row: {e}")))?;
    }
    writer
        .into_inner()
        .map_err(|e| ReportError::Invalid(format!("t-SNE rows: {e}")))
}

/// The rows of a `tsne.csv`; a malformed row is an error naming the file and line.
pub fn read_tsne_csv(path: &Path) -> Result<Vec<TsnePoint>, ReportError> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| ReportError::format(path, e.to_string()))?;
    reader
        .deserialize()
        .map(|row| row.map_err(|e| ReportError::format(path, e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tight clusters of 30 rows in 8-D around orthogonal directions.
    fn two_clusters() -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let noise = Normal::new(0.0f32, 0.05).unwrap();
        let mut features = Vec::new();
        for i in 0..60 {
            let axis = if i < 30 { 0 } else { 1 };
            for j in 0..8 {
                features.push(if j == axis { 1.0 } else { 0.0 } + noise.sample(&mut rng));
            }
        }
        features
    }

    #[test]
    fn separated_clusters_stay_separated() {
        let features = two_clusters();
        let coords = tsne_2d(&features, 8, 10.0, 500, 1).unwrap();
        let centre = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            let (sx, sy) = coords[r]
                .iter()
                .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
            (sx / n, sy / n)
        };
        let (a, b) = (centre(0..30), centre(30..60));
        let between = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        let within = coords[..30]
            .iter()
            .map(|p| ((p.0 - a.0).powi(2) + (p.1 - a.1).powi(2)).sqrt())
            .sum::<f64>()
            / 30.0;
        assert!(between > 3.0 * within, "between {between} within {within}");
        assert!(tsne_2d(&features[..8 * 5], 8, 30.0, 300, 1).is_none());
    }

    #[test]
    fn knn_agreement_is_one_for_separated_classes_and_counts_each_disagreement() {
        let features = two_clusters();
        let classes: Vec<usize> = (0..60).map(|i| usize::from(i >= 30)).collect();
        assert_eq!(knn_agreement(&features, 8, &classes, 5), Some(1.0));
        // One row of the first cluster labelled as the second: it alone disagrees with its
        // neighbours, and it is too few to outvote any neighbour's own four of five.
        let mut flipped = classes.clone();
        flipped[0] = 1;
        assert_eq!(knn_agreement(&features, 8, &flipped, 5), Some(59.0 / 60.0));
        // Labels unrelated to the clusters agree about half the time.
        let alternating: Vec<usize> = (0..60).map(|i| i % 2).collect();
        let chance = knn_agreement(&features, 8, &alternating, 5).unwrap();
        assert!((0.2..0.8).contains(&chance), "{chance}");
        assert_eq!(knn_agreement(&features[..8 * 5], 8, &classes[..5], 5), None);
    }

    #[test]
    fn tsne_rows_round_trip_through_csv_and_a_bad_row_names_the_file() {
        let points = vec![
            TsnePoint {
                fold: 2,
                image_id: "benign/a, \"b\".png".into(),
                source: String::new(),
                class: "benign".into(),
                predicted: "malignant".into(),
                x: -1.25,
                y: 3.5,
            };
            2
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tsne.csv");
        std::fs::write(&path, tsne_csv(&points).unwrap()).unwrap();
        assert_eq!(read_tsne_csv(&path).unwrap(), points);
        std::fs::write(
            &path,
            "fold,image_id,source,class,predicted,x,y\nx,a,,b,b,1,2\n",
        )
        .unwrap();
        let err = read_tsne_csv(&path).unwrap_err().to_string();
        assert!(err.contains("tsne.csv") && err.contains("line: 2"), "{err}");
    }
}
