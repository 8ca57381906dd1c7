//! ReLU6 gradient on contiguous `f32` buffers.

use rayon::prelude::*;

/// Elements per parallel task: large enough to amortise scheduling, small enough to split
/// mid-sized activations over both cores.
const CHUNK: usize = 1 << 15;

/// `output_grad` where `0 < x < 6`, else 0 (PyTorch's hardtanh gradient).
pub(crate) fn relu6_gradient(x: &[f32], output_grad: &[f32]) -> Vec<f32> {
    let mut grad = vec![0.0f32; x.len()];
    grad.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(output_grad.par_chunks(CHUNK)))
        .for_each(|(out, (x, g))| {
            for ((out, &x), &g) in out.iter_mut().zip(x).zip(g) {
                *out = if x > 0.0 && x < 6.0 { g } else { 0.0 };
            }
        });
    grad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_gradient_strictly_inside_zero_to_six() {
        let x = [-1.0, 0.0, 0.5, 5.9, 6.0, 7.0];
        let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(relu6_gradient(&x, &g), vec![0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
    }
}
