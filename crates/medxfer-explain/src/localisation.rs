//! How well a map points at the lesion: scored against its ground-truth mask.

use std::path::{Path, PathBuf};

use medxfer_eval::bootstrap::{BootstrapCi, BootstrapConfig, stratified_bootstrap_ci};
use medxfer_eval::mask_io::read_mask_png;

use crate::{ExplainError, Explanation};

/// Map values at or above this fraction of the map's maximum count as "highlighted" for the
/// IoU (the half-maximum threshold common in weakly supervised localisation).
pub const IOU_THRESHOLD: f32 = 0.5;

/// One image's localisation scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Localisation {
    /// Share of the map's positive mass inside the mask (0 when the map has none).
    pub energy_in_mask: f64,
    /// 1 when the map's maximum lies inside the mask (the strict pointing game: no tolerance
    /// margin around the mask).
    pub pointing_hit: f64,
    /// IoU of {map >= IOU_THRESHOLD x max} with the mask.
    pub iou: f64,
}

/// Scores of `map` against `mask` (same size, row-major).
pub fn localise(map: &[f32], mask: &[bool]) -> Localisation {
    let (mut inside, mut total) = (0f64, 0f64);
    for (&v, &m) in map.iter().zip(mask) {
        let v = f64::from(v.max(0.0));
        total += v;
        if m {
            inside += v;
        }
    }
    let peak = (0..map.len()).max_by(|&a, &b| map[a].total_cmp(&map[b]));
    let top = peak.map_or(0.0, |i| map[i]);
    let highlighted = |v: f32| top > 0.0 && v >= IOU_THRESHOLD * top;
    let (mut both, mut either) = (0usize, 0usize);
    for (&v, &m) in map.iter().zip(mask) {
        both += usize::from(highlighted(v) && m);
        either += usize::from(highlighted(v) || m);
    }
    Localisation {
        energy_in_mask: if total > 0.0 { inside / total } else { 0.0 },
        pointing_hit: f64::from(u8::from(top > 0.0 && peak.is_some_and(|i| mask[i]))),
        iou: if either > 0 {
            both as f64 / either as f64
        } else {
            0.0
        },
    }
}

/// The lesion mask of an image in the BUSI layout: every `<stem>_mask*.png` beside it,
/// united (BUSI has a few images with two lesions, `_mask.png` and `_mask_1.png`).
pub fn mask_for(image: &Path, width: u32, height: u32) -> Result<Vec<bool>, ExplainError> {
    let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned());
    let dir = image
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!("{}_mask", stem.unwrap_or_default());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ExplainError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".png"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ExplainError::output(
            image,
            format!("no lesion mask {prefix}.png beside it"),
        ));
    }
    let mut union = vec![false; width as usize * height as usize];
    for path in &paths {
        let mask = read_mask_png(path).map_err(|e| ExplainError::output(path, e.to_string()))?;
        if mask.shape != [height as usize, width as usize] {
            return Err(ExplainError::output(
                path,
                format!(
                    "mask is {}x{}, its image {width}x{height}",
                    mask.shape[1], mask.shape[0]
                ),
            ));
        }
        union.iter_mut().zip(&mask.data).for_each(|(u, &m)| *u |= m);
    }
    Ok(union)
}

/// The mean of each score over the images with its percentile bootstrap CI (2000 resamples,
/// seed 0): energy in mask, pointing game, IoU.
pub fn summarise(scores: &[Localisation]) -> Result<[BootstrapCi; 3], ExplainError> {
    let strata = vec![0usize; scores.len()];
    let config = BootstrapConfig::default();
    let ci = |field: fn(&Localisation) -> f64| {
        stratified_bootstrap_ci(&strata, &config, |idx| {
            Ok(idx.iter().map(|&i| field(&scores[i])).sum::<f64>() / idx.len().max(1) as f64)
        })
        .map_err(|e| ExplainError::Invalid {
            what: "localisation summary",
            message: e.to_string(),
        })
    };
    Ok([
        ci(|s| s.energy_in_mask)?,
        ci(|s| s.pointing_hit)?,
        ci(|s| s.iou)?,
    ])
}

/// Each explanation scored against its image's mask.
pub fn score_against_masks(
    explanations: &[Explanation],
) -> Result<Vec<Localisation>, ExplainError> {
    explanations
        .iter()
        .map(|e| {
            let mask = mask_for(&e.path, e.image.width, e.image.height)?;
            Ok(localise(&e.map, &mask))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 x 1 map [0, 1, 3, -2] with the mask on the last two pixels: energy 3/4, the peak
    /// (3) is inside, highlighted = {3} (>= 1.5), IoU 1/2.
    #[test]
    fn scores_match_hand_computation() {
        let s = localise(&[0.0, 1.0, 3.0, -2.0], &[false, false, true, true]);
        assert!((s.energy_in_mask - 0.75).abs() < 1e-12);
        assert_eq!(s.pointing_hit, 1.0);
        assert!((s.iou - 0.5).abs() < 1e-12);
        let empty = localise(&[0.0; 4], &[true, false, false, false]);
        assert_eq!(
            (empty.energy_in_mask, empty.pointing_hit, empty.iou),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn masks_beside_the_image_are_united_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("benign (3).png");
        let mut first = image::GrayImage::new(4, 2);
        first.put_pixel(0, 0, image::Luma([255]));
        first.save(dir.path().join("benign (3)_mask.png")).unwrap();
        let mut second = image::GrayImage::new(4, 2);
        second.put_pixel(3, 1, image::Luma([255]));
        second
            .save(dir.path().join("benign (3)_mask_1.png"))
            .unwrap();
        let mask = mask_for(&image, 4, 2).unwrap();
        assert_eq!(mask.iter().filter(|&&m| m).count(), 2);
        assert!(mask[0] && mask[7]);
        assert!(mask_for(&image, 5, 2).is_err());
        assert!(mask_for(&dir.path().join("other.png"), 4, 2).is_err());
    }
}
