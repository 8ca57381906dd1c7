//! Checks that a dataset's segmentation masks are usable before training on them: every
//! sample has one, each mask has its image's size, and each is binary. Resampled or
//! JPEG-compressed masks carry intermediate greys that a threshold would silently reshape, so
//! they are refused rather than tolerated.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cache::{NpzArrays, decode_sample, load_npz_arrays};
use crate::dataset::{Dataset, ImageSource, Sample};
use crate::decode::{LumaImage, decode_luma_file};
use crate::error::DataError;

/// What to do with a sample that has no mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingMask {
    /// Refuse the dataset, naming the image.
    #[default]
    Error,
    /// Treat the sample as all background and list it in `MaskReport::missing`.
    Empty,
}

/// What `validate_masks` found in a dataset whose masks are all valid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaskReport {
    /// Mask files decoded and checked.
    pub masks_checked: usize,
    /// Dataset indices of samples without a mask, to be treated as all background (only
    /// under `MissingMask::Empty`; `ImageCache::mask` is `None` for them, see
    /// `PreparedMask::background`).
    pub missing: Vec<usize>,
    /// Dataset indices of samples whose masks hold no foreground (e.g. BUSI "normal" images).
    pub all_background: Vec<usize>,
}

/// Validates the masks of every sample (in parallel). Decodes each mask once and reads only
/// the header of each PNG/JPEG image; other formats (e.g. DICOM, npz) are decoded for their
/// size. On several faults the error is the one of the first sample in dataset order.
pub fn validate_masks(dataset: &Dataset, policy: MissingMask) -> Result<MaskReport, DataError> {
    let npz_arrays = load_npz_arrays(&npz_samples_with_masks(dataset))?;
    let outcomes: Vec<Result<Outcome, DataError>> = dataset
        .samples
        .par_iter()
        .map(|sample| check_sample(sample, policy, &npz_arrays))
        .collect();
    let mut report = MaskReport::default();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome? {
            Outcome::Missing => report.missing.push(index),
            Outcome::Checked { masks, foreground } => {
                report.masks_checked += masks;
                if !foreground {
                    report.all_background.push(index);
                }
            }
        }
    }
    Ok(report)
}

enum Outcome {
    Missing,
    Checked { masks: usize, foreground: bool },
}

/// Only npz arrays of samples that have masks are needed (for the image size).
fn npz_samples_with_masks(dataset: &Dataset) -> Dataset {
    Dataset {
        class_names: dataset.class_names.clone(),
        samples: dataset
            .samples
            .iter()
            .filter(|s| !s.mask_paths.is_empty() && matches!(s.source, ImageSource::Npz { .. }))
            .cloned()
            .collect(),
    }
}

fn check_sample(
    sample: &Sample,
    policy: MissingMask,
    npz_arrays: &NpzArrays,
) -> Result<Outcome, DataError> {
    if sample.mask_paths.is_empty() {
        return match policy {
            MissingMask::Error => Err(DataError::MissingMask {
                path: sample.path.clone(),
            }),
            MissingMask::Empty => Ok(Outcome::Missing),
        };
    }
    let (image_width, image_height) = image_size(sample, npz_arrays)?;
    let mut foreground = false;
    for path in &sample.mask_paths {
        let mask = decode_luma_file(path)?;
        if (mask.width, mask.height) != (image_width, image_height) {
            return Err(DataError::MaskSizeMismatch {
                path: path.clone(),
                mask_width: mask.width,
                mask_height: mask.height,
                image_width,
                image_height,
            });
        }
        foreground |= check_binary(path, &mask)?;
    }
    Ok(Outcome::Checked {
        masks: sample.mask_paths.len(),
        foreground,
    })
}

/// Width and height of a sample's image: from the header when the image crate recognises the
/// file, else by decoding it (formats with a registered decoder, npz arrays).
fn image_size(sample: &Sample, npz_arrays: &NpzArrays) -> Result<(u32, u32), DataError> {
    if let ImageSource::File(path) = &sample.source {
        let reader = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| DataError::io(path, e))?;
        if reader.format().is_some() {
            return reader.into_dimensions().map_err(|e| DataError::Decode {
                path: path.clone(),
                message: e.to_string(),
            });
        }
    }
    let image = decode_sample(sample, npz_arrays)?;
    Ok((image.width, image.height))
}

/// Binary means at most two distinct values, one of them 0 when there are two (an all-white
/// mask is a lesion covering the image). Returns whether any pixel is foreground.
fn check_binary(path: &std::path::Path, mask: &LumaImage) -> Result<bool, DataError> {
    let mut seen: Vec<f32> = Vec::with_capacity(2);
    for &v in &mask.pixels {
        if !seen.contains(&v) {
            seen.push(v);
            if seen.len() > 2 {
                break;
            }
        }
    }
    let binary = match seen.as_slice() {
        [_] => true,
        [a, b] => *a == 0.0 || *b == 0.0,
        _ => false,
    };
    if binary {
        return Ok(seen.iter().any(|&v| v > 0.0));
    }
    // Only faulty masks pay for the full count.
    let mut values: Vec<u32> = mask.pixels.iter().map(|v| v.to_bits()).collect();
    values.sort_unstable();
    values.dedup();
    let shown: Vec<String> = values
        .iter()
        .take(6)
        .map(|&bits| format!("{}", (f32::from_bits(bits) * 2550.0).round() / 10.0))
        .collect();
    let more = if values.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    Err(DataError::NonBinaryMask {
        path: path.to_path_buf(),
        distinct: values.len(),
        values: format!("{}{more}", shown.join(", ")),
    })
}
