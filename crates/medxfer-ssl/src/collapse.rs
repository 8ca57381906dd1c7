//! Detecting a collapsed representation (every image mapped to nearly the same point, BYOL's
//! known failure): the spread of the L2-normalised projections, i.e. the per-dimension standard
//! deviation across images averaged over dimensions, times sqrt(d). Points spread evenly over
//! the sphere give about 1; a collapsed run gives about 0 (SimSiam's collapse monitor, scaled).

/// Spread of `rows` (n x dim, row-major) after normalising each row to unit length.
pub fn normalized_spread(rows: &[f32], dim: usize) -> f64 {
    let n = if dim == 0 { 0 } else { rows.len() / dim };
    if n < 2 {
        return f64::NAN;
    }
    let mut sum = vec![0.0f64; dim];
    let mut sum_sq = vec![0.0f64; dim];
    for row in rows.chunks_exact(dim) {
        let norm = row
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        for (j, &v) in row.iter().enumerate() {
            let u = v as f64 / norm;
            sum[j] += u;
            sum_sq[j] += u * u;
        }
    }
    let nf = n as f64;
    let mean_std = (0..dim)
        .map(|j| {
            let mean = sum[j] / nf;
            ((sum_sq[j] / nf - mean * mean).max(0.0) * nf / (nf - 1.0)).sqrt()
        })
        .sum::<f64>()
        / dim as f64;
    mean_std * (dim as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_rows_have_no_spread_and_antipodal_axes_full_spread() {
        let same = [0.3f32, -0.1, 2.0].repeat(10);
        assert!(normalized_spread(&same, 3) < 1e-6);
        // +-e1, +-e2 in 2-D: each coordinate is (1, -1, 0, 0) with sample std sqrt(2/3);
        // mean over the 2 dims times sqrt(2) = sqrt(2/3) * sqrt(2) = 1.1547.
        let axes = [1.0f32, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0];
        let spread = normalized_spread(&axes, 2);
        assert!(
            (spread - (2.0f64 / 3.0).sqrt() * 2f64.sqrt()).abs() < 1e-9,
            "{spread}"
        );
        assert!(normalized_spread(&[1.0, 2.0], 2).is_nan());
    }
}
