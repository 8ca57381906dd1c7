//! `load_init` on weight files the tests write themselves: torchvision-layout `.pth` (zip) and
//! `.safetensors`, medxfer SSL burnpacks, bad shapes, gray-input adaptation.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use medxfer_models::weights::module_state;
use medxfer_models::{Backbone, BackboneKind, Init, load_init};
use support::pth_writer::{PthStorage, PthTensor, contiguous_strides, write_pth};
use support::torchvision_layout::{resnet18_keys, values};

/// torchvision ResNet-18 state dict with deterministic values (float tensors only).
fn resnet18_state(in_channels: usize) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    resnet18_keys(in_channels, 10)
        .into_iter()
        .enumerate()
        .filter(|(_, (key, _))| !key.ends_with("num_batches_tracked"))
        .map(|(seed, (key, shape))| {
            let count = shape.iter().product();
            (key, (shape, values(seed, count)))
        })
        .collect()
}

fn write_safetensors(path: &Path, state: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = state
        .iter()
        .map(|(key, (shape, data))| {
            let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (key.clone(), raw, shape.clone())
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(key, raw, shape)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)
                    .unwrap();
            (key.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// `.pth` zip with every tensor; `conv1.weight` is stored non-contiguously (as a permuted view,
/// channels-last like TensorFlow exports) to check that strides are honoured.
fn write_torchvision_pth(path: &Path, state: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) {
    let mut tensors = Vec::new();
    for (key, (shape, data)) in state {
        if key == "conv1.weight" {
            // Storage in [kh][kw][in][out] order; logical [out][in][kh][kw] via strides.
            let [o, i, kh, kw] = [shape[0], shape[1], shape[2], shape[3]];
            let mut storage = vec![0.0f32; data.len()];
            for a in 0..o {
                for b in 0..i {
                    for y in 0..kh {
                        for x in 0..kw {
                            storage[((y * kw + x) * i + b) * o + a] =
                                data[((a * i + b) * kh + y) * kw + x];
                        }
                    }
                }
            }
            tensors.push(PthTensor {
                name: key.clone(),
                shape: shape.clone(),
                stride: vec![1, o, kw * i * o, i * o],
                storage: PthStorage::Float(storage),
            });
        } else {
            tensors.push(PthTensor::float(key, shape, data.clone()));
        }
    }
    tensors.push(PthTensor {
        name: "bn1.num_batches_tracked".to_string(),
        shape: vec![],
        stride: contiguous_strides(&[]),
        storage: PthStorage::Long(vec![1000]),
    });
    write_pth(path, &tensors);
}

/// The loaded backbone holds the file's values under burn's names.
fn assert_holds(backbone: &Backbone, state: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) {
    let loaded = module_state(backbone);
    let pairs = [
        ("conv1.weight", "conv1.weight"),
        ("bn1.gamma", "bn1.weight"),
        ("bn1.beta", "bn1.bias"),
        ("bn1.running_var", "bn1.running_var"),
        (
            "layer3.0.downsample.conv.weight",
            "layer3.0.downsample.0.weight",
        ),
        (
            "layer3.0.downsample.bn.running_mean",
            "layer3.0.downsample.1.running_mean",
        ),
        ("layer4.1.conv2.weight", "layer4.1.conv2.weight"),
    ];
    for (burn_path, torch_key) in pairs {
        assert_eq!(loaded[burn_path].shape, state[torch_key].0, "{burn_path}");
        assert_eq!(loaded[burn_path].data, state[torch_key].1, "{burn_path}");
    }
    // Every tensor of the backbone came from the file (fc excluded).
    assert_eq!(loaded.len(), state.len() - 2);
}

#[test]
fn torchvision_pth_and_safetensors_load_into_resnet18() {
    let dir = tempfile::tempdir().unwrap();
    let state = resnet18_state(3);
    let pth = dir.path().join("resnet18.pth");
    let safetensors = dir.path().join("resnet18.safetensors");
    write_torchvision_pth(&pth, &state);
    write_safetensors(&safetensors, &state);

    let device = Device::flex();
    for file in [&pth, &safetensors] {
        let backbone = Backbone::new(BackboneKind::Resnet18, 3, &device);
        let backbone = load_init(
            backbone,
            BackboneKind::Resnet18,
            &Init::File(file.clone()),
            dir.path(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_holds(&backbone, &state);
        let features = backbone.forward_features(Tensor::ones([1, 3, 32, 32], &device));
        assert_eq!(features.dims(), [1, 512]);
    }
}

#[test]
fn gray_backbone_gets_the_first_conv_summed_over_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let state = resnet18_state(3);
    let file = dir.path().join("resnet18.safetensors");
    write_safetensors(&file, &state);

    let backbone = Backbone::new(BackboneKind::Resnet18, 1, &Device::flex());
    let backbone = load_init(
        backbone,
        BackboneKind::Resnet18,
        &Init::File(file),
        dir.path(),
    )
    .unwrap();
    let conv1 = &module_state(&backbone)["conv1.weight"];
    assert_eq!(conv1.shape, [64, 1, 7, 7]);
    let (shape, rgb) = &state["conv1.weight"];
    assert_eq!(shape, &[64, 3, 7, 7]);
    for o in 0..64 {
        for k in 0..49 {
            let expected: f32 = (0..3).map(|c| rgb[(o * 3 + c) * 49 + k]).sum();
            let got = conv1.data[o * 49 + k];
            assert!(
                (got - expected).abs() <= 1e-6,
                "filter {o} tap {k}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn a_tensor_of_the_wrong_shape_is_a_one_line_error_naming_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = resnet18_state(3);
    state.insert(
        "layer2.1.conv1.weight".to_string(),
        (vec![128, 128, 1, 1], values(7, 128 * 128)),
    );
    let file = dir.path().join("bad_shapes.safetensors");
    write_safetensors(&file, &state);

    let backbone = Backbone::new(BackboneKind::Resnet18, 3, &Device::flex());
    let err = load_init(
        backbone,
        BackboneKind::Resnet18,
        &Init::File(file),
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bad_shapes.safetensors"), "{err}");
    assert!(err.contains("layer2.1.conv1.weight"), "{err}");
    assert!(
        err.contains("[128, 128, 1, 1]") && err.contains("[128, 128, 3, 3]"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_resnet18_file_does_not_load_into_resnet50() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resnet18.safetensors");
    write_safetensors(&file, &resnet18_state(3));
    let backbone = Backbone::new(BackboneKind::Resnet50, 3, &Device::flex());
    let err = load_init(
        backbone,
        BackboneKind::Resnet50,
        &Init::File(file),
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("resnet18.safetensors") && err.contains("resnet50"),
        "{err}"
    );
}

#[test]
fn ssl_burnpack_of_a_backbone_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let trained = Backbone::new(BackboneKind::EfficientnetLite0, 1, &device);
    let checkpoint = dir.path().join("encoder.bpk");
    trained
        .save_into(&mut BurnpackStore::from_file(&checkpoint))
        .unwrap();

    let fresh = Backbone::new(BackboneKind::EfficientnetLite0, 1, &device);
    let loaded = load_init(
        fresh,
        BackboneKind::EfficientnetLite0,
        &Init::Ssl(checkpoint.clone()),
        dir.path(),
    )
    .unwrap();
    assert_eq!(module_state(&loaded), module_state(&trained));

    let wrong = Backbone::new(BackboneKind::Resnet18, 1, &device);
    let err = load_init(
        wrong,
        BackboneKind::Resnet18,
        &Init::Ssl(checkpoint),
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("encoder.bpk") && err.contains("efficientnet_lite0"),
        "{err}"
    );
}

#[test]
fn imagenet_init_explains_how_to_get_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let backbone = Backbone::new(BackboneKind::EfficientnetLite0, 3, &device);
    let err = load_init(
        backbone,
        BackboneKind::EfficientnetLite0,
        &Init::Imagenet,
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("medxfer weights fetch efficientnet_lite0"),
        "{err}"
    );

    let backbone = Backbone::new(BackboneKind::Resnet18, 3, &device);
    let err = load_init(
        backbone,
        BackboneKind::Resnet18,
        &Init::Imagenet,
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("file:PATH"), "{err}");
}

/// An encoder pretrained on gray images (1-channel stem) initialises a 3-channel backbone: the
/// stem is spread over RGB, so a gray image replicated to RGB gives the encoder's own features.
#[test]
fn gray_ssl_encoder_initialises_an_rgb_backbone_with_identical_features() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let gray = Backbone::new(BackboneKind::Resnet18, 1, &device);
    let checkpoint = dir.path().join("encoder.bpk");
    gray.save_into(&mut BurnpackStore::from_file(&checkpoint))
        .unwrap();

    let rgb = load_init(
        Backbone::new(BackboneKind::Resnet18, 3, &device),
        BackboneKind::Resnet18,
        &Init::Ssl(checkpoint),
        dir.path(),
    )
    .unwrap();
    assert_eq!(module_state(&rgb)["conv1.weight"].shape, [64, 3, 7, 7]);

    let image = Tensor::<4>::random([2, 1, 32, 32], burn::tensor::Distribution::Default, &device);
    let expected = gray.forward_features(image.clone()).into_data();
    let got = rgb.forward_features(image.repeat_dim(1, 3)).into_data();
    got.assert_approx_eq(&expected, burn::tensor::Tolerance::<f32>::absolute(1e-4));
}
