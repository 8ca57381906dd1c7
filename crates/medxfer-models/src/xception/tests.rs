//! Xception specifics; the shape and stage tests every backbone passes are in `backbone.rs`.

use std::collections::BTreeSet;

use burn::tensor::Distribution;

use super::*;
use crate::fast_cpu::forward_conv2d;
use crate::weights::module_shapes;

fn xception(device: &Device) -> Xception {
    Xception::new(3, device)
}

/// `keras.applications.Xception(include_top=False).count_params()` is 20,861,480, moving
/// means and variances of its 40 batch norms included (54,528 of them); burn keeps those as
/// running statistics, not parameters.
#[test]
fn parameter_count_equals_keras_xception_without_top() {
    let (learnable, running) = crate::weights::value_counts(&xception(&Device::flex()));
    assert_eq!(learnable + running, 20_861_480);
    assert_eq!(learnable, 20_861_480 - 54_528);
}

/// 74 convolution kernels (2 stem, 4 skip projections, 34 separable convolutions of two
/// kernels) and 40 batch norms of 4 variables, each with its own Keras name.
#[test]
fn every_parameter_has_a_distinct_keras_name() {
    let paths: Vec<String> = module_shapes(&xception(&Device::flex()))
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(paths.len(), 74 + 40 * 4);
    let keras: BTreeSet<String> = paths.iter().map(|p| key_layout::keras_key(p)).collect();
    let torch: BTreeSet<String> = paths.iter().map(|p| key_layout::torch_key(p)).collect();
    assert_eq!(keras.len(), paths.len());
    assert_eq!(torch.len(), paths.len());
    assert!(keras.iter().all(|k| k.contains('/')), "unmapped path");
    let separable = keras.iter().filter(|k| k.contains("sepconv")).count();
    assert_eq!(separable, 34 * 2 + 34 * 4);
}

/// Keras's `MaxPooling2D(3, 2, padding="same")`: ceil(size / 2) outputs; on an even size the
/// windows start at 0, 2, 4 and the last one overhangs at the end; on an odd size they start
/// one pixel earlier. The padding never wins, even when every value is negative.
#[test]
fn reduction_pooling_is_tensorflow_same_and_ignores_padding() {
    let device = Device::flex();
    let pool = ReductionBlock::new([1, 1, 1], &device).pool;
    let row = |values: Vec<f32>| {
        let width = values.len();
        Tensor::<4>::from_data(TensorData::new(values, [1, 1, 1, width]), &device)
    };
    let even: Vec<f32> = pool
        .forward(row(vec![-1.0, -2.0, -3.0, -4.0]))
        .into_data()
        .iter::<f32>()
        .collect();
    // Windows [0..2] and [2..4] (the last column overhangs): max -1 and -3.
    assert_eq!(even, [-1.0, -3.0]);
    let odd: Vec<f32> = pool
        .forward(row(vec![-5.0, -2.0, -3.0, -4.0, -6.0]))
        .into_data()
        .iter::<f32>()
        .collect();
    // Windows [-1..1], [1..3], [3..5]: max -2, -2, -4.
    assert_eq!(odd, [-2.0, -2.0, -4.0]);
}

#[test]
fn batch_norms_use_the_keras_epsilon_and_are_listed_in_forward_order() {
    let mut net = xception(&Device::flex());
    let norms = net.batch_norms_mut();
    assert_eq!(norms.len(), 40);
    assert!(norms.iter().all(|bn| (bn.epsilon - 1e-3).abs() < 1e-12));
    let widths: Vec<usize> = norms.iter().map(|bn| bn.gamma.dims()[0]).collect();
    assert_eq!(widths[..5], [32, 64, 128, 128, 128]);
    assert_eq!(widths[35..], [1024, 728, 1024, 1536, 2048]);
}

/// The separable convolution is depthwise (one 3x3 filter per channel) then pointwise: on a
/// 2-channel input it equals the same computation written out with plain tensor operations.
#[test]
fn separable_convolution_is_depthwise_then_pointwise() {
    let device = Device::flex();
    let layer = SeparableConvBn::new([2, 3], &device);
    assert_eq!(layer.depthwise.weight.dims(), [2, 1, 3, 3]);
    assert_eq!(layer.pointwise.weight.dims(), [3, 2, 1, 1]);
    let x = Tensor::<4>::random([1, 2, 5, 4], Distribution::Normal(0.0, 1.0), &device);
    let depthwise = forward_conv2d(&layer.depthwise, x.clone());
    // Each channel alone through a 1-in 1-out convolution with its own filter.
    let per_channel: Vec<Tensor<4>> = (0..2)
        .map(|c| {
            let filter = layer.depthwise.weight.val().narrow(0, c, 1);
            let input = x.clone().slice([0..1, c..c + 1]);
            burn::tensor::module::conv2d(
                input,
                filter,
                None,
                burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            )
        })
        .collect();
    let expected = Tensor::cat(per_channel, 1);
    let gap = (depthwise.clone() - expected)
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(gap < 1e-5, "depthwise differs by {gap}");
    let pointwise = forward_conv2d(&layer.pointwise, depthwise);
    let weight = layer.pointwise.weight.val().reshape([3, 2]);
    let mixed = weight
        .matmul(forward_conv2d(&layer.depthwise, x).reshape([2, 20]))
        .reshape([1, 3, 5, 4]);
    let gap = (pointwise - mixed).abs().max().into_scalar::<f32>();
    assert!(gap < 1e-4, "pointwise differs by {gap}");
}

/// Stage maps at 224 px: strides 2, 4, 8, 16, 16, 32 (112, 56, 28, 14, 14, 7).
#[test]
fn stage_maps_at_224_pixels() {
    let device = Device::flex();
    let net = xception(&device);
    let mut x = Tensor::<4>::random([1, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
    let expected = [
        (64, 112),
        (128, 56),
        (256, 28),
        (728, 14),
        (728, 14),
        (2048, 7),
    ];
    for (stage, (channels, side)) in expected.into_iter().enumerate() {
        x = net.forward_stage(stage, x);
        assert_eq!(
            x.dims(),
            [1, channels, side, side],
            "{}",
            STAGE_NAMES[stage]
        );
    }
}
