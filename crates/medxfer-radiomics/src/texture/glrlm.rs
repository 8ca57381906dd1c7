//! Grey level run length matrix features (IBSI family TP0I): runs of equal grey level along the
//! four in-plane directions, broken by pixels outside the ROI.

use super::{
    Aggregation, Counts, DIRECTIONS_2D, Slice, TextureMatrix, entropy_term, family_features,
};
use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature};
use crate::volume::RoiVolume;

pub(crate) const NAMES: [(&str, &str); 16] = [
    ("short runs emphasis", "22OV"),
    ("long runs emphasis", "W4KF"),
    ("low grey level run emphasis", "V3SW"),
    ("high grey level run emphasis", "G3QZ"),
    ("short run low grey level emphasis", "HTZT"),
    ("short run high grey level emphasis", "GD3A"),
    ("long run low grey level emphasis", "IVPO"),
    ("long run high grey level emphasis", "3KUM"),
    ("grey level non-uniformity", "R5YN"),
    ("normalised grey level non-uniformity", "OVBL"),
    ("run length non-uniformity", "W92Y"),
    ("normalised run length non-uniformity", "IC23"),
    ("run percentage", "9ZK5"),
    ("grey level variance", "8CE5"),
    ("run length variance", "SXLW"),
    ("run entropy", "HJ9O"),
];

/// Counts of (grey level, length) of runs or zones, with the number of ROI voxels the matrix
/// was built from (summed when matrices merge, as IBSI requires for the percentage features).
#[derive(Debug, Clone)]
pub(crate) struct LengthMatrix {
    pub(crate) counts: Counts,
    pub(crate) n_voxels: f64,
}

impl LengthMatrix {
    pub(crate) fn merge(&mut self, other: &Self) {
        self.counts.merge(&other.counts);
        self.n_voxels += other.n_voxels;
    }
}

impl TextureMatrix for LengthMatrix {
    fn merge(&mut self, other: &Self) {
        LengthMatrix::merge(self, other);
    }

    fn features(&self) -> Option<Vec<f64>> {
        (self.counts.total() > 0.0).then(|| length_features(self))
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
        (Family::Glrlm, "GLRLM", &NAMES),
        |slice, n_levels| {
            DIRECTIONS_2D
                .iter()
                .map(|&d| runs(slice, d, n_levels))
                .collect()
        },
    )
}

fn runs(slice: &Slice, (dx, dy): (isize, isize), n_levels: usize) -> LengthMatrix {
    let mut counts = Counts::new(n_levels, 1);
    for (x, y, level) in slice.pixels() {
        // A run starts where the previous pixel along the direction does not continue it.
        if slice.level(x - dx, y - dy) == level {
            continue;
        }
        let mut length = 1;
        while slice.level(x + dx * length as isize, y + dy * length as isize) == level {
            length += 1;
        }
        counts.add(level as usize - 1, length - 1, 1.0);
    }
    LengthMatrix {
        counts,
        n_voxels: slice.roi_count() as f64,
    }
}

/// The 16 features IBSI defines alike for run lengths (GLRLM), zone sizes (GLSZM), zone
/// distances (GLDZM) and dependence counts (NGLDM), in the order of `NAMES`; `j` is the run
/// length, zone size, distance or dependence count.
// Row and column indices are the grey level and length themselves (i = r + 1, j = col + 1).
#[allow(clippy::needless_range_loop)]
pub(crate) fn length_features(m: &LengthMatrix) -> Vec<f64> {
    let c = &m.counts;
    let ns = c.total();
    let mut by_level = vec![0.0; c.rows()];
    let mut by_length = vec![0.0; c.cols()];
    let mut weighted = [0.0; 4]; // srlge, srhge, lrlge, lrhge numerators
    let (mut mean_level, mut mean_length, mut entropy) = (0.0, 0.0, 0.0);
    for r in 0..c.rows() {
        for col in 0..c.cols() {
            let n = c.get(r, col);
            if n == 0.0 {
                continue;
            }
            let (i, j) = ((r + 1) as f64, (col + 1) as f64);
            by_level[r] += n;
            by_length[col] += n;
            weighted[0] += n / (i * i * j * j);
            weighted[1] += n * i * i / (j * j);
            weighted[2] += n * j * j / (i * i);
            weighted[3] += n * i * i * j * j;
            mean_level += i * n / ns;
            mean_length += j * n / ns;
            entropy += entropy_term(n / ns);
        }
    }
    let sum_over = |v: &[f64], f: &dyn Fn(f64) -> f64| -> f64 {
        v.iter()
            .enumerate()
            .map(|(k, &n)| f((k + 1) as f64) * n)
            .sum::<f64>()
    };
    let squares = |v: &[f64]| v.iter().map(|n| n * n).sum::<f64>();
    let variance = |v: &[f64], mean: f64| sum_over(v, &|x| (x - mean).powi(2)) / ns;
    vec![
        sum_over(&by_length, &|j| 1.0 / (j * j)) / ns,
        sum_over(&by_length, &|j| j * j) / ns,
        sum_over(&by_level, &|i| 1.0 / (i * i)) / ns,
        sum_over(&by_level, &|i| i * i) / ns,
        weighted[0] / ns,
        weighted[1] / ns,
        weighted[2] / ns,
        weighted[3] / ns,
        squares(&by_level) / ns,
        squares(&by_level) / (ns * ns),
        squares(&by_length) / ns,
        squares(&by_length) / (ns * ns),
        ns / m.n_voxels,
        variance(&by_level, mean_level),
        variance(&by_length, mean_length),
        entropy,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretisation, discretise};

    #[test]
    fn runs_are_broken_by_level_changes_and_by_the_roi_edge() {
        // One row: 1 1 2 [outside] 2 2 2.
        let volume = RoiVolume::image_2d(
            7,
            1,
            [1.0, 1.0],
            vec![1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0],
            vec![true, true, true, false, true, true, true],
        )
        .unwrap();
        let levels = discretise(
            &volume,
            &Discretisation::FixedBinSize {
                width: 1.0,
                lower_bound: 0.5,
            },
        )
        .unwrap();
        let slice = &Slice::all(&volume, &levels)[0];
        let m = runs(slice, (1, 0), 2);
        assert_eq!(
            (m.counts.get(0, 1), m.counts.get(1, 0), m.counts.get(1, 2)),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(m.counts.total(), 3.0);
        let f = length_features(&m);
        assert!((f[12] - 3.0 / 6.0).abs() < 1e-12); // run percentage
        // Short runs emphasis: (1/4 + 1 + 1/9) / 3.
        assert!((f[0] - (0.25 + 1.0 + 1.0 / 9.0) / 3.0).abs() < 1e-12);
        // Vertically every pixel is its own run.
        assert_eq!(runs(slice, (0, 1), 2).counts.total(), 6.0);
    }
}
