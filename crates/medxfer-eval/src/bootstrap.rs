//! Stratified bootstrap confidence intervals (percentile and BCa), seeded and parallel.
//!
//! Each stratum (e.g. the positives and the negatives) is resampled with replacement to its
//! own size, so every resample keeps the class balance and the AUC stays defined. Resample
//! `b` draws from its own ChaCha8 stream (`seed`, stream `b`): results do not depend on the
//! number of threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::EvalError;
use crate::delong::{Placements, check_level};
use crate::ranking::TieGroups;
use crate::special::{normal_cdf, normal_quantile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CiMethod {
    Percentile,
    /// Bias-corrected and accelerated (Efron 1987), acceleration from the jackknife.
    Bca,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapConfig {
    pub n_resamples: usize,
    pub level: f64,
    pub seed: u64,
    pub method: CiMethod,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            n_resamples: 2000,
            level: 0.95,
            seed: 0,
            method: CiMethod::Percentile,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapCi {
    pub estimate: f64,
    /// Sample variance of the replicates (the bootstrap estimate of the estimator's variance).
    pub variance: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub ci_level: f64,
    pub n_resamples: usize,
    pub method: CiMethod,
}

fn check_config(config: &BootstrapConfig) -> Result<(), EvalError> {
    check_level(config.level)?;
    if config.n_resamples < 2 {
        return Err(EvalError::InvalidArgument(format!(
            "bootstrap needs at least 2 resamples, got {}",
            config.n_resamples
        )));
    }
    Ok(())
}

fn resample_rng(seed: u64, b: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(b as u64);
    rng
}

/// Linear-interpolation quantile of sorted values (NumPy's default "linear" method).
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = h - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * t
}

fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
}

/// Percentile interval of bootstrap replicates.
pub fn percentile_interval(replicates: &[f64], level: f64) -> Result<(f64, f64), EvalError> {
    check_level(level)?;
    if replicates.is_empty() {
        return Err(EvalError::Empty("percentile interval (no replicates)"));
    }
    let sorted = sorted_copy(replicates);
    let alpha = (1.0 - level) / 2.0;
    Ok((
        quantile_sorted(&sorted, alpha),
        quantile_sorted(&sorted, 1.0 - alpha),
    ))
}

/// BCa interval from replicates, the full-sample estimate and the jackknife (leave-one-out)
/// estimates. The bias correction counts replicates equal to the estimate as one half. A bias
/// proportion of 0 or 1 is clamped to 1/(2B) or 1 - 1/(2B) to keep the interval finite.
pub fn bca_interval(
    replicates: &[f64],
    estimate: f64,
    jackknife: &[f64],
    level: f64,
) -> Result<(f64, f64), EvalError> {
    check_level(level)?;
    if replicates.is_empty() || jackknife.is_empty() {
        return Err(EvalError::Empty(
            "BCa interval (no replicates or jackknife values)",
        ));
    }
    let b = replicates.len() as f64;
    let below = replicates.iter().filter(|&&r| r < estimate).count() as f64;
    let at_or_below = replicates.iter().filter(|&&r| r <= estimate).count() as f64;
    let proportion = ((below + at_or_below) / (2.0 * b)).clamp(0.5 / b, 1.0 - 0.5 / b);
    let z0 = normal_quantile(proportion);
    let mean = jackknife.iter().sum::<f64>() / jackknife.len() as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for &j in jackknife {
        let d = mean - j;
        num += d * d * d;
        den += d * d;
    }
    let acceleration = if den > 0.0 {
        num / (6.0 * den.powf(1.5))
    } else {
        0.0
    };
    let adjusted = |alpha: f64| {
        let z = normal_quantile(alpha);
        normal_cdf(z0 + (z0 + z) / (1.0 - acceleration * (z0 + z)))
    };
    let alpha = (1.0 - level) / 2.0;
    let sorted = sorted_copy(replicates);
    Ok((
        quantile_sorted(&sorted, adjusted(alpha)),
        quantile_sorted(&sorted, adjusted(1.0 - alpha)),
    ))
}

fn interval(
    config: &BootstrapConfig,
    replicates: &[f64],
    estimate: f64,
    jackknife: impl FnOnce() -> Result<Vec<f64>, EvalError>,
) -> Result<BootstrapCi, EvalError> {
    let (ci_low, ci_high) = match config.method {
        CiMethod::Percentile => percentile_interval(replicates, config.level)?,
        CiMethod::Bca => bca_interval(replicates, estimate, &jackknife()?, config.level)?,
    };
    let mean = replicates.iter().sum::<f64>() / replicates.len() as f64;
    let variance = replicates.iter().map(|r| (r - mean).powi(2)).sum::<f64>()
        / (replicates.len() as f64 - 1.0);
    Ok(BootstrapCi {
        estimate,
        variance,
        ci_low,
        ci_high,
        ci_level: config.level,
        n_resamples: config.n_resamples,
        method: config.method,
    })
}

/// Stratified bootstrap CI of any statistic. `statistic` receives the case indices of a
/// sample (the full sample, a resample, or a leave-one-out sample for BCa's jackknife, which
/// costs one evaluation per case).
pub fn stratified_bootstrap_ci<F>(
    strata: &[usize],
    config: &BootstrapConfig,
    statistic: F,
) -> Result<BootstrapCi, EvalError>
where
    F: Fn(&[usize]) -> Result<f64, EvalError> + Sync,
{
    check_config(config)?;
    if strata.is_empty() {
        return Err(EvalError::Empty("bootstrap"));
    }
    if strata.len() > u32::MAX as usize {
        return Err(EvalError::InvalidArgument(
            "bootstrap: more than 2^32 cases".into(),
        ));
    }
    let n_strata = strata.iter().max().map_or(0, |&m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_strata];
    for (i, &s) in strata.iter().enumerate() {
        members[s].push(i);
    }
    members.retain(|m| !m.is_empty());
    let all: Vec<usize> = (0..strata.len()).collect();
    let estimate = statistic(&all)?;
    let replicates = (0..config.n_resamples)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(strata.len()),
            |sample, b| {
                let mut rng = resample_rng(config.seed, b);
                sample.clear();
                for group in &members {
                    sample
                        .extend((0..group.len()).map(|_| group[rng.random_range(0..group.len())]));
                }
                statistic(sample)
            },
        )
        .collect::<Result<Vec<f64>, EvalError>>()?;
    interval(config, &replicates, estimate, || {
        (0..strata.len())
            .into_par_iter()
            .map(|left_out| {
                let rest: Vec<usize> = (0..strata.len()).filter(|&i| i != left_out).collect();
                statistic(&rest)
            })
            .collect()
    })
}

