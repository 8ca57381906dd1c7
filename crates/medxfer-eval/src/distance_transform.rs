//! Exact Euclidean distance transform on an N-dimensional grid with per-axis spacing
//! (Felzenszwalb & Huttenlocher 2012: one lower envelope of parabolas per line, axis by axis).
//! Arrays are row-major (C order, last axis fastest), like NumPy.

use crate::EvalError;

/// Checks `shape` against the data length and `spacing` (one positive finite value per axis).
pub(crate) fn check_grid(
    what: &'static str,
    len: usize,
    shape: &[usize],
    spacing: &[f64],
) -> Result<(), EvalError> {
    if shape.is_empty() {
        return Err(EvalError::InvalidArgument(format!(
            "{what}: shape has no axes"
        )));
    }
    let volume: usize = shape.iter().product();
    if volume != len {
        return Err(EvalError::InvalidArgument(format!(
            "{what}: shape {shape:?} holds {volume} pixels but the mask has {len}"
        )));
    }
    if spacing.len() != shape.len() {
        return Err(EvalError::InvalidArgument(format!(
            "{what}: {} spacing values for {} axes",
            spacing.len(),
            shape.len()
        )));
    }
    if let Some(s) = spacing.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(EvalError::InvalidArgument(format!(
            "{what}: spacing {s} is not a positive number"
        )));
    }
    Ok(())
}

/// Squared distance from every pixel to the nearest pixel where `targets` is true
/// (`+inf` everywhere if there is none).
pub fn squared_distance_to_nearest(
    targets: &[bool],
    shape: &[usize],
    spacing: &[f64],
) -> Result<Vec<f64>, EvalError> {
    check_grid("distance transform", targets.len(), shape, spacing)?;
    let mut field: Vec<f64> = targets
        .iter()
        .map(|&t| if t { 0.0 } else { f64::INFINITY })
        .collect();
    let mut line = Vec::new();
    let mut envelope = LowerEnvelope::default();
    for axis in 0..shape.len() {
        let len = shape[axis];
        let stride: usize = shape[axis + 1..].iter().product();
        let outer = field.len() / (len * stride);
        for o in 0..outer {
            for inner in 0..stride {
                let base = o * len * stride + inner;
                line.clear();
                line.extend((0..len).map(|k| field[base + k * stride]));
                envelope.transform(&line, spacing[axis]);
                for (k, &v) in envelope.output.iter().enumerate() {
                    field[base + k * stride] = v;
                }
            }
        }
    }
    Ok(field)
}

/// SciPy's `distance_transform_edt(mask, sampling=spacing)`: for each true pixel, the
/// distance to the nearest false pixel; 0 on false pixels.
pub fn distance_transform_edt(
    mask: &[bool],
    shape: &[usize],
    spacing: &[f64],
) -> Result<Vec<f64>, EvalError> {
    let background: Vec<bool> = mask.iter().map(|&m| !m).collect();
    Ok(squared_distance_to_nearest(&background, shape, spacing)?
        .into_iter()
        .map(f64::sqrt)
        .collect())
}

/// Work buffers of the 1-D transform d(p) = min_q ((p - q) h)^2 + f(q).
#[derive(Default)]
struct LowerEnvelope {
    /// Positions of the parabolas forming the envelope.
    vertices: Vec<usize>,
    /// `bounds[j]..bounds[j + 1]` is where parabola `vertices[j]` is lowest.
    bounds: Vec<f64>,
    output: Vec<f64>,
}

impl LowerEnvelope {
    fn transform(&mut self, f: &[f64], h: f64) {
        let h2 = h * h;
        self.vertices.clear();
        self.bounds.clear();
        self.output.clear();
        // Where the parabolas rooted at q and r (q < r) cross, in grid units.
        let crossing = |q: usize, r: usize| {
            let (qf, rf) = (q as f64, r as f64);
            ((f[r] + h2 * rf * rf) - (f[q] + h2 * qf * qf)) / (2.0 * h2 * (rf - qf))
        };
        for (q, value) in f.iter().enumerate() {
            if value.is_infinite() {
                continue;
            }
            if self.vertices.is_empty() {
                self.vertices.push(q);
                self.bounds.push(f64::NEG_INFINITY);
                continue;
            }
            // The first bound is -inf, so the first parabola is never popped.
            loop {
                let top = self.vertices.len() - 1;
                let s = crossing(self.vertices[top], q);
                if s <= self.bounds[top] {
                    self.vertices.pop();
                    self.bounds.pop();
                } else {
                    self.vertices.push(q);
                    self.bounds.push(s);
                    break;
                }
            }
        }
        if self.vertices.is_empty() {
            self.output.resize(f.len(), f64::INFINITY);
            return;
        }
        let mut j = 0;
        for p in 0..f.len() {
            let pf = p as f64;
            while j + 1 < self.vertices.len() && self.bounds[j + 1] < pf {
                j += 1;
            }
            let q = self.vertices[j];
            let dq = (pf - q as f64) * h;
            self.output.push(dq * dq + f[q]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(targets: &[bool], shape: &[usize], spacing: &[f64]) -> Vec<f64> {
        let (rows, cols) = (shape[0], shape[1]);
        let mut out = vec![f64::INFINITY; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                for tr in 0..rows {
                    for tc in 0..cols {
                        if targets[tr * cols + tc] {
                            let dy = (r as f64 - tr as f64) * spacing[0];
                            let dx = (c as f64 - tc as f64) * spacing[1];
                            out[r * cols + c] = out[r * cols + c].min(dy * dy + dx * dx);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_brute_force_with_anisotropic_spacing() {
        let shape = [9, 13];
        let mut state = 12345u64;
        for density in [1u64, 5, 30, 70] {
            let targets: Vec<bool> = (0..9 * 13)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (state >> 33) % 100 < density
                })
                .collect();
            for spacing in [[1.0, 1.0], [0.7, 2.3]] {
                let fast = squared_distance_to_nearest(&targets, &shape, &spacing).unwrap();
                let slow = brute_force(&targets, &shape, &spacing);
                for (a, b) in fast.iter().zip(&slow) {
                    assert!(a == b || (a - b).abs() < 1e-9, "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn no_target_is_infinite_and_bad_grids_are_errors() {
        let d = squared_distance_to_nearest(&[false; 6], &[2, 3], &[1.0, 1.0]).unwrap();
        assert!(d.iter().all(|v| v.is_infinite()));
        assert!(squared_distance_to_nearest(&[false; 6], &[2, 2], &[1.0, 1.0]).is_err());
        assert!(squared_distance_to_nearest(&[false; 6], &[2, 3], &[1.0]).is_err());
        assert!(squared_distance_to_nearest(&[false; 6], &[2, 3], &[1.0, 0.0]).is_err());
    }
}
