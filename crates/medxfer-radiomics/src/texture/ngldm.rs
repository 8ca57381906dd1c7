//! Neighbouring grey level dependence matrix features (IBSI family REK0), coarseness
//! alpha = 0 and Chebyshev distance 1 in-plane: each ROI pixel counts itself and its ROI
//! neighbours of the same grey level.

use super::glrlm::{LengthMatrix, length_features};
use super::{Aggregation, Counts, NEIGHBOURS_2D, Slice, TextureMatrix, family_features};
use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature};
use crate::volume::RoiVolume;

pub(crate) const NAMES: [(&str, &str); 17] = [
    ("low dependence emphasis", "SODN"),
    ("high dependence emphasis", "IMOQ"),
    ("low grey level count emphasis", "TL9H"),
    ("high grey level count emphasis", "OAE7"),
    ("low dependence low grey level emphasis", "EQ3F"),
    ("low dependence high grey level emphasis", "JA6D"),
    ("high dependence low grey level emphasis", "NBZI"),
    ("high dependence high grey level emphasis", "9QMG"),
    ("grey level non-uniformity", "FP8K"),
    ("normalised grey level non-uniformity", "5SPA"),
    ("dependence count non-uniformity", "Z87G"),
    ("normalised dependence count non-uniformity", "OKJI"),
    ("dependence count percentage", "6XV8"),
    ("grey level variance", "1PFV"),
    ("dependence count variance", "DNX2"),
    ("dependence count entropy", "FCBV"),
    ("dependence count energy", "CAS9"),
];

/// The GLRLM-like counts plus IBSI's dependence count energy.
#[derive(Debug, Clone)]
struct Dependence(LengthMatrix);

impl TextureMatrix for Dependence {
    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0);
    }

    fn features(&self) -> Option<Vec<f64>> {
        let counts = &self.0.counts;
        let total = counts.total();
        (total > 0.0).then(|| {
            let mut values = length_features(&self.0);
            let mut energy = 0.0;
            for r in 0..counts.rows() {
                for c in 0..counts.cols() {
                    energy += (counts.get(r, c) / total).powi(2);
                }
            }
            values.push(energy);
            values
        })
    }
}

pub fn features(
    volume: &RoiVolume,
    levels: &GreyLevels,
    aggregation: Aggregation,
) -> Result<Vec<Feature>, RadiomicsError> {
    family_features(
        volume,
        levels,
        aggregation,
        (Family::Ngldm, "NGLDM", &NAMES),
        |slice, n_levels| vec![dependences(slice, n_levels)],
    )
}

fn dependences(slice: &Slice, n_levels: usize) -> Dependence {
    let mut counts = Counts::new(n_levels, 1);
    for (x, y, level) in slice.pixels() {
        let same = NEIGHBOURS_2D
            .iter()
            .filter(|(dx, dy)| slice.level(x + dx, y + dy) == level)
            .count();
        counts.add(level as usize - 1, same, 1.0);
    }
    Dependence(LengthMatrix {
        counts,
        n_voxels: slice.roi_count() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretisation, discretise};

    #[test]
    fn dependence_counts_the_pixel_and_its_equal_roi_neighbours() {
        // 1 1 2 in a row: the 1s depend on each other (count 2), the 2 on nothing (count 1).
        let volume =
            RoiVolume::image_2d(3, 1, [1.0, 1.0], vec![1.0, 1.0, 2.0], vec![true; 3]).unwrap();
        let levels = discretise(
            &volume,
            &Discretisation::FixedBinSize {
                width: 1.0,
                lower_bound: 0.5,
            },
        )
        .unwrap();
        let m = dependences(&Slice::all(&volume, &levels)[0], 2);
        assert_eq!(
            (
                m.0.counts.get(0, 1),
                m.0.counts.get(1, 0),
                m.0.counts.total()
            ),
            (2.0, 1.0, 3.0)
        );
        let f = m.features().unwrap();
        assert_eq!(f[12], 1.0); // dependence count percentage: every pixel has a neighbourhood
        assert!((f[16] - (4.0 / 9.0 + 1.0 / 9.0)).abs() < 1e-12); // energy
    }
}
