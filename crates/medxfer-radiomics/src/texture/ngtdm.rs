//! Neighbourhood grey tone difference matrix features (IBSI family IPET): for each grey level,
//! the summed absolute difference between a pixel's level and the mean level of its in-plane
//! ROI neighbours (Chebyshev distance 1; pixels without an ROI neighbour do not count).

use super::{Aggregation, NEIGHBOURS_2D, Slice, TextureMatrix, family_features};
use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature};
use crate::volume::RoiVolume;

pub(crate) const NAMES: [(&str, &str); 5] = [
    ("coarseness", "QCDE"),
    ("contrast", "65HE"),
    ("busyness", "NQ30"),
    ("complexity", "HDEZ"),
    ("strength", "1X9X"),
];

/// IBSI's cap on coarseness when every neighbourhood difference is 0.
const MAX_COARSENESS: f64 = 1e6;

/// Per grey level: pixels with at least one ROI neighbour (n_i) and their summed differences
/// (s_i).
#[derive(Debug, Clone)]
struct ToneDifferences {
    n: Vec<f64>,
    s: Vec<f64>,
}

impl TextureMatrix for ToneDifferences {
    fn merge(&mut self, other: &Self) {
        for (a, b) in self.n.iter_mut().zip(&other.n) {
            *a += b;
        }
        for (a, b) in self.s.iter_mut().zip(&other.s) {
            *a += b;
        }
    }

    fn features(&self) -> Option<Vec<f64>> {
        let nvc: f64 = self.n.iter().sum();
        (nvc > 0.0).then(|| ngtdm_features(self, nvc))
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
        (Family::Ngtdm, "NGTDM", &NAMES),
        |slice, n_levels| vec![tone_differences(slice, n_levels)],
    )
}

fn tone_differences(slice: &Slice, n_levels: usize) -> ToneDifferences {
    let mut m = ToneDifferences {
        n: vec![0.0; n_levels],
        s: vec![0.0; n_levels],
    };
    for (x, y, level) in slice.pixels() {
        let (mut sum, mut count) = (0.0, 0.0);
        for (dx, dy) in NEIGHBOURS_2D {
            let neighbour = slice.level(x + dx, y + dy);
            if neighbour > 0 {
                sum += neighbour as f64;
                count += 1.0;
            }
        }
        if count > 0.0 {
            m.n[level as usize - 1] += 1.0;
            m.s[level as usize - 1] += (level as f64 - sum / count).abs();
        }
    }
    m
}

fn ngtdm_features(m: &ToneDifferences, nvc: f64) -> Vec<f64> {
    // (grey level, p_i, s_i) of the levels present.
    let present: Vec<(f64, f64, f64)> =
        m.n.iter()
            .zip(&m.s)
            .enumerate()
            .filter(|(_, (n, _))| **n > 0.0)
            .map(|(i, (n, s))| ((i + 1) as f64, n / nvc, *s))
            .collect();
    let ngp = present.len() as f64;
    let s_total: f64 = m.s.iter().sum();
    let weighted: f64 = present.iter().map(|(_, p, s)| p * s).sum();
    let coarseness = if weighted > 0.0 {
        1.0 / weighted
    } else {
        MAX_COARSENESS
    };
    let (mut dynamic, mut busy_denominator, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for &(i1, p1, s1) in &present {
        for &(i2, p2, s2) in &present {
            dynamic += p1 * p2 * (i1 - i2).powi(2);
            busy_denominator += (i1 * p1 - i2 * p2).abs();
            complexity += (i1 - i2).abs() * (p1 * s1 + p2 * s2) / (p1 + p2);
            strength += (p1 + p2) * (i1 - i2).powi(2);
        }
    }
    let single_level = ngp <= 1.0;
    vec![
        coarseness,
        if single_level {
            0.0
        } else {
            dynamic / (ngp * (ngp - 1.0)) * s_total / nvc
        },
        if single_level || busy_denominator == 0.0 {
            0.0
        } else {
            weighted / busy_denominator
        },
        complexity / nvc,
        if s_total > 0.0 {
            strength / s_total
        } else {
            0.0
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretisation, discretise};

    #[test]
    fn differences_use_the_mean_of_roi_neighbours_only() {
        // Row 1 3 [outside]: pixel 1 has neighbour 3 (difference 2), pixel 3 has neighbour 1.
        let volume = RoiVolume::image_2d(
            3,
            1,
            [1.0, 1.0],
            vec![1.0, 3.0, 9.0],
            vec![true, true, false],
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
        let m = tone_differences(&Slice::all(&volume, &levels)[0], 3);
        assert_eq!(
            (m.n.clone(), m.s.clone()),
            (vec![1.0, 0.0, 1.0], vec![2.0, 0.0, 2.0])
        );
        let f = ngtdm_features(&m, 2.0);
        assert_eq!(f[0], 0.5); // coarseness 1 / (0.5 * 2 + 0.5 * 2)
    }

    #[test]
    fn a_uniform_roi_hits_the_coarseness_cap() {
        let m = ToneDifferences {
            n: vec![4.0],
            s: vec![0.0],
        };
        let f = ngtdm_features(&m, 4.0);
        assert_eq!(f, vec![MAX_COARSENESS, 0.0, 0.0, 0.0, 0.0]);
    }
}
