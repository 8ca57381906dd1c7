//! Intensity discretisation as IBSI defines it (reference manual, section "Intensity
//! discretisation"): grey levels 1, 2, ... for ROI voxels.

use serde::{Deserialize, Serialize};

use crate::error::RadiomicsError;
use crate::volume::RoiVolume;

/// More grey levels than this would make texture matrices (levels squared for GLCM) larger
/// than any sensible setting; it is a guard against a bin width given in the wrong units.
pub const MAX_LEVELS: u32 = 4096;

/// How ROI intensities become grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discretisation {
    /// IBSI fixed bin number: `floor(bins * (x - min) / (max - min)) + 1` over the ROI's
    /// intensity range, the maximum going to `bins` (every voxel to level 1 when the ROI is
    /// uniform). The number of grey levels is `bins`.
    FixedBinNumber { bins: u32 },
    /// IBSI fixed bin size: `floor((x - lower_bound) / width) + 1`, bins anchored at the lower
    /// bound of the intensity range (IBSI: the re-segmentation range's lower bound, e.g. 0 for
    /// 8-bit grey). The number of grey levels is the highest level in the ROI.
    FixedBinSize { width: f64, lower_bound: f64 },
}

impl Discretisation {
    pub fn validate(&self) -> Result<(), RadiomicsError> {
        match *self {
            Discretisation::FixedBinNumber { bins } if bins == 0 || bins > MAX_LEVELS => {
                Err(RadiomicsError::InvalidDiscretisation(format!(
                    "fixed bin number must be 1 to {MAX_LEVELS}, got {bins}"
                )))
            }
            Discretisation::FixedBinSize { width, lower_bound }
                if !(width.is_finite() && width > 0.0 && lower_bound.is_finite()) =>
            {
                Err(RadiomicsError::InvalidDiscretisation(format!(
                    "fixed bin size needs a positive finite width and a finite lower bound, got width {width}, lower bound {lower_bound}"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Grey levels of a volume's voxels: 1..=`n_levels` inside the ROI, 0 outside.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyLevels {
    pub levels: Vec<u32>,
    pub n_levels: u32,
}

impl GreyLevels {
    pub fn roi_levels(&self) -> impl Iterator<Item = u32> + '_ {
        self.levels.iter().copied().filter(|&l| l > 0)
    }
}

pub fn discretise(
    volume: &RoiVolume,
    discretisation: &Discretisation,
) -> Result<GreyLevels, RadiomicsError> {
    discretisation.validate()?;
    let roi = volume.roi_intensities();
    let min = roi.iter().copied().fold(f64::INFINITY, f64::min);
    let max = roi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let level_of: Box<dyn Fn(f64) -> u32> = match *discretisation {
        Discretisation::FixedBinNumber { bins } => {
            let range = max - min;
            Box::new(move |x: f64| {
                if range == 0.0 {
                    1
                } else {
                    ((bins as f64 * (x - min) / range).floor() as u32 + 1).min(bins)
                }
            })
        }
        Discretisation::FixedBinSize { width, lower_bound } => {
            if min < lower_bound {
                return Err(RadiomicsError::BelowLowerBound {
                    value: min,
                    lower_bound,
                });
            }
            let top = ((max - lower_bound) / width).floor() + 1.0;
            if top > MAX_LEVELS as f64 {
                return Err(RadiomicsError::TooManyLevels {
                    width,
                    lower_bound,
                    max,
                    levels: top as u64,
                    limit: MAX_LEVELS,
                });
            }
            Box::new(move |x: f64| ((x - lower_bound) / width).floor() as u32 + 1)
        }
    };
    let levels: Vec<u32> = (0..volume.mask().len())
        .map(|i| {
            if volume.in_roi(i) {
                level_of(volume.intensity(i))
            } else {
                0
            }
        })
        .collect();
    let n_levels = match *discretisation {
        Discretisation::FixedBinNumber { bins } => bins,
        Discretisation::FixedBinSize { .. } => levels.iter().copied().max().unwrap_or(1),
    };
    Ok(GreyLevels { levels, n_levels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[f64]) -> RoiVolume {
        RoiVolume::image_2d(
            values.len(),
            1,
            [1.0, 1.0],
            values.to_vec(),
            vec![true; values.len()],
        )
        .unwrap()
    }

    #[test]
    fn fixed_bin_number_spans_the_roi_range_and_puts_the_maximum_in_the_last_bin() {
        let levels = discretise(
            &row(&[0.0, 2.4, 2.5, 7.49, 10.0]),
            &Discretisation::FixedBinNumber { bins: 4 },
        )
        .unwrap();
        assert_eq!(levels.levels, vec![1, 1, 2, 3, 4]);
        assert_eq!(levels.n_levels, 4);
        let uniform = discretise(
            &row(&[3.0, 3.0]),
            &Discretisation::FixedBinNumber { bins: 8 },
        )
        .unwrap();
        assert_eq!(uniform.levels, vec![1, 1]);
    }

    #[test]
    fn fixed_bin_size_anchors_bins_at_the_lower_bound() {
        let d = Discretisation::FixedBinSize {
            width: 25.0,
            lower_bound: 0.0,
        };
        let levels = discretise(&row(&[0.0, 24.9, 25.0, 255.0]), &d).unwrap();
        assert_eq!(levels.levels, vec![1, 1, 2, 11]);
        assert_eq!(levels.n_levels, 11);
        assert!(matches!(
            discretise(&row(&[-1.0]), &d),
            Err(RadiomicsError::BelowLowerBound { .. })
        ));
        let tiny = Discretisation::FixedBinSize {
            width: 1e-6,
            lower_bound: 0.0,
        };
        assert!(matches!(
            discretise(&row(&[1.0]), &tiny),
            Err(RadiomicsError::TooManyLevels { .. })
        ));
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(
            Discretisation::FixedBinNumber { bins: 0 }
                .validate()
                .is_err()
        );
        assert!(
            Discretisation::FixedBinSize {
                width: 0.0,
                lower_bound: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(
            Discretisation::FixedBinSize {
                width: 1.0,
                lower_bound: f64::NAN
            }
            .validate()
            .is_err()
        );
        assert!(
            Discretisation::FixedBinNumber { bins: 32 }
                .validate()
                .is_ok()
        );
    }
}
