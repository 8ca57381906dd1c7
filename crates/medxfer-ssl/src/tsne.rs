//! t-SNE of encoder embeddings (the `bhtsne` crate's Barnes-Hut t-SNE, seeded initial
//! layout), drawn twice side by side: coloured by class and by source.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use burn::prelude::Device;
use medxfer_events::Reporter;
use medxfer_models::Backbone;
use medxfer_train::batches::mix_seed;

use crate::SslError;
use crate::config::PretrainConfig;
use crate::embed::{EncoderInput, embed_images};
use crate::error::write_atomic;
use crate::plot::{Area, Canvas, scatter_chart};
use crate::pool::{Pool, split_key};

/// 2-D t-SNE coordinates of the L2-normalised rows of `features` (n x dim), or `None` when
/// there are too few points for a perplexity of at least 2.
pub fn tsne_2d(
    features: &[f32],
    dim: usize,
    perplexity: f64,
    iterations: usize,
    seed: u64,
) -> Option<Vec<(f64, f64)>> {
    let n = if dim == 0 { 0 } else { features.len() / dim };
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

/// What each plotted point is.
pub struct PointLabels<'a> {
    pub ids: &'a [String],
    pub classes: &'a [usize],
    pub class_names: &'a [String],
    pub sources: &'a [usize],
    pub source_names: &'a [String],
}

/// `tsne.png` (by class | by source) and `tsne.csv` in `dir`.
pub fn write_tsne(
    dir: &Path,
    coords: &[(f64, f64)],
    labels: &PointLabels,
    title: &str,
) -> Result<(), SslError> {
    let mut canvas = Canvas::new(1200, 600);
    let left = Area {
        x: 0.0,
        y: 0.0,
        width: 600.0,
        height: 600.0,
    };
    let right = Area { x: 600.0, ..left };
    scatter_chart(
        &mut canvas,
        left,
        &format!("{title}: by class"),
        coords,
        labels.classes,
        labels.class_names,
    );
    scatter_chart(
        &mut canvas,
        right,
        &format!("{title}: by source"),
        coords,
        labels.sources,
        labels.source_names,
    );
    canvas.save_png(&dir.join("tsne.png"))?;
    let mut csv = String::from("image_id,source,class,x,y\n");
    for (i, &(x, y)) in coords.iter().enumerate() {
        let id = labels.ids[i].replace('"', "\"\"");
        csv.push_str(&format!(
            "\"{id}\",{},{},{x:.5},{y:.5}\n",
            labels.source_names[labels.sources[i]], labels.class_names[labels.classes[i]]
        ));
    }
    write_atomic(&dir.join("tsne.csv"), csv.as_bytes())
}

/// The pool keys t-SNE embeds: all of them, or a seeded sample of `tsne_max_points`.
fn tsne_keys(pool: &Pool, config: &PretrainConfig) -> Vec<u64> {
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
    keys
}

/// Each point's id, class index, class names and source index. Classes are named
/// `source/class` when sources differ, so equal names never merge.
fn point_labels(pool: &Pool, keys: &[u64]) -> (Vec<String>, Vec<usize>, Vec<String>, Vec<usize>) {
    let multi = pool.sources.len() > 1;
    let mut class_names: Vec<String> = Vec::new();
    let mut classes = Vec::with_capacity(keys.len());
    let mut sources = Vec::with_capacity(keys.len());
    let mut ids = Vec::with_capacity(keys.len());
    for &key in keys {
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
    (ids, classes, class_names, sources)
}

/// t-SNE of the final encoder's embeddings of (a seeded sample of) the whole pool.
pub fn plot_tsne(
    encoder: &Backbone,
    pool: &Pool,
    input: &EncoderInput,
    config: &PretrainConfig,
    out_dir: &Path,
    plain: &Device,
    events: &dyn Reporter,
) -> Result<(), SslError> {
    let keys = tsne_keys(pool, config);
    let images: Vec<_> = keys.iter().map(|&k| pool.image(k)).collect();
    let features = embed_images(encoder, &images, input, 64, plain);
    let dim = encoder.feature_dim();
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
    let (ids, classes, class_names, sources) = point_labels(pool, &keys);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_clusters_stay_separated() {
        // Two tight clusters in 8-D around orthogonal directions.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let noise = Normal::new(0.0f32, 0.05).unwrap();
        let mut features = Vec::new();
        for i in 0..60 {
            let axis = if i < 30 { 0 } else { 1 };
            for j in 0..8 {
                features.push(if j == axis { 1.0 } else { 0.0 } + noise.sample(&mut rng));
            }
        }
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
}
