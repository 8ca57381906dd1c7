//! Intensity-based statistical features (IBSI family UHIW) and intensity histogram features
//! (ZVCW), both over the whole ROI (IBSI recommends against per-slice averaging).

use crate::feature::{Family, Feature, named};

const STATISTICS: [(&str, &str); 18] = [
    ("mean", "Q4LE"),
    ("variance", "ECT3"),
    ("skewness", "KE2A"),
    ("kurtosis", "IPH6"),
    ("median", "Y12H"),
    ("minimum", "1GSF"),
    ("10th percentile", "QG58"),
    ("90th percentile", "8DWT"),
    ("maximum", "84IY"),
    ("interquartile range", "SALO"),
    ("range", "2OJQ"),
    ("mean absolute deviation", "4FUA"),
    ("robust mean absolute deviation", "1128"),
    ("median absolute deviation", "N72L"),
    ("coefficient of variation", "7TET"),
    ("quartile coefficient of dispersion", "9S40"),
    ("energy", "N8CA"),
    ("root mean square", "5ZWQ"),
];

/// Codes are left empty where the reference text this crate was checked against did not show
/// them (see tests/fixtures/ibsi_phantom/README.md).
const HISTOGRAM: [(&str, &str); 23] = [
    ("mean", "X6K6"),
    ("variance", "CH89"),
    ("skewness", "88K1"),
    ("kurtosis", "C3I7"),
    ("median", "WIFQ"),
    ("minimum", "1PR8"),
    ("10th percentile", ""),
    ("90th percentile", ""),
    ("maximum", ""),
    ("mode", ""),
    ("interquartile range", ""),
    ("range", ""),
    ("mean absolute deviation", ""),
    ("robust mean absolute deviation", ""),
    ("median absolute deviation", ""),
    ("coefficient of variation", ""),
    ("quartile coefficient of dispersion", ""),
    ("entropy", ""),
    ("uniformity", ""),
    ("maximum histogram gradient", ""),
    ("maximum histogram gradient intensity", ""),
    ("minimum histogram gradient", ""),
    ("minimum histogram gradient intensity", ""),
];

/// The sample quantile `q` in [0, 1] of sorted values, linearly interpolated between order
/// statistics (Hyndman-Fan type 7, numpy's default): the definition under which the IBSI
/// digital phantom's 90th percentile is 4 (the manual notes other definitions give 4.2).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (position - below as f64) * (sorted[above] - sorted[below])
}

/// The 18 intensity statistics of the ROI intensities (IBSI definitions; no bias correction;
/// skewness and kurtosis 0 for a uniform ROI).
pub fn statistics(values: &[f64]) -> Vec<Feature> {
    let d = Distribution::of(values);
    let n = values.len() as f64;
    let energy: f64 = values.iter().map(|v| v * v).sum();
    let computed = [
        d.mean,
        d.variance,
        d.skewness(),
        d.kurtosis(),
        d.quantile(0.5),
        d.sorted[0],
        d.quantile(0.1),
        d.quantile(0.9),
        d.sorted[d.sorted.len() - 1],
        d.quantile(0.75) - d.quantile(0.25),
        d.sorted[d.sorted.len() - 1] - d.sorted[0],
        d.mean_absolute_deviation(),
        d.robust_mean_absolute_deviation(),
        d.median_absolute_deviation(),
        ratio(d.variance.sqrt(), d.mean),
        d.quartile_coefficient_of_dispersion(),
        energy,
        (energy / n).sqrt(),
    ];
    named(Family::Statistics, &STATISTICS, &computed)
}

/// The 23 intensity histogram features of the ROI's grey levels 1..=`n_levels`.
pub fn histogram(levels: &[u32], n_levels: u32) -> Vec<Feature> {
    let values: Vec<f64> = levels.iter().map(|&l| l as f64).collect();
    let d = Distribution::of(&values);
    let mut counts = vec![0.0; n_levels as usize];
    for &l in levels {
        counts[l as usize - 1] += 1.0;
    }
    let n = values.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0.0)
        .map(|&c| -(c / n) * (c / n).log2())
        .sum();
    let uniformity: f64 = counts.iter().map(|&c| (c / n) * (c / n)).sum();
    let gradient = histogram_gradient(&counts);
    let (max_at, max_gradient) = extreme(&gradient, |a, b| a > b);
    let (min_at, min_gradient) = extreme(&gradient, |a, b| a < b);
    let computed = [
        d.mean,
        d.variance,
        d.skewness(),
        d.kurtosis(),
        d.quantile(0.5),
        d.sorted[0],
        d.quantile(0.1),
        d.quantile(0.9),
        d.sorted[d.sorted.len() - 1],
        mode(&counts, d.mean),
        d.quantile(0.75) - d.quantile(0.25),
        d.sorted[d.sorted.len() - 1] - d.sorted[0],
        d.mean_absolute_deviation(),
        d.robust_mean_absolute_deviation(),
        d.median_absolute_deviation(),
        ratio(d.variance.sqrt(), d.mean),
        d.quartile_coefficient_of_dispersion(),
        entropy,
        uniformity,
        max_gradient,
        (max_at + 1) as f64,
        min_gradient,
        (min_at + 1) as f64,
    ];
    named(Family::Histogram, &HISTOGRAM, &computed)
}

