//! `medxfer baseline --features radiomics`: IBSI radiomics features of each image's lesion
//! (crate `medxfer-radiomics`), computed on the image at its own resolution, grey values
//! 0..255, inside the OR of its mask files.

use std::path::Path;

use anyhow::Context;
use medxfer_baseline::Matrix;
use medxfer_data::dataset::{Dataset, ImageSource, Sample};
use medxfer_data::decode::decode_luma_file;
use medxfer_events::{Reporter, TaskKind};
use medxfer_radiomics::{Family, RadiomicsConfig, RoiVolume, extract};

/// Mask pixels at or above half of full scale are lesion (BUSI and BUS-BRA masks are 0/255).
const MASK_THRESHOLD: f32 = 0.5;
/// Luma in [0, 1] back to 8-bit grey levels, the scale a fixed bin width is given in.
const GREY_SCALE: f64 = 255.0;

/// The features of every sample (rows in dataset order) but those of the `excluded`
/// families, and their names (`family.name`).
pub(super) fn radiomics_matrix(
    dataset: &Dataset,
    config: &RadiomicsConfig,
    excluded: &[Family],
    events: &dyn Reporter,
) -> anyhow::Result<(Matrix, Vec<String>)> {
    config.validate()?;
    if Family::ALL.iter().all(|f| excluded.contains(f)) {
        anyhow::bail!("--radiomics-without leaves no radiomics feature family");
    }
    let task = events.task("radiomics features", dataset.samples.len(), TaskKind::Work);
    let mut names: Vec<String> = Vec::new();
    let mut values = Vec::new();
    for sample in &dataset.samples {
        let mut features = sample_features(sample, config)?;
        features.retain(|f| !excluded.contains(&f.name.family));
        if names.is_empty() {
            names = features.iter().map(|f| f.name.key()).collect();
        }
        values.extend(features.iter().map(|f| f.value));
        task.step(None);
    }
    drop(task);
    events.note(format!(
        "features: {} images x {} radiomics features",
        dataset.samples.len(),
        names.len()
    ));
    Ok((
        Matrix::new(dataset.samples.len(), names.len(), values)?,
        names,
    ))
}

fn sample_features(
    sample: &Sample,
    config: &RadiomicsConfig,
) -> anyhow::Result<Vec<medxfer_radiomics::Feature>> {
    let image_path = match &sample.source {
        ImageSource::File(path) => path,
        ImageSource::Npz { file, .. } => anyhow::bail!(
            "{}: radiomics needs image files with lesion masks; npz arrays have none",
            file.display()
        ),
    };
    if sample.mask_paths.is_empty() {
        anyhow::bail!(
            "{}: no lesion mask (radiomics features are computed inside the mask)",
            image_path.display()
        );
    }
    let image = decode_luma_file(image_path)?;
    let mut mask = vec![false; image.pixels.len()];
    for mask_path in &sample.mask_paths {
        merge_mask(&mut mask, mask_path, image.width, image.height)?;
    }
    if !mask.iter().any(|&m| m) {
        anyhow::bail!(
            "{}: its lesion mask ({}) has no foreground pixel",
            image_path.display(),
            sample.mask_paths[0].display()
        );
    }
    let intensities = image
        .pixels
        .iter()
        .map(|&p| p as f64 * GREY_SCALE)
        .collect();
    let volume = RoiVolume::image_2d(
        image.width as usize,
        image.height as usize,
        [1.0, 1.0],
        intensities,
        mask,
    )
    .with_context(|| format!("{}", image_path.display()))?;
    let features = extract(&volume, config).with_context(|| format!("{}", image_path.display()))?;
    if let Some(bad) = features.iter().find(|f| !f.value.is_finite()) {
        anyhow::bail!(
            "{}: radiomics feature {} is not finite ({})",
            image_path.display(),
            bad.name.key(),
            bad.value
        );
    }
    Ok(features)
}

/// ORs a mask file into `mask`; a mask of another size than its image is an error.
fn merge_mask(mask: &mut [bool], path: &Path, width: u32, height: u32) -> anyhow::Result<()> {
    let decoded = decode_luma_file(path)?;
    if (decoded.width, decoded.height) != (width, height) {
        anyhow::bail!(
            "{}: mask is {} x {}, its image {} x {}",
            path.display(),
            decoded.width,
            decoded.height,
            width,
            height
        );
    }
    for (m, &p) in mask.iter_mut().zip(&decoded.pixels) {
        *m |= p >= MASK_THRESHOLD;
    }
    Ok(())
}
