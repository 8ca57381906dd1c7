//! Frozen-encoder embeddings of whole (unaugmented) images, batch by batch in evaluation mode:
//! what t-SNE plots and what k-NN and the linear probe classify.

use burn::prelude::*;
use medxfer_data::PreparedImage;
use medxfer_data::normalize::to_chw;
use medxfer_data::preprocess::resize_bilinear;
use medxfer_models::Backbone;

/// The input an encoder expects.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderInput {
    pub size: u32,
    pub channels: usize,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// Images resized (when needed) to the input size and normalised, as N x C x H x W.
pub fn input_batch(images: &[&PreparedImage], input: &EncoderInput, device: &Device) -> Tensor<4> {
    let side = input.size;
    let mut flat = Vec::with_capacity(images.len() * input.channels * (side * side) as usize);
    for image in images {
        if image.size == side {
            to_chw(image, input.channels, &input.mean, &input.std, &mut flat);
        } else {
            let pixels = resize_bilinear(&image.pixels, image.size, image.size, side, side);
            to_chw(
                &PreparedImage { size: side, pixels },
                input.channels,
                &input.mean,
                &input.std,
                &mut flat,
            );
        }
    }
    let side = side as usize;
    Tensor::from_data(
        TensorData::new(flat, [images.len(), input.channels, side, side]),
        device,
    )
}

/// Features (row-major, `encoder.feature_dim()` per image) of `images`.
pub fn embed_images(
    encoder: &Backbone,
    images: &[&PreparedImage],
    input: &EncoderInput,
    batch_size: usize,
    device: &Device,
) -> Vec<f32> {
    let device = device.clone().without_autodiff();
    let encoder = encoder.valid();
    let mut out = Vec::with_capacity(images.len() * encoder.feature_dim());
    for chunk in images.chunks(batch_size.max(1)) {
        let x = input_batch(chunk, input, &device);
        out.extend(encoder.forward_features(x).into_data().iter::<f32>());
    }
    out
}
