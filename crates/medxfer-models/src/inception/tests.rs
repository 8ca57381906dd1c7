//! Inception-v3 specifics; the shape and stage tests every backbone passes are in `backbone.rs`,
//! the numerical comparison with torchvision in `tests/inception_v3_torchvision.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Distribution;

use super::*;
use crate::weights::module_shapes;

fn inception(device: &Device) -> InceptionV3 {
    InceptionV3::new(3, device)
}

/// `tests/fixtures/inception_v3_torchvision_keys.json`: every key of torchvision's
/// `inception_v3()` state dict with its shape, written by the `.py` beside it.
fn torchvision_keys() -> BTreeMap<String, Vec<usize>> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inception_v3_torchvision_keys.json");
    let text = std::fs::read_to_string(&fixture).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The backbone's torch keys are exactly torchvision's state-dict keys less the auxiliary
/// classifier, `fc` and the batch norms' `num_batches_tracked` (which `file:` ignores), each
/// with torchvision's shape.
#[test]
fn torch_keys_are_exactly_torchvision_inception_v3_without_its_heads() {
    let torchvision: BTreeMap<String, Vec<usize>> = torchvision_keys()
        .into_iter()
        .filter(|(key, _)| {
            !key.starts_with("AuxLogits.")
                && !key.starts_with("fc.")
                && !key.ends_with("num_batches_tracked")
        })
        .collect();
    let ours: BTreeMap<String, Vec<usize>> = module_shapes(&inception(&Device::flex()))
        .into_iter()
        .map(|(path, shape)| (key_layout::torch_key(&path), shape))
        .collect();
    let missing: Vec<&String> = torchvision
        .keys()
        .filter(|k| !ours.contains_key(*k))
        .collect();
    let extra: Vec<&String> = ours
        .keys()
        .filter(|k| !torchvision.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(ours, torchvision);
    assert_eq!(ours.len(), 94 * 5);
}

/// The heads `file:` must skip in a torchvision state dict are exactly the keys that are not
/// the backbone's (besides `num_batches_tracked`).
#[test]
fn auxiliary_and_imagenet_classifiers_are_the_ignored_heads() {
    use crate::registry::BackboneDefinition;
    let heads: Vec<String> = torchvision_keys()
        .into_keys()
        .filter(|key| InceptionV3Definition::is_torch_head_key(key))
        .collect();
    assert!(heads.iter().any(|k| k == "fc.weight"));
    assert!(heads.iter().any(|k| k == "AuxLogits.conv0.conv.weight"));
    assert!(
        heads
            .iter()
            .all(|k| k.starts_with("fc.") || k.starts_with("AuxLogits."))
    );
    assert!(!InceptionV3Definition::is_torch_head_key(
        "Mixed_6e.branch_pool.conv.weight"
    ));
}

/// torchvision's `inception_v3` without AuxLogits and fc: 21,785,568 parameters plus 34,432
/// batch-norm running statistics (the key fixture's shapes add up to the same).
#[test]
fn parameter_count_equals_torchvision_without_heads() {
    let (learnable, running) = crate::weights::value_counts(&inception(&Device::flex()));
    assert_eq!(learnable, 21_785_568);
    assert_eq!(learnable + running, 21_820_000);
}

#[test]
fn batch_norms_use_epsilon_0_001_one_per_convolution() {
    let mut net = inception(&Device::flex());
    let norms = net.batch_norms_mut();
    assert_eq!(norms.len(), 94);
    assert!(norms.iter().all(|bn| (bn.epsilon - 1e-3).abs() < 1e-12));
    let widths: Vec<usize> = norms.iter().map(|bn| bn.gamma.dims()[0]).collect();
    assert_eq!(widths[..6], [32, 32, 64, 80, 192, 64]);
    assert_eq!(widths[93], 192);
}

/// Channels and sides of the five stage outputs on a `size` x `size` input.
fn stage_maps(net: &InceptionV3, size: usize, device: &Device) -> Vec<(usize, usize)> {
    let mut x = Tensor::<4>::random([1, 3, size, size], Distribution::Normal(0.0, 1.0), device);
    (0..STAGE_NAMES.len())
        .map(|stage| {
            x = net.forward_stage(stage, x.clone());
            let [_, channels, height, width] = x.dims();
            assert_eq!(height, width, "{}", STAGE_NAMES[stage]);
            (channels, height)
        })
        .collect()
}

/// Padded: every stage at ceil(size / stride), 75 -> 38, 19, 10, 5, 3. torchvision's own
/// geometry on its smallest input, 75 px: 35 (after Conv2d_2b), 15, 7, 3, 1.
#[test]
fn stage_maps_padded_and_in_torchvision_geometry() {
    let device = Device::flex();
    let channels = [64, 192, 288, 768, 2048];
    let padded = stage_maps(&inception(&device), 75, &device);
    let expected: Vec<(usize, usize)> = channels.into_iter().zip([38, 19, 10, 5, 3]).collect();
    assert_eq!(padded, expected);

    let torchvision = InceptionV3::with_geometry(3, Geometry::Torchvision, &device);
    assert_eq!(Geometry::Torchvision.min_input_size(), 75);
    let maps = stage_maps(&torchvision, 75, &device);
    let expected: Vec<(usize, usize)> = channels.into_iter().zip([35, 15, 7, 3, 1]).collect();
    assert_eq!(maps, expected);
}

/// The pooling branch averages 3x3 windows counting the zero padding (PyTorch's
/// `count_include_pad=True`): on a map of ones a corner is 4/9, an edge 6/9, the inside 1.
#[test]
fn branch_average_pooling_counts_the_padding() {
    let device = Device::flex();
    let block = InceptionA::new(1, 1, &device);
    let pooled: Vec<f32> = block
        .pool
        .forward(Tensor::ones([1, 1, 3, 3], &device))
        .into_data()
        .iter::<f32>()
        .collect();
    let (corner, edge) = (4.0 / 9.0, 6.0 / 9.0);
    let expected = [corner, edge, corner, edge, 1.0, edge, corner, edge, corner];
    for (got, want) in pooled.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{pooled:?}");
    }
}

/// He fan-in initialisation keeps a random network in inference mode (batch norms on their
/// initial statistics) at unit scale, where torchvision's std-0.1 truncated normal would not.
#[test]
fn a_random_network_keeps_unit_scale_in_inference_mode() {
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    let features = inception(&device).forward_features(x);
    let rms = features.powf_scalar(2.0).mean().sqrt().into_scalar::<f32>();
    assert!((0.05..20.0).contains(&rms), "features' rms {rms}");
}