/// `a / b`, 0 when `b` is 0 (a uniform or zero-centred ROI).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// IBSI's histogram gradient: one-sided differences at the ends, central ones inside.
fn histogram_gradient(counts: &[f64]) -> Vec<f64> {
    let n = counts.len();
    if n == 1 {
        return vec![0.0];
    }
    (0..n)
        .map(|i| match i {
            0 => counts[1] - counts[0],
            _ if i == n - 1 => counts[n - 1] - counts[n - 2],
            _ => (counts[i + 1] - counts[i - 1]) / 2.0,
        })
        .collect()
}

/// Index and value of the first element that beats every other under `better`.
fn extreme(values: &[f64], better: impl Fn(f64, f64) -> bool) -> (usize, f64) {
    let mut best = (0, values[0]);
    for (i, &v) in values.iter().enumerate().skip(1) {
        if better(v, best.1) {
            best = (i, v);
        }
    }
    best
}

/// The most common grey level; among ties the one nearest the mean, the lower one when two are
/// equally near (IBSI's rule).
fn mode(counts: &[f64], mean: f64) -> f64 {
    let highest = counts.iter().copied().fold(0.0, f64::max);
    let mut best: Option<(f64, f64)> = None; // (level, distance to the mean)
    for (i, &c) in counts.iter().enumerate() {
        let level = (i + 1) as f64;
        let distance = (level - mean).abs();
        if c == highest && best.is_none_or(|(_, d)| distance < d) {
            best = Some((level, distance));
        }
    }
    best.map_or(1.0, |(level, _)| level)
}

struct Distribution {
    sorted: Vec<f64>,
    mean: f64,
    variance: f64,
}

impl Distribution {
    fn of(values: &[f64]) -> Distribution {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Distribution {
            sorted,
            mean,
            variance,
        }
    }

    fn central_moment(&self, power: i32) -> f64 {
        self.sorted
            .iter()
            .map(|v| (v - self.mean).powi(power))
            .sum::<f64>()
            / self.sorted.len() as f64
    }

    fn skewness(&self) -> f64 {
        if self.variance == 0.0 {
            0.0
        } else {
            self.central_moment(3) / self.variance.powf(1.5)
        }
    }

    fn kurtosis(&self) -> f64 {
        if self.variance == 0.0 {
            0.0
        } else {
            self.central_moment(4) / self.variance.powi(2) - 3.0
        }
    }

    fn quantile(&self, q: f64) -> f64 {
        quantile(&self.sorted, q)
    }

    fn mean_absolute_deviation(&self) -> f64 {
        self.central_abs(self.mean)
    }

    fn median_absolute_deviation(&self) -> f64 {
        self.central_abs(self.quantile(0.5))
    }

    fn central_abs(&self, centre: f64) -> f64 {
        self.sorted.iter().map(|v| (v - centre).abs()).sum::<f64>() / self.sorted.len() as f64
    }

    /// Mean absolute deviation of the values between the 10th and 90th percentiles
    /// (inclusive) from their own mean.
    fn robust_mean_absolute_deviation(&self) -> f64 {
        let (low, high) = (self.quantile(0.1), self.quantile(0.9));
        let inner: Vec<f64> = self
            .sorted
            .iter()
            .copied()
            .filter(|v| *v >= low && *v <= high)
            .collect();
        let mean = inner.iter().sum::<f64>() / inner.len() as f64;
        inner.iter().map(|v| (v - mean).abs()).sum::<f64>() / inner.len() as f64
    }

    fn quartile_coefficient_of_dispersion(&self) -> f64 {
        let (p25, p75) = (self.quantile(0.25), self.quantile(0.75));
        ratio(p75 - p25, p75 + p25)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(features: &[Feature], name: &str) -> f64 {
        features.iter().find(|f| f.name.name == name).unwrap().value
    }

    #[test]
    fn statistics_of_a_small_sample_match_hand_computation() {
        let f = statistics(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(value(&f, "mean"), 2.5);
        assert!((value(&f, "variance") - 1.25).abs() < 1e-12);
        assert!(value(&f, "skewness").abs() < 1e-12);
        // Excess kurtosis of a discrete uniform on 4 points: 2.5625 / 1.5625 - 3.
        assert!((value(&f, "kurtosis") - (2.5625 / 1.5625 - 3.0)).abs() < 1e-12);
        assert_eq!(value(&f, "median"), 2.5);
        assert!((value(&f, "10th percentile") - 1.3).abs() < 1e-12);
        assert_eq!(value(&f, "energy"), 30.0);
        assert_eq!(value(&f, "range"), 3.0);
    }

    #[test]
    fn a_uniform_roi_has_zero_shape_statistics() {
        let f = statistics(&[5.0; 6]);
        assert_eq!(value(&f, "skewness"), 0.0);
        assert_eq!(value(&f, "kurtosis"), 0.0);
        let h = histogram(&[1; 6], 1);
        assert_eq!(value(&h, "entropy"), 0.0);
        assert_eq!(value(&h, "uniformity"), 1.0);
        assert_eq!(value(&h, "mode"), 1.0);
    }

    #[test]
    fn mode_ties_go_to_the_level_nearest_the_mean_then_the_lower() {
        // Levels 1 and 3 twice each, mean 2: equally near, the lower wins.
        assert_eq!(mode(&[2.0, 0.0, 2.0], 2.0), 1.0);
        assert_eq!(mode(&[2.0, 0.0, 2.0], 2.5), 3.0);
    }
}
