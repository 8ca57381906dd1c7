//! Occlusion sensitivity (Zeiler & Fergus 2014).

use burn::prelude::*;
use burn::tensor::activation::softmax;
use medxfer_models::Classifier;

use crate::ExplainError;

/// Top-left corners of the patches along an axis of `size`: every `stride`, plus one flush
/// with the far edge so no border strip is left uncovered.
fn corners(size: usize, patch: usize, stride: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (0..=size - patch).step_by(stride).collect();
    if out.last() != Some(&(size - patch)) {
        out.push(size - patch);
    }
    out
}

/// The class probability's drop when each patch is set to 0 (the training mean after
/// normalisation), averaged over the patches covering each pixel: S x S, signed.
pub fn occlusion(
    model: &Classifier,
    x: Tensor<4>,
    class: usize,
    patch: usize,
    stride: usize,
) -> Result<Vec<f32>, ExplainError> {
    let [_, channels, h, w] = x.dims();
    if patch == 0 || stride == 0 || patch > h.min(w) {
        return Err(ExplainError::Invalid {
            what: "occlusion",
            message: format!("patch {patch} and stride {stride} must be 1 to the input size {h}"),
        });
    }
    let probability = |batch: Tensor<4>| -> Vec<f32> {
        let [n, ..] = batch.dims();
        softmax(model.forward(batch), 1)
            .slice([0..n, class..class + 1])
            .into_data()
            .iter::<f32>()
            .collect()
    };
    let base = probability(x.clone())[0];
    let input: Vec<f32> = x.clone().into_data().iter::<f32>().collect();
    let boxes: Vec<(usize, usize)> = corners(h, patch, stride)
        .into_iter()
        .flat_map(|y| corners(w, patch, stride).into_iter().map(move |x| (y, x)))
        .collect();
    let (mut sum, mut count) = (vec![0f32; h * w], vec![0f32; h * w]);
    for chunk in boxes.chunks(16) {
        let mut values = Vec::with_capacity(chunk.len() * input.len());
        for &(y0, x0) in chunk {
            let mut copy = input.clone();
            for c in 0..channels {
                for y in y0..y0 + patch {
                    let row = c * h * w + y * w;
                    copy[row + x0..row + x0 + patch].fill(0.0);
                }
            }
            values.extend(copy);
        }
        let batch = Tensor::from_data(
            TensorData::new(values, [chunk.len(), channels, h, w]),
            &x.device(),
        );
        for (&(y0, x0), p) in chunk.iter().zip(probability(batch)) {
            for y in y0..y0 + patch {
                for xx in x0..x0 + patch {
                    sum[y * w + xx] += base - p;
                    count[y * w + xx] += 1.0;
                }
            }
        }
    }
    Ok(sum
        .iter()
        .zip(&count)
        .map(|(s, c)| s / c.max(1.0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::corners;

    #[test]
    fn patches_cover_the_whole_axis() {
        assert_eq!(corners(24, 8, 4), vec![0, 4, 8, 12, 16]);
        assert_eq!(corners(26, 8, 4), vec![0, 4, 8, 12, 16, 18]);
        assert_eq!(corners(8, 8, 3), vec![0]);
    }
}
