//! k nearest neighbours: the class fractions among the k training rows nearest (Euclidean) to
//! a query are its probabilities, as scikit-learn's `KNeighborsClassifier(weights="uniform")`.

use crate::matrix::squared_distance;
use crate::{BaselineError, KnnParams, Matrix};

#[derive(Debug, Clone)]
pub struct Knn {
    k: usize,
    train: Matrix,
    labels: Vec<usize>,
    n_classes: usize,
}

impl Knn {
    /// `k` larger than the training set is an error (there are not that many neighbours).
    pub fn fit(
        params: &KnnParams,
        x: &Matrix,
        labels: &[usize],
        n_classes: usize,
    ) -> Result<Self, BaselineError> {
        params.check()?;
        if params.k > x.rows() {
            return Err(BaselineError::params(
                "k",
                format!(
                    "{} neighbours but only {} training rows",
                    params.k,
                    x.rows()
                ),
            ));
        }
        Ok(Knn {
            k: params.k,
            train: x.clone(),
            labels: labels.to_vec(),
            n_classes,
        })
    }

    /// Row-major `rows x n_classes` probabilities. Equal distances are broken by training row
    /// order.
    pub fn predict_proba(&self, x: &Matrix) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.rows() * self.n_classes);
        let mut distances: Vec<(f64, usize)> = Vec::with_capacity(self.train.rows());
        for i in 0..x.rows() {
            distances.clear();
            distances.extend(
                (0..self.train.rows()).map(|j| (squared_distance(x.row(i), self.train.row(j)), j)),
            );
            let by_distance =
                |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            distances.select_nth_unstable_by(self.k - 1, by_distance);
            let mut counts = vec![0.0; self.n_classes];
            for &(_, j) in &distances[..self.k] {
                counts[self.labels[j]] += 1.0;
            }
            out.extend(counts.iter().map(|c| c / self.k as f64));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_separated_clusters_get_their_own_class() {
        let x = Matrix::new(6, 1, vec![0.0, 0.1, 0.2, 5.0, 5.1, 5.2]).unwrap();
        let y = [0, 0, 0, 1, 1, 1];
        let knn = Knn::fit(&KnnParams { k: 3 }, &x, &y, 2).unwrap();
        let q = Matrix::new(2, 1, vec![0.05, 4.9]).unwrap();
        assert_eq!(knn.predict_proba(&q), vec![1.0, 0.0, 0.0, 1.0]);
        // k = 4 takes one of the other cluster: 3/4 and 1/4 exactly.
        let knn4 = Knn::fit(&KnnParams { k: 4 }, &x, &y, 2).unwrap();
        assert_eq!(knn4.predict_proba(&q), vec![0.75, 0.25, 0.25, 0.75]);
        assert!(Knn::fit(&KnnParams { k: 7 }, &x, &y, 2).is_err());
    }
}
