//! Grey level co-occurrence matrix features (IBSI family LFYI), symmetric matrices at
//! Chebyshev distance 1 along the four in-plane directions.

use super::{
    Aggregation, Counts, DIRECTIONS_2D, Slice, TextureMatrix, entropy_term, family_features,
};
use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature};
use crate::volume::RoiVolume;

pub(crate) const NAMES: [(&str, &str); 25] = [
    ("joint maximum", "GYBY"),
    ("joint average", "60VM"),
    ("joint variance", "UR99"),
    ("joint entropy", "TU9B"),
    ("difference average", "TF7R"),
    ("difference variance", "D3YU"),
    ("difference entropy", "NTRS"),
    ("sum average", "ZGXS"),
    ("sum variance", "OEEB"),
    ("sum entropy", "P6QZ"),
    ("angular second moment", "8ZQL"),
    ("contrast", "ACUI"),
    ("dissimilarity", "8S9J"),
    ("inverse difference", "IB1Z"),
    ("normalised inverse difference", "NDRX"),
    ("inverse difference moment", "WF0Z"),
    ("normalised inverse difference moment", "1QCO"),
    ("inverse variance", "E8JP"),
    ("correlation", "NI2N"),
    ("autocorrelation", "QWB0"),
    ("cluster tendency", "DG8W"),
    ("cluster shade", "7NFM"),
    ("cluster prominence", "AE86"),
    ("information correlation 1", "R8DG"),
    ("information correlation 2", "JN9H"),
];

#[derive(Debug, Clone)]
struct Cooccurrence(Counts);

impl TextureMatrix for Cooccurrence {
    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0);
    }

    fn features(&self) -> Option<Vec<f64>> {
        let total = self.0.total();
        (total > 0.0).then(|| glcm_features(&self.0, total))
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
        (Family::Glcm, "GLCM", &NAMES),
        |slice, n_levels| {
            DIRECTIONS_2D
                .iter()
                .map(|&d| cooccurrence(slice, d, n_levels))
                .collect()
        },
    )
}

/// Counts of (level at k, level at k + d) over ROI pairs, plus the transpose (IBSI's
/// M_m+ + M_m-).
fn cooccurrence(slice: &Slice, (dx, dy): (isize, isize), n_levels: usize) -> Cooccurrence {
    let mut counts = Counts::new(n_levels, n_levels);
    for (x, y, level) in slice.pixels() {
        let other = slice.level(x + dx, y + dy);
        if other > 0 {
            counts.add(level as usize - 1, other as usize - 1, 1.0);
            counts.add(other as usize - 1, level as usize - 1, 1.0);
        }
    }
    Cooccurrence(counts)
}

/// Marginal, diagonal and cross-diagonal distributions of a normalised GLCM.
struct Distributions {
    n: usize,
    p: Vec<f64>,
    marginal: Vec<f64>,
    /// p_{i-j,k}, k = 0..n-1.
    difference: Vec<f64>,
    /// p_{i+j,k} at index k - 2, k = 2..2n.
    sum: Vec<f64>,
}

impl Distributions {
    fn of(counts: &Counts, total: f64) -> Distributions {
        let n = counts.rows();
        let mut d = Distributions {
            n,
            p: vec![0.0; n * n],
            marginal: vec![0.0; n],
            difference: vec![0.0; n],
            sum: vec![0.0; 2 * n - 1],
        };
        for i in 0..n {
            for j in 0..n {
                let p = counts.get(i, j) / total;
                d.p[i * n + j] = p;
                d.marginal[i] += p;
                d.difference[i.abs_diff(j)] += p;
                d.sum[i + j] += p;
            }
        }
        d
    }

    /// Σ_ij f(i, j) p_ij over 1-based grey levels.
    fn expect(&self, f: impl Fn(f64, f64) -> f64) -> f64 {
        let mut total = 0.0;
        for i in 0..self.n {
            for j in 0..self.n {
                let p = self.p[i * self.n + j];
                if p > 0.0 {
                    total += f((i + 1) as f64, (j + 1) as f64) * p;
                }
            }
        }
        total
    }
}

