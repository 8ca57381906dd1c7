//! Hand-written tensors shared by the loss tests.

use burn::prelude::*;

/// Rows of 2-vectors as a `[rows, 2]` tensor.
pub(crate) fn matrix(rows: &[[f32; 2]], device: &Device) -> Tensor<2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), device)
}
