//! Grey level size zone matrix features (IBSI family 9SAK): 8-connected in-plane zones of equal
//! grey level.

use super::glrlm::LengthMatrix;
use super::{Aggregation, Counts, Slice, family_features};
use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature};
use crate::volume::RoiVolume;

/// The reference text this crate was checked against did not show the code of *small zone
/// emphasis*, so it is left empty.
pub(crate) const NAMES: [(&str, &str); 16] = [
    ("small zone emphasis", ""),
    ("large zone emphasis", "48P8"),
    ("low grey level zone emphasis", "XMSY"),
    ("high grey level zone emphasis", "5GN9"),
    ("small zone low grey level emphasis", "5RAI"),
    ("small zone high grey level emphasis", "HW1V"),
    ("large zone low grey level emphasis", "YH51"),
    ("large zone high grey level emphasis", "J17V"),
    ("grey level non-uniformity", "JNSA"),
    ("normalised grey level non-uniformity", "Y1RO"),
    ("zone size non-uniformity", "4JP3"),
    ("normalised zone size non-uniformity", "VB3A"),
    ("zone percentage", "P30P"),
    ("grey level variance", "BYLV"),
    ("zone size variance", "3NSA"),
    ("zone size entropy", "GU8N"),
];

pub fn features(
    volume: &RoiVolume,
    levels: &GreyLevels,
    aggregation: Aggregation,
) -> Result<Vec<Feature>, RadiomicsError> {
    family_features(
        volume,
        levels,
        aggregation,
        (Family::Glszm, "GLSZM", &NAMES),
        |slice, n_levels| vec![zones(slice, n_levels)],
    )
}

/// Zone sizes: one count per zone at (its grey level, its number of pixels).
fn zones(slice: &Slice, n_levels: usize) -> LengthMatrix {
    let mut counts = Counts::new(n_levels, 1);
    slice.for_each_zone(|level, zone| counts.add(level as usize - 1, zone.len() - 1, 1.0));
    LengthMatrix {
        counts,
        n_voxels: slice.roi_count() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretisation, discretise};
    use crate::texture::glrlm::length_features;

    #[test]
    fn diagonal_neighbours_join_a_zone() {
        // 1 2
        // 2 1   -> the two 1s touch diagonally (one zone of 2), as do the two 2s.
        let volume =
            RoiVolume::image_2d(2, 2, [1.0, 1.0], vec![1.0, 2.0, 2.0, 1.0], vec![true; 4]).unwrap();
        let levels = discretise(
            &volume,
            &Discretisation::FixedBinSize {
                width: 1.0,
                lower_bound: 0.5,
            },
        )
        .unwrap();
        let m = zones(&Slice::all(&volume, &levels)[0], 2);
        assert_eq!(
            (m.counts.get(0, 1), m.counts.get(1, 1), m.counts.total()),
            (1.0, 1.0, 2.0)
        );
        let f = length_features(&m);
        assert!((f[12] - 0.5).abs() < 1e-12); // zone percentage: 2 zones over 4 pixels
        assert!((f[1] - 4.0).abs() < 1e-12); // large zone emphasis: every zone has size 2
    }
}
