//! A dense row-major matrix of features: one row per image, one column per feature.

use crate::BaselineError;

#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    values: Vec<f64>,
}

impl Matrix {
    /// `values` row-major, `rows * cols` long and finite.
    pub fn new(rows: usize, cols: usize, values: Vec<f64>) -> Result<Self, BaselineError> {
        if values.len() != rows * cols {
            return Err(BaselineError::data(format!(
                "a {rows} x {cols} feature matrix needs {} values, got {}",
                rows * cols,
                values.len()
            )));
        }
        if cols == 0 {
            return Err(BaselineError::data("the feature matrix has no columns"));
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(BaselineError::data(format!(
                "feature {} of row {} is not a finite number",
                index % cols,
                index / cols
            )));
        }
        Ok(Matrix { rows, cols, values })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Matrix {
        let mut values = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: indices.len(),
            cols: self.cols,
            values,
        }
    }

    /// Build from values already known to be finite (internal transforms).
    pub(crate) fn from_parts(rows: usize, cols: usize, values: Vec<f64>) -> Matrix {
        debug_assert_eq!(values.len(), rows * cols);
        Matrix { rows, cols, values }
    }
}

/// Squared Euclidean distance.
pub(crate) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_length_or_a_nan_is_an_error() {
        assert!(Matrix::new(2, 2, vec![1.0; 3]).is_err());
        let err = Matrix::new(2, 2, vec![1.0, 2.0, f64::NAN, 0.0]).unwrap_err();
        assert!(err.to_string().contains("feature 0 of row 1"), "{err}");
        let m = Matrix::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(m.select(&[1]).row(0), &[3.0, 4.0]);
    }
}
