//! `medxfer baseline --features radiomics`: IBSI radiomics features of each image's lesion
//! (crate `medxfer-radiomics`), computed on the image at its own resolution, grey values
//! 0..255, inside the OR of its mask files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use medxfer_atomic::run_files::SEGMENTATIONS;
use medxfer_baseline::Matrix;
use medxfer_data::dataset::{Dataset, ImageSource, Sample};
use medxfer_data::decode::decode_luma_file;
use medxfer_eval::predictions::Split;
use medxfer_eval::segmentations::Segmentations;
use medxfer_events::{Reporter, TaskKind};
use medxfer_radiomics::{Family, RadiomicsConfig, RoiVolume, extract};
use medxfer_train::predict::restore_mask;

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
    masks: &MaskSource,
    events: &dyn Reporter,
) -> anyhow::Result<(Matrix, Vec<String>)> {
    config.validate()?;
    if Family::ALL.iter().all(|f| excluded.contains(f)) {
        anyhow::bail!("--radiomics-without leaves no radiomics feature family");
    }
    let task = events.task("radiomics features", dataset.samples.len(), TaskKind::Work);
    let mut names: Vec<String> = Vec::new();
    let mut values = Vec::new();
    let mut empty_predictions = 0;
    for sample in &dataset.samples {
        let (mut features, whole_image) = sample_features(sample, config, masks)?;
        empty_predictions += usize::from(whole_image);
        features.retain(|f| !excluded.contains(&f.name.family));
        if names.is_empty() {
            names = features.iter().map(|f| f.name.key()).collect();
        }
        values.extend(features.iter().map(|f| f.value));
        task.step(None);
    }
    drop(task);
    if empty_predictions > 0 {
        events.warn(format!(
            "{empty_predictions} image(s) whose predicted mask was empty or too small for texture features: their features describe the whole image"
        ));
    }
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

/// Where each image's lesion mask comes from.
pub(super) enum MaskSource {
    /// The dataset's own (expert) mask files.
    Data,
    /// A segmentation run's out-of-fold predicted masks, by image id.
    Predicted {
        run: PathBuf,
        masks: HashMap<String, PathBuf>,
    },
}

impl MaskSource {
    /// The test-row predictions of the segmentation run `run` (its `segmentations.csv`).
    pub(super) fn predicted_by(run: &Path) -> anyhow::Result<MaskSource> {
        let path = run.join(SEGMENTATIONS);
        if !path.is_file() {
            anyhow::bail!(
                "{}: not found; --radiomics-masks-from takes a finished segmentation run",
                path.display()
            );
        }
        let masks = Segmentations::read_csv(&path)?
            .rows
            .into_iter()
            .filter(|row| row.split == Split::Test)
            .map(|row| (row.image_id, run.join(row.prediction)))
            .collect();
        Ok(MaskSource::Predicted {
            run: run.to_path_buf(),
            masks,
        })
    }
}

/// The features of one sample, and whether they describe the whole image (its predicted mask
/// was empty).
fn sample_features(
    sample: &Sample,
    config: &RadiomicsConfig,
    masks: &MaskSource,
) -> anyhow::Result<(Vec<medxfer_radiomics::Feature>, bool)> {
    let image_path = match &sample.source {
        ImageSource::File(path) => path,
        ImageSource::Npz { file, .. } => anyhow::bail!(
            "{}: radiomics needs image files with lesion masks; npz arrays have none",
            file.display()
        ),
    };
    let image = decode_luma_file(image_path)?;
    let intensities: Vec<f64> = image
        .pixels
        .iter()
        .map(|&p| p as f64 * GREY_SCALE)
        .collect();
    let features_inside = |mask: Vec<bool>| -> anyhow::Result<Vec<medxfer_radiomics::Feature>> {
        let volume = RoiVolume::image_2d(
            image.width as usize,
            image.height as usize,
            [1.0, 1.0],
            intensities.clone(),
            mask,
        )?;
        let features = extract(&volume, config)?;
        match features.iter().find(|f| !f.value.is_finite()) {
            Some(bad) => anyhow::bail!(
                "radiomics feature {} is not finite ({})",
                bad.name.key(),
                bad.value
            ),
            None => Ok(features),
        }
    };
    let in_context = |e: anyhow::Error| e.context(format!("{}", image_path.display()));
    match masks {
        MaskSource::Data => {
            let mask = data_mask(sample, image_path, image.width, image.height)?;
            Ok((features_inside(mask).map_err(in_context)?, false))
        }
        MaskSource::Predicted { run, masks } => {
            let path = masks.get(&sample.id).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: image {:?} is not a test image of the segmentation run (its segmentations.csv)",
                    run.display(),
                    sample.id
                )
            })?;
            // A prediction can miss the lesion or keep a speck too small for texture
            // matrices: such an image is described as a whole (counted and warned about).
            match features_inside(resized_mask(path, image.width, image.height)?) {
                Ok(features) => Ok((features, false)),
                Err(_) => {
                    let whole = vec![true; image.pixels.len()];
                    Ok((features_inside(whole).map_err(in_context)?, true))
                }
            }
        }
    }
}

/// The OR of the sample's mask files; no mask, or an empty one, is an error.
fn data_mask(
    sample: &Sample,
    image_path: &Path,
    width: u32,
    height: u32,
) -> anyhow::Result<Vec<bool>> {
    if sample.mask_paths.is_empty() {
        anyhow::bail!(
            "{}: no lesion mask (radiomics features are computed inside the mask)",
            image_path.display()
        );
    }
    let mut mask = vec![false; (width * height) as usize];
    for mask_path in &sample.mask_paths {
        merge_mask(&mut mask, mask_path, width, height)?;
    }
    if !mask.iter().any(|&m| m) {
        anyhow::bail!(
            "{}: its lesion mask ({}) has no foreground pixel",
            image_path.display(),
            sample.mask_paths[0].display()
        );
    }
    Ok(mask)
}

/// A predicted mask (the network's square input: the image padded to a centred square, then
/// resized) brought back to its image's size by undoing that preprocessing.
fn resized_mask(path: &Path, width: u32, height: u32) -> anyhow::Result<Vec<bool>> {
    let mask = decode_luma_file(path)?;
    if mask.width != mask.height {
        anyhow::bail!(
            "{}: a predicted mask is square (the network's input), this one is {} x {}",
            path.display(),
            mask.width,
            mask.height
        );
    }
    Ok(restore_mask(
        &mask.pixels,
        mask.width,
        width,
        height,
        MASK_THRESHOLD as f64,
    )
    .into_iter()
    .map(|v| v != 0)
    .collect())
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
