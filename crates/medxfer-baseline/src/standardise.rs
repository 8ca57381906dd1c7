//! Feature standardisation (zero mean, unit variance per column), fitted on training rows only
//! so no statistic of a test image leaks into the model.

use crate::Matrix;

#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardiser {
    /// Column means and population standard deviations of `x` (scikit-learn's
    /// `StandardScaler`); a constant column keeps scale 1, so it maps to zero.
    pub fn fit(x: &Matrix) -> Self {
        let (n, d) = (x.rows().max(1) as f64, x.cols());
        let mut mean = vec![0.0; d];
        for i in 0..x.rows() {
            for (m, v) in mean.iter_mut().zip(x.row(i)) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; d];
        for i in 0..x.rows() {
            for ((s, v), m) in var.iter_mut().zip(x.row(i)).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        // Below this a column is constant up to rounding; dividing would blow rounding up.
        const CONSTANT_COLUMN_VARIANCE: f64 = 1e-24;
        let scale = var
            .iter()
            .map(|s| s / n)
            .map(|v| {
                if v > CONSTANT_COLUMN_VARIANCE {
                    v.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        Standardiser { mean, scale }
    }

    pub fn transform(&self, x: &Matrix) -> Matrix {
        let mut values = Vec::with_capacity(x.rows() * x.cols());
        for i in 0..x.rows() {
            for ((v, m), s) in x.row(i).iter().zip(&self.mean).zip(&self.scale) {
                values.push((v - m) / s);
            }
        }
        Matrix::from_parts(x.rows(), x.cols(), values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_columns_get_zero_mean_and_unit_variance_and_constants_zero() {
        let x = Matrix::new(3, 2, vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0]).unwrap();
        let s = Standardiser::fit(&x);
        let z = s.transform(&x);
        let col: Vec<f64> = (0..3).map(|i| z.row(i)[0]).collect();
        let expected = [-(1.5f64).sqrt(), 0.0, (1.5f64).sqrt()];
        for (a, b) in col.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert!((0..3).all(|i| z.row(i)[1] == 0.0));
        // A test row is scaled with the training statistics, not its own.
        let test = Matrix::new(1, 2, vec![4.0, 7.0]).unwrap();
        let t = s.transform(&test);
        assert!((t.row(0)[0] - 2.0 * (1.5f64).sqrt()).abs() < 1e-12);
        assert!((t.row(0)[1] - 2.0).abs() < 1e-12);
    }
}
