//! t-SNE of encoder embeddings (`medxfer_report::tsne`), drawn twice side by side: coloured
//! by class and by source.

use std::path::Path;

use burn::prelude::Device;
use medxfer_atomic::run_files::{TSNE_CSV, TSNE_PNG};
use medxfer_events::Reporter;
use medxfer_models::Backbone;
use medxfer_report::tsne::tsne_2d;
use medxfer_train::batches::mix_seed;

use crate::SslError;
use crate::config::PretrainConfig;
use crate::embed::{EncoderInput, embed_images};
use crate::error::write_atomic;
use crate::plot::{Area, Canvas, scatter_chart};
use crate::pool::{Pool, split_key};

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
    canvas.save_png(&dir.join(TSNE_PNG))?;
    let mut csv = String::from("image_id,source,class,x,y\n");
    for (i, &(x, y)) in coords.iter().enumerate() {
        let id = labels.ids[i].replace('"', "\"\"");
        csv.push_str(&format!(
            "\"{id}\",{},{},{x:.5},{y:.5}\n",
            labels.source_names[labels.sources[i]], labels.class_names[labels.classes[i]]
        ));
    }
    write_atomic(&dir.join(TSNE_CSV), csv.as_bytes())
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
