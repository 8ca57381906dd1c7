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
    let rows = unit_rows(features, dim);
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

/// The rows of a row-major `features` matrix scaled to unit length (a zero row stays zero).
fn unit_rows(features: &[f32], dim: usize) -> Vec<Vec<f32>> {
    features
        .chunks_exact(dim)
        .map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter().map(|v| v / norm).collect()
        })
        .collect()
}

/// Each row's `k` nearest other rows (cosine distance of the L2-normalised rows, as t-SNE
/// sees them), nearest first: computed once, then scored against any labelling.
pub struct Neighbours {
    lists: Vec<Vec<usize>>,
}

impl Neighbours {
    /// `None` with fewer than `k + 1` rows (or `k` = 0, or a ragged matrix).
    pub fn new(features: &[f32], dim: usize, k: usize) -> Option<Self> {
        let n = features.len().checked_div(dim).unwrap_or(0);
        if k == 0 || n <= k || features.len() != n * dim {
            return None;
        }
        let rows = unit_rows(features, dim);
        let lists = (0..n)
            .map(|i| {
                let mut others: Vec<(f32, usize)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let dot: f32 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
                        (1.0 - dot, j)
                    })
                    .collect();
                others.sort_by(|a, b| a.0.total_cmp(&b.0));
                others[..k].iter().map(|&(_, j)| j).collect()
            })
            .collect();
        Some(Neighbours { lists })
    }

    /// Leave-one-out k-NN agreement: the fraction of rows whose majority class among their
    /// neighbours is their own (a tie goes to the nearest neighbour among the tied classes).
    pub fn agreement(&self, classes: &[usize]) -> f64 {
        let num_classes = classes.iter().max().map_or(0, |&c| c + 1);
        let agreeing = self
            .lists
            .iter()
            .enumerate()
            .filter(|&(i, list)| {
                let mut votes = vec![0usize; num_classes];
                for &j in list {
                    votes[classes[j]] += 1;
                }
                let most = votes.iter().copied().max().unwrap_or(0);
                let winner = list.iter().map(|&j| classes[j]).find(|&c| votes[c] == most);
                winner == Some(classes[i])
            })
            .count();
        agreeing as f64 / self.lists.len() as f64
    }

    /// The agreement the same neighbourhoods give labels that have nothing to do with the
    /// features: the mean over `permutations` seeded shuffles of `classes` (same class
    /// counts). With unbalanced classes this is well above 1 / classes, so it is the
    /// reference an agreement is read against.
    pub fn chance_agreement(&self, classes: &[usize], permutations: usize, seed: u64) -> f64 {
        use rand::seq::SliceRandom;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut shuffled = classes.to_vec();
        let total: f64 = (0..permutations.max(1))
            .map(|_| {
                shuffled.shuffle(&mut rng);
                self.agreement(&shuffled)
            })
            .sum();
        total / permutations.max(1) as f64
    }
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
    /// The agreement of the same neighbourhoods under shuffled labels (the chance level).
    pub chance_agreement: Option<f64>,
}

impl EmbeddingSummary {
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| ReportError::format(path, e.to_string()))
    }

    /// The mean agreement over the folds that have one.
    pub fn mean_knn_agreement(&self) -> Option<f64> {
        mean(self.folds.iter().filter_map(|f| f.knn_agreement))
    }

    /// The mean chance agreement over the folds that have one.
    pub fn mean_chance_agreement(&self) -> Option<f64> {
        mean(self.folds.iter().filter_map(|f| f.chance_agreement))
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let values: Vec<f64> = values.collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
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
        let neighbours = Neighbours::new(&features, 8, 5).unwrap();
        let classes: Vec<usize> = (0..60).map(|i| usize::from(i >= 30)).collect();
        assert_eq!(neighbours.agreement(&classes), 1.0);
        // One row of the first cluster labelled as the second: it alone disagrees with its
        // neighbours, and it is too few to outvote any neighbour's own four of five.
        let mut flipped = classes.clone();
        flipped[0] = 1;
        assert_eq!(neighbours.agreement(&flipped), 59.0 / 60.0);
        // Shuffled labels agree about as often as chance: near 0.5 for two equal classes
        // (the exact expectation for k = 5 at n = 60 is 0.5; +-0.1 covers 20 shuffles).
        let chance = neighbours.chance_agreement(&classes, 20, 7);
        assert!((0.4..0.6).contains(&chance), "{chance}");
        assert!(Neighbours::new(&features[..8 * 5], 8, 5).is_none());
        assert!(Neighbours::new(&features, 8, 0).is_none());
    }

    #[test]
    fn chance_agreement_rises_with_class_imbalance() {
        // 54 of one class and 6 of the other, labels unrelated to the clusters: most rows
        // belong to the big class and most of their neighbours do too.
        let features = two_clusters();
        let neighbours = Neighbours::new(&features, 8, 5).unwrap();
        let classes: Vec<usize> = (0..60).map(|i| usize::from(i % 10 == 0)).collect();
        let chance = neighbours.chance_agreement(&classes, 20, 7);
        assert!(chance > 0.8, "{chance}");
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