/// Stratified (by class) bootstrap CI of the binary AUC. Specialised: the scores are sorted
/// once and a resample is only a multiplicity per case, so each replicate costs O(n) without
/// sorting; the jackknife for BCa comes from the DeLong placements in O(n).
pub fn bootstrap_auc_ci(
    is_positive: &[bool],
    scores: &[f64],
    config: &BootstrapConfig,
) -> Result<BootstrapCi, EvalError> {
    check_config(config)?;
    let placements = Placements::compute(is_positive, scores)?;
    let (n_pos, n_neg) = (placements.n_pos, placements.n_neg);
    if n_pos > u32::MAX as usize || n_neg > u32::MAX as usize {
        return Err(EvalError::InvalidArgument(
            "bootstrap_auc_ci: more than 2^32 cases in a class".into(),
        ));
    }
    let layout = SortedLayout::new(is_positive, scores);
    let replicates: Vec<f64> = (0..config.n_resamples)
        .into_par_iter()
        .map_init(
            || {
                (
                    vec![0u32; n_pos],
                    vec![0u32; n_neg],
                    Vec::with_capacity(n_neg + 1),
                )
            },
            |(pos_mult, neg_mult, prefix), b| {
                let mut rng = resample_rng(config.seed, b);
                pos_mult.fill(0);
                neg_mult.fill(0);
                for _ in 0..n_pos {
                    pos_mult[rng.random_range(0..n_pos as u32) as usize] += 1;
                }
                for _ in 0..n_neg {
                    neg_mult[rng.random_range(0..n_neg as u32) as usize] += 1;
                }
                layout.weighted_auc(pos_mult, neg_mult, prefix)
            },
        )
        .collect();
    let auc = placements.auc;
    interval(config, &replicates, auc, || {
        if n_pos < 2 || n_neg < 2 {
            return Err(EvalError::TooFewCases {
                what: "BCa jackknife of the AUC",
                needed: 2,
                n_pos,
                n_neg,
            });
        }
        // Leaving out a positive with placement v: (m AUC - v) / (m - 1); same for negatives.
        Ok((0..scores.len())
            .map(|i| {
                let count = if is_positive[i] { n_pos } else { n_neg } as f64;
                (count * auc - placements.values[i]) / (count - 1.0)
            })
            .collect())
    })
}

/// Positives and negatives each numbered in ascending score order; for every positive, how
/// many negatives score strictly below it and how many score at most as high. A resample's
/// AUC is then a prefix sum over the negatives' multiplicities and one pass over the
/// positives, both sequential and branch-free.
struct SortedLayout {
    neg_below: Vec<u32>,
    neg_at_or_below: Vec<u32>,
    n_pos: f64,
    n_neg: f64,
}

