//! Sums over `f32` slices in eight independent accumulators, so the compiler can keep them in
//! one SIMD register (a single running sum is a chain of dependent scalar adds). The partial
//! sums of a plane are combined at the end; callers add planes together in f64.

const LANES: usize = 8;

/// `sum(a[i] * b[i])`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            acc[lane] += x[lane] * y[lane];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `sum(a[i])`.
pub(crate) fn sum(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for x in chunks {
        for lane in 0..LANES {
            acc[lane] += x[lane];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `sum((a[i] - center)^2)`.
pub(crate) fn squared_deviation(a: &[f32], center: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|x| (x - center) * (x - center))
        .sum();
    for x in chunks {
        for lane in 0..LANES {
            let d = x[lane] - center;
            acc[lane] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_plain_sums_for_every_length() {
        for n in [0, 1, 7, 8, 9, 31, 100] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain_dot: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum();
            let plain_sum: f64 = a.iter().map(|x| *x as f64).sum();
            let plain_sq: f64 = a.iter().map(|x| (*x as f64 - 0.25).powi(2)).sum();
            assert!((dot(&a, &b) as f64 - plain_dot).abs() < 1e-4, "dot n={n}");
            assert!((sum(&a) as f64 - plain_sum).abs() < 1e-4, "sum n={n}");
            assert!(
                (squared_deviation(&a, 0.25) as f64 - plain_sq).abs() < 1e-4,
                "sq n={n}"
            );
        }
    }
}