fn glcm_features(counts: &Counts, total: f64) -> Vec<f64> {
    let d = Distributions::of(counts, total);
    let ng = d.n as f64;
    let mu = d.expect(|i, _| i);
    let joint_variance = d.expect(|i, _| (i - mu).powi(2));
    let joint_entropy: f64 = d.p.iter().map(|&p| entropy_term(p)).sum();
    let diff_avg: f64 = d
        .difference
        .iter()
        .enumerate()
        .map(|(k, p)| k as f64 * p)
        .sum();
    let diff_var: f64 = d
        .difference
        .iter()
        .enumerate()
        .map(|(k, p)| (k as f64 - diff_avg).powi(2) * p)
        .sum();
    let sum_avg: f64 = d
        .sum
        .iter()
        .enumerate()
        .map(|(k, p)| (k + 2) as f64 * p)
        .sum();
    let sum_var: f64 = d
        .sum
        .iter()
        .enumerate()
        .map(|(k, p)| ((k + 2) as f64 - sum_avg).powi(2) * p)
        .sum();
    let autocorrelation = d.expect(|i, j| i * j);
    let correlation = if joint_variance > 0.0 {
        (autocorrelation - mu * mu) / joint_variance
    } else {
        0.0
    };
    let by_difference = |f: &dyn Fn(f64) -> f64| -> f64 {
        d.difference
            .iter()
            .enumerate()
            .map(|(k, p)| f(k as f64) * p)
            .sum()
    };
    vec![
        d.p.iter().copied().fold(0.0, f64::max),
        mu,
        joint_variance,
        joint_entropy,
        diff_avg,
        diff_var,
        d.difference.iter().map(|&p| entropy_term(p)).sum(),
        sum_avg,
        sum_var,
        d.sum.iter().map(|&p| entropy_term(p)).sum(),
        d.p.iter().map(|p| p * p).sum(),
        by_difference(&|k| k * k),
        diff_avg,
        by_difference(&|k| 1.0 / (1.0 + k)),
        by_difference(&|k| 1.0 / (1.0 + k / ng)),
        by_difference(&|k| 1.0 / (1.0 + k * k)),
        by_difference(&|k| 1.0 / (1.0 + (k / ng).powi(2))),
        by_difference(&|k| if k > 0.0 { 1.0 / (k * k) } else { 0.0 }),
        correlation,
        autocorrelation,
        d.expect(|i, j| (i + j - 2.0 * mu).powi(2)),
        d.expect(|i, j| (i + j - 2.0 * mu).powi(3)),
        d.expect(|i, j| (i + j - 2.0 * mu).powi(4)),
        information_correlation_1(&d, joint_entropy),
        information_correlation_2(&d, joint_entropy),
    ]
}

/// (HXY - HXY1) / HX; 0 when HX is 0 (a single grey level).
fn information_correlation_1(d: &Distributions, hxy: f64) -> f64 {
    let hx: f64 = d.marginal.iter().map(|&p| entropy_term(p)).sum();
    let mut hxy1 = 0.0;
    for i in 0..d.n {
        for j in 0..d.n {
            let p = d.p[i * d.n + j];
            if p > 0.0 {
                hxy1 -= p * (d.marginal[i] * d.marginal[j]).log2();
            }
        }
    }
    if hx > 0.0 { (hxy - hxy1) / hx } else { 0.0 }
}

/// sqrt(1 - exp(-2 (HXY2 - HXY))), HXY2 the entropy of the product of the marginals.
fn information_correlation_2(d: &Distributions, hxy: f64) -> f64 {
    let mut hxy2 = 0.0;
    for &pi in &d.marginal {
        for &pj in &d.marginal {
            hxy2 += entropy_term(pi * pj);
        }
    }
    (1.0 - (-2.0 * (hxy2 - hxy)).exp()).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretisation, discretise};

    #[test]
    fn a_two_level_stripe_pattern_has_the_textbook_horizontal_matrix() {
        // Columns alternate 1, 2: horizontally every pair differs, vertically none does.
        let volume = RoiVolume::image_2d(
            4,
            2,
            [1.0, 1.0],
            vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0],
            vec![true; 8],
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
        let horizontal = cooccurrence(slice, (1, 0), 2);
        // 3 pairs per row, 2 rows, symmetric: (1,2) and (2,1) 6 each.
        assert_eq!(
            (
                horizontal.0.get(0, 1),
                horizontal.0.get(1, 0),
                horizontal.0.get(0, 0)
            ),
            (6.0, 6.0, 0.0)
        );
        let f = glcm_features(&horizontal.0, 12.0);
        assert_eq!(f[11], 1.0); // contrast: every pair differs by one level
        assert_eq!(f[0], 0.5); // joint maximum
        assert!((f[18] + 1.0).abs() < 1e-12); // perfectly anti-correlated
        let vertical = cooccurrence(slice, (0, 1), 2);
        let f = glcm_features(&vertical.0, vertical.0.total());
        assert_eq!(f[11], 0.0);
        assert_eq!(f[13], 1.0); // inverse difference of a diagonal matrix
    }
}
