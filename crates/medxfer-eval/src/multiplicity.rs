//! Adjusting p-values of a family of tests: Holm (family-wise error) and Benjamini-Hochberg
//! (false discovery rate). Adjusted values come back in the input order.

use crate::EvalError;

fn check_p_values(p: &[f64]) -> Result<(), EvalError> {
    if let Some(i) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(EvalError::InvalidArgument(format!(
            "p-value {} at index {i} is not in [0, 1]",
            p[i]
        )));
    }
    Ok(())
}

fn ascending_order(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    order
}

/// Holm's step-down adjustment: p_(i) * (m - i + 1), made monotone, capped at 1.
pub fn holm(p: &[f64]) -> Result<Vec<f64>, EvalError> {
    check_p_values(p)?;
    let m = p.len();
    let mut adjusted = vec![0.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &i) in ascending_order(p).iter().enumerate() {
        running_max = running_max.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running_max;
    }
    Ok(adjusted)
}

/// Benjamini-Hochberg step-up adjustment: p_(i) * m / i, made monotone from the top, capped at 1.
pub fn benjamini_hochberg(p: &[f64]) -> Result<Vec<f64>, EvalError> {
    check_p_values(p)?;
    let m = p.len();
    let mut adjusted = vec![0.0; m];
    let mut running_min: f64 = 1.0;
    for (rank, &i) in ascending_order(p).iter().enumerate().rev() {
        running_min = running_min.min(p[i] * m as f64 / (rank + 1) as f64);
        adjusted[i] = running_min;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let p = [0.01, 0.04, 0.03, 0.005];
        // Sorted 0.005, 0.01, 0.03, 0.04 -> Holm 0.02, 0.03, 0.06, 0.06.
        let h = holm(&p).unwrap();
        let expected = [0.03, 0.06, 0.06, 0.02];
        for (a, b) in h.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        // BH: 0.005*4=0.02, 0.01*2=0.02, 0.03*4/3=0.04, 0.04 -> 0.02, 0.02, 0.04, 0.04.
        let bh = benjamini_hochberg(&p).unwrap();
        let expected = [0.02, 0.04, 0.04, 0.02];
        for (a, b) in bh.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!(holm(&[1.5]).is_err());
        assert!(holm(&[]).unwrap().is_empty());
    }
}
