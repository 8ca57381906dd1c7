//! DenseNet-121 specifics; the shape and stage tests every backbone passes are in `backbone.rs`.

use std::collections::{BTreeMap, BTreeSet};

use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Distribution;

use super::*;
use crate::weights::{StateDict, load_init, module_state};
use crate::{Backbone, BackboneKind, Init, spec};

fn densenet121(device: &Device) -> DenseNet {
    DenseNet::new(BLOCKS, 3, device)
}

/// torchvision's `densenet121` has 7,978,856 parameters, of which its 1000-class classifier
/// holds 1024 x 1000 + 1000: the feature extractor must have exactly the rest.
#[test]
fn parameter_count_equals_torchvision_densenet121_without_its_classifier() {
    let net = densenet121(&Device::flex());
    let (parameters, _) = crate::weights::value_counts(&net);
    assert_eq!(parameters, 7_978_856 - (1024 * 1000 + 1000));
    assert_eq!(net.norm5.gamma.dims(), [1024]);
}

/// Every parameter and running statistic has its own Keras variable: 120 convolution kernels
/// and 121 batch norms with 4 variables each, as `keras.applications.DenseNet121` stores them.
#[test]
fn every_parameter_has_a_distinct_keras_and_torchvision_name() {
    let net = densenet121(&Device::flex());
    let paths: Vec<String> = crate::weights::module_shapes(&net)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(paths.len(), 120 + 121 * 4);
    let keras: BTreeSet<String> = paths.iter().map(|p| key_layout::keras_key(p)).collect();
    let torch: BTreeSet<String> = paths.iter().map(|p| key_layout::torch_key(p)).collect();
    assert_eq!(keras.len(), paths.len());
    assert_eq!(torch.len(), paths.len());
    assert!(keras.iter().all(|k| k.contains('/')), "unmapped path");
    let convolutions = keras.iter().filter(|k| k.ends_with("conv/0")).count();
    assert_eq!(convolutions, 120);
}

/// Key-layout round trip: a DenseNet's values written under torchvision's names (as
/// `torch.save(densenet121().state_dict())` names them, classifier included) load back into a
/// fresh DenseNet through `init = "file:PATH"` unchanged.
#[test]
fn torchvision_named_state_dict_loads_back_unchanged() {
    let device = Device::flex();
    let source = Backbone::new(BackboneKind::Densenet121, 3, &device);
    let values = module_state(&source);
    let mut tensors: BTreeMap<String, crate::weights::Array> = values
        .iter()
        .map(|(path, array)| (key_layout::torch_key(path), array.clone()))
        .collect();
    for (key, shape) in [
        ("classifier.weight", vec![1000, 1024]),
        ("classifier.bias", vec![1000]),
    ] {
        let len = shape.iter().product();
        let data = vec![0.5; len];
        tensors.insert(key.to_string(), crate::weights::Array { shape, data });
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("densenet121_torchvision.bpk");
    StateDict {
        path: path.clone(),
        tensors,
    }
    .write_burnpack(&path)
    .unwrap();

    let fresh = Backbone::new(BackboneKind::Densenet121, 3, &device);
    let loaded = load_init(
        fresh,
        BackboneKind::Densenet121,
        &Init::File(path),
        dir.path(),
    )
    .unwrap();
    assert_eq!(module_state(&loaded), values);
}

/// On even sizes the transition pools exactly 2 x 2; on an odd size the last column is the
/// mean of its own pixels (ceil mode, overhang not counted), so maps keep ceil(size / 2).
#[test]
fn transition_pooling_is_exact_on_even_sizes_and_keeps_odd_edges() {
    let device = Device::flex();
    let pool = Transition::new(1, 1, &device).pool;
    let values: Vec<f32> = (0..15).map(|v| v as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, 3, 5]), &device);
    let pooled = pool.forward(x);
    assert_eq!(pooled.dims(), [1, 1, 2, 3]);
    let got: Vec<f32> = pooled.into_data().iter::<f32>().collect();
    // Rows 0-1: (0+1+5+6)/4, (2+3+7+8)/4, (4+9)/2; row 2: (10+11)/2, (12+13)/2, 14.
    let want = [3.0, 5.0, 6.5, 10.5, 12.5, 14.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

#[test]
fn batch_norms_use_the_keras_epsilon_and_are_listed_in_forward_order() {
    let mut net = densenet121(&Device::flex());
    let norms = net.batch_norms_mut();
    assert_eq!(norms.len(), 121);
    assert!(norms.iter().all(|bn| (bn.epsilon - 1.001e-5).abs() < 1e-12));
    assert_eq!(norms[0].gamma.dims(), [64]);
    assert_eq!(norms[1].gamma.dims(), [64]); // denseblock1.0.norm1 sees the stem's 64
    assert_eq!(norms[2].gamma.dims(), [128]); // its norm2 sees the 4 x 32 bottleneck
    assert_eq!(norms[120].gamma.dims(), [1024]); // norm5
}

/// A tiny training step with only `denseblock4` (and norm5) trainable: the stem and the frozen
/// blocks get no gradient and keep their weights and batch-norm statistics; the last block
/// moves.
#[test]
fn partial_unfreezing_trains_only_the_last_stage() {
    let device = Device::flex().autodiff();
    let backbone = Backbone::new(BackboneKind::Densenet121, 3, &device).freeze_stages_before(1);
    assert_eq!(
        backbone.stage_names(),
        spec(BackboneKind::Densenet121).stage_names
    );
    let before = module_state(&backbone);
    let x = Tensor::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let loss = backbone.forward_features(x).powf_scalar(2.0).mean();
    let grads = loss.backward();
    let Backbone::Densenet121(net) = &backbone else {
        unreachable!("built as DenseNet-121")
    };
    assert!(net.conv0.weight.val().grad(&grads).is_none());
    assert!(
        net.denseblock3[23]
            .conv2
            .weight
            .val()
            .grad(&grads)
            .is_none()
    );
    assert!(
        net.denseblock4[15]
            .conv2
            .weight
            .val()
            .grad(&grads)
            .is_some()
    );
    assert!(net.transition3.conv.weight.val().grad(&grads).is_some());

    let grads = GradientsParams::from_grads(grads, &backbone);
    let backbone = SgdConfig::new().init().step(0.5, backbone, grads);
    let after = module_state(&backbone);
    for frozen in [
        "conv0.weight",
        "denseblock2.3.norm1.running_mean",
        "transition2.conv.weight",
    ] {
        assert_eq!(before[frozen], after[frozen], "{frozen} changed");
    }
    for trained in ["denseblock4.15.conv2.weight", "norm5.gamma"] {
        let moved = before[trained]
            .data
            .iter()
            .zip(&after[trained].data)
            .any(|(a, b)| (a - b).abs() > 1e-7);
        assert!(moved, "{trained} did not move");
    }
}

/// He initialisation on fan-in keeps a random DenseNet's activations of unit scale through 58
/// concatenating layers in inference mode (fan-out scaling gave features near 1e4, saturating
/// any softmax over them); pooled features of N(0, 1) images stay below 20 here.
#[test]
fn random_densenet_features_stay_of_unit_scale() {
    let device = Device::flex();
    let backbone = Backbone::new(BackboneKind::Densenet121, 3, &device);
    let x = Tensor::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    let largest = backbone
        .forward_features(x)
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(
        largest.is_finite() && largest < 20.0,
        "largest feature {largest}"
    );
}