impl SortedLayout {
    fn new(is_positive: &[bool], scores: &[f64]) -> Self {
        let groups = TieGroups::ascending(scores);
        let mut neg_below = Vec::new();
        let mut neg_at_or_below = Vec::new();
        let mut negatives_so_far = 0u32;
        for g in 0..groups.n_groups() {
            let members = groups.group(g);
            let negatives_here = members.iter().filter(|&&i| !is_positive[i]).count() as u32;
            let positives_here = members.len() - negatives_here as usize;
            for _ in 0..positives_here {
                neg_below.push(negatives_so_far);
                neg_at_or_below.push(negatives_so_far + negatives_here);
            }
            negatives_so_far += negatives_here;
        }
        SortedLayout {
            n_pos: neg_below.len() as f64,
            n_neg: f64::from(negatives_so_far),
            neg_below,
            neg_at_or_below,
        }
    }

    /// AUC of a resample given each case's multiplicity. The draws number a class's cases
    /// arbitrarily; as all cases of a class are equally likely, numbering them in score order
    /// gives the same distribution of resamples.
    fn weighted_auc(&self, pos_mult: &[u32], neg_mult: &[u32], prefix: &mut Vec<u32>) -> f64 {
        prefix.clear();
        prefix.push(0);
        let mut running = 0u32;
        for &c in neg_mult {
            running += c;
            prefix.push(running);
        }
        // Twice the Mann-Whitney U: each positive copy scores 2 per negative copy below it
        // and 1 per tied one.
        let twice_u: u64 = pos_mult
            .iter()
            .zip(self.neg_below.iter().zip(&self.neg_at_or_below))
            .map(|(&m, (&lt, &le))| {
                u64::from(m) * (u64::from(prefix[lt as usize]) + u64::from(prefix[le as usize]))
            })
            .sum();
        twice_u as f64 / (2.0 * self.n_pos * self.n_neg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auc::roc_auc;

    fn toy() -> (Vec<bool>, Vec<f64>) {
        let y: Vec<bool> = (0..60).map(|i| i % 3 == 0).collect();
        let s: Vec<f64> = (0..60)
            .map(|i| ((i * 37) % 17) as f64 / 17.0 + if i % 3 == 0 { 0.3 } else { 0.0 })
            .collect();
        (y, s)
    }

    #[test]
    fn fast_auc_bootstrap_equals_the_generic_one() {
        // Listed in ascending score order, the generic path numbers each class's cases as the
        // fast path does, so the same seed draws the same resamples.
        let (y0, s0) = toy();
        let mut order: Vec<usize> = (0..y0.len()).collect();
        order.sort_by(|&a, &b| s0[a].total_cmp(&s0[b]));
        let y: Vec<bool> = order.iter().map(|&i| y0[i]).collect();
        let s: Vec<f64> = order.iter().map(|&i| s0[i]).collect();
        for method in [CiMethod::Percentile, CiMethod::Bca] {
            let config = BootstrapConfig {
                n_resamples: 300,
                level: 0.9,
                seed: 7,
                method,
            };
            let fast = bootstrap_auc_ci(&y, &s, &config).unwrap();
            let strata: Vec<usize> = y.iter().map(|&p| usize::from(!p)).collect();
            let generic = stratified_bootstrap_ci(&strata, &config, |idx| {
                let yy: Vec<bool> = idx.iter().map(|&i| y[i]).collect();
                let ss: Vec<f64> = idx.iter().map(|&i| s[i]).collect();
                roc_auc(&yy, &ss)
            })
            .unwrap();
            assert!((fast.estimate - generic.estimate).abs() < 1e-12);
            assert!(
                (fast.ci_low - generic.ci_low).abs() < 1e-12,
                "{fast:?} {generic:?}"
            );
            assert!(
                (fast.ci_high - generic.ci_high).abs() < 1e-12,
                "{fast:?} {generic:?}"
            );
            assert!(fast.ci_low < fast.estimate && fast.estimate < fast.ci_high);
        }
    }

    #[test]
    fn same_seed_same_interval_and_perfect_scorer_is_degenerate() {
        let (y, s) = toy();
        let config = BootstrapConfig::default();
        assert_eq!(
            bootstrap_auc_ci(&y, &s, &config).unwrap(),
            bootstrap_auc_ci(&y, &s, &config).unwrap()
        );
        let perfect: Vec<f64> = y.iter().map(|&p| if p { 1.0 } else { 0.0 }).collect();
        let ci = bootstrap_auc_ci(
            &y,
            &perfect,
            &BootstrapConfig {
                method: CiMethod::Bca,
                ..config
            },
        )
        .unwrap();
        assert_eq!((ci.ci_low, ci.ci_high), (1.0, 1.0));
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&sorted, 0.5), 3.0);
        assert_eq!(quantile_sorted(&sorted, 0.0), 1.0);
        assert_eq!(quantile_sorted(&sorted, 1.0), 8.0);
        assert!((quantile_sorted(&sorted, 0.9) - 6.8).abs() < 1e-12);
    }
}
