//! Measures data loading on a class-folder dataset (default: the shared BUSI copy):
//! dataset scan, cold image-cache build (decode + preprocess, persisted), warm reload,
//! and augmented-batch throughput.
//!
//! `cargo run --release -p medxfer-data --example cache_timing -- [ROOT] [SIZE]`

use std::path::PathBuf;
use std::time::Instant;

use medxfer_data::augment::{GaussianBlurConfig, RandomResizedCropConfig};
use medxfer_data::{
    AugmentConfig, Augmenter, BatchSpec, Dataset, DatasetSource, ImageCache, PreprocessSpec,
    augmented_batch,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/work/shared/data/busi".into()),
    );
    let size: u32 = args.next().map_or(Ok(128), |s| s.parse())?;
    println!("rayon threads: {}", rayon::current_num_threads());

    let start = Instant::now();
    let data = Dataset::load(&DatasetSource::Folder {
        root,
        classes: None,
    })?;
    println!(
        "scan: {} images in {:.3} s",
        data.len(),
        start.elapsed().as_secs_f64()
    );

    let spec = PreprocessSpec { size, channels: 3 };
    let cache_dir =
        std::env::temp_dir().join(format!("medxfer-cache-timing-{}", std::process::id()));

    let start = Instant::now();
    let uncached = ImageCache::build(&data, &spec, None)?;
    println!(
        "decode+preprocess, no cache dir: {:.3} s",
        start.elapsed().as_secs_f64()
    );

    let mut no_masks = data.clone();
    for sample in &mut no_masks.samples {
        sample.mask_paths.clear();
    }
    let start = Instant::now();
    ImageCache::build(&no_masks, &spec, None)?;
    println!(
        "decode+preprocess, images only (masks dropped): {:.3} s",
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let cold = ImageCache::build(&data, &spec, Some(&cache_dir))?;
    let cold_s = start.elapsed().as_secs_f64();
    let file = cold
        .cache_file()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "cold (hash + decode + preprocess + write {:.1} MB): {cold_s:.3} s, loaded_from_disk={}",
        bytes as f64 / 1e6,
        cold.loaded_from_disk()
    );

    let start = Instant::now();
    let warm = ImageCache::build(&data, &spec, Some(&cache_dir))?;
    println!(
        "warm (hash inputs + read cache): {:.3} s, loaded_from_disk={}",
        start.elapsed().as_secs_f64(),
        warm.loaded_from_disk()
    );
    assert!((0..data.len()).all(|i| warm.get(i) == uncached.get(i)));

    let augmenter = Augmenter::new(AugmentConfig {
        random_resized_crop: Some(RandomResizedCropConfig {
            scale_min: 0.8,
            scale_max: 1.0,
            ..Default::default()
        }),
        hflip: 0.5,
        rotation_degrees: 10.0,
        brightness: 0.1,
        contrast: 0.1,
        ..AugmentConfig::default()
    })?;
    let mean = [0.485, 0.456, 0.406];
    let std = [0.229, 0.224, 0.225];
    let batch_spec = BatchSpec {
        channels: 3,
        mean: &mean,
        std: &std,
    };
    let indices: Vec<usize> = (0..data.len()).collect();
    let start = Instant::now();
    let mut values = 0;
    for chunk in indices.chunks(32) {
        values += augmented_batch(&warm, chunk, Some(&augmenter), 0, 1, &batch_spec).len();
    }
    let epoch_s = start.elapsed().as_secs_f64();
    println!(
        "augmented epoch (crop, flip, rotate, jitter; {} batches of 32, {values} floats): {epoch_s:.3} s ({:.2} ms/image)",
        indices.len().div_ceil(32),
        epoch_s * 1e3 / indices.len() as f64
    );
    let blur = Augmenter::new(AugmentConfig {
        gaussian_blur: Some(GaussianBlurConfig {
            sigma_min: 0.1,
            sigma_max: 2.0,
            p: 1.0,
        }),
        ..*augmenter.config()
    })?;
    let start = Instant::now();
    for chunk in indices.chunks(32) {
        augmented_batch(&warm, chunk, Some(&blur), 0, 1, &batch_spec);
    }
    println!(
        "same plus Gaussian blur p=1: {:.3} s",
        start.elapsed().as_secs_f64()
    );

    std::fs::remove_dir_all(&cache_dir)?;
    Ok(())
}
