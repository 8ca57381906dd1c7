//! Radiomics features of an image and its region of interest, as the Image Biomarker
//! Standardisation Initiative defines them (IBSI reference manual, arXiv:1612.07003, and
//! ibsi.readthedocs.io): morphology, intensity statistics, intensity histogram, and the GLCM,
//! GLRLM, GLSZM, GLDZM, NGTDM and NGLDM texture families computed in 2-D with IBSI's
//! aggregation methods.
//!
//! The input is a 2-D image (e.g. an ultrasound frame and its lesion mask) or a 3-D volume,
//! which texture features treat as a stack of 2-D slices. `tests/ibsi_phantom.rs` checks every
//! feature against the IBSI digital phantom's reference values.
//!
//! No deep-learning dependency: intensities and a mask in, named feature values out.

mod discretise;
mod error;
mod feature;
pub mod morphology;
pub mod statistics;
pub mod texture;
mod volume;

use serde::{Deserialize, Serialize};

pub use discretise::{Discretisation, GreyLevels, MAX_LEVELS, discretise};
pub use error::RadiomicsError;
pub use feature::{Family, Feature, FeatureName};
pub use texture::Aggregation;
pub use volume::RoiVolume;

/// What `extract` computes: the discretisation for the histogram and texture families, and how
/// texture matrices are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RadiomicsConfig {
    pub discretisation: Discretisation,
    pub aggregation: Aggregation,
}

impl RadiomicsConfig {
    pub fn validate(&self) -> Result<(), RadiomicsError> {
        self.discretisation.validate()
    }
}

type TextureFamily =
    fn(&RoiVolume, &GreyLevels, Aggregation) -> Result<Vec<Feature>, RadiomicsError>;

/// The texture families in output order.
const TEXTURE_FAMILIES: [TextureFamily; 6] = [
    texture::glcm::features,
    texture::glrlm::features,
    texture::glszm::features,
    texture::gldzm::features,
    texture::ngtdm::features,
    texture::ngldm::features,
];

/// Every feature of every family, in a fixed order (the same names for every input of the same
/// dimensionality, so the values of many images form a feature matrix).
pub fn extract(
    volume: &RoiVolume,
    config: &RadiomicsConfig,
) -> Result<Vec<Feature>, RadiomicsError> {
    config.validate()?;
    let levels = discretise(volume, &config.discretisation)?;
    let roi_levels: Vec<u32> = levels.roi_levels().collect();
    let mut features = morphology::features(volume);
    features.extend(statistics::statistics(&volume.roi_intensities()));
    features.extend(statistics::histogram(&roi_levels, levels.n_levels));
    for family in TEXTURE_FAMILIES {
        features.extend(family(volume, &levels, config.aggregation)?);
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_2d_image_gets_the_same_feature_names_and_finite_values() {
        let config = RadiomicsConfig {
            discretisation: Discretisation::FixedBinNumber { bins: 8 },
            aggregation: Aggregation::Averaged2d,
        };
        let names = |width: usize, seed: u64| {
            let n = width * 12;
            let values: Vec<f64> = (0..n as u64)
                .map(|i| ((i * 7919 + seed) % 101) as f64)
                .collect();
            let mask: Vec<bool> = (0..n)
                .map(|i| i % width > 1 && i / width > 1 && i / width < 10)
                .collect();
            let volume = RoiVolume::image_2d(width, 12, [1.0, 1.0], values, mask).unwrap();
            let features = extract(&volume, &config).unwrap();
            assert!(features.iter().all(|f| f.value.is_finite()), "{features:?}");
            features.iter().map(|f| f.name.key()).collect::<Vec<_>>()
        };
        let first = names(9, 1);
        assert_eq!(first, names(15, 5));
        assert_eq!(first.len(), 13 + 18 + 23 + 25 + 16 + 16 + 16 + 5 + 17);
        let unique: std::collections::BTreeSet<_> = first.iter().collect();
        assert_eq!(unique.len(), first.len(), "feature keys must be unique");
    }

    #[test]
    fn an_invalid_configuration_is_an_error() {
        let volume = RoiVolume::image_2d(2, 2, [1.0, 1.0], vec![1.0; 4], vec![true; 4]).unwrap();
        let config = RadiomicsConfig {
            discretisation: Discretisation::FixedBinNumber { bins: 0 },
            aggregation: Aggregation::Averaged2d,
        };
        assert!(matches!(
            extract(&volume, &config),
            Err(RadiomicsError::InvalidDiscretisation(_))
        ));
    }
}
