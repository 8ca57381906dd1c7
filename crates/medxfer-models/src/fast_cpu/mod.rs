//! CPU fast paths for the layers that dominate EfficientNet training on burn's Flex backend.
//!
//! Measured on a [32, 96, 64, 64] activation (forward + backward, 2 cores): burn's generic
//! batch norm transposes the activation to channel-major several times, its clamp records two
//! masked fills, and its weight gradient of a grouped convolution runs one convolution per
//! channel. The functions here keep burn's modules (so parameter names, state dicts and
//! weight import are unchanged) and, on a Flex device, run the layer as a backend extension
//! ([`FastCpuOps`]) whose backward pass uses direct kernels; on any other device they call the
//! module's own `forward`.

mod autodiff;
mod batch_norm_kernels;
mod dense_conv_kernels;
mod depthwise_kernels;
mod extension;
mod flex;
mod gemm_products;
mod lanes;
mod max_pool_kernels;
mod relu6_kernels;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::ops::ConvOptions;
use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;

pub use batch_norm_kernels::Activation;
pub use extension::{FastCpuGradients, FastCpuOps};

static FAST_PATHS: AtomicBool = AtomicBool::new(true);

/// Turn the fast paths off (every layer then runs burn's own module code) or back on; for
/// benchmarks that measure them against burn's generic implementation. On by default.
pub fn set_fast_paths(enabled: bool) {
    FAST_PATHS.store(enabled, Ordering::Relaxed);
}

fn on_flex(device: &Device) -> bool {
    FAST_PATHS.load(Ordering::Relaxed)
        && matches!(
            device.clone().inner().as_dispatch(),
            DispatchDevice::Flex(_)
        )
}

/// `conv.forward(x)` for a bias-free depthwise `conv` (groups == channels); callers check
/// [`depthwise_takes_fast_path`].
fn forward_depthwise_conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let options = conv_options(conv, &x);
    Tensor::from_dispatch(<Dispatch as FastCpuOps>::depthwise_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        options,
    ))
}

/// `conv.forward(x)` for any `conv`, on the fastest path that fits it: a 1x1 stride-1
/// convolution as a matrix product, a depthwise one with its own kernels, any other undilated
/// ungrouped one with its own gradient kernels (see `dense_conv_kernels.rs`: on Flex burn's
/// weight gradient of a 3x3 convolution is many times slower than its forward pass), else
/// burn's module.
pub fn forward_conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if pointwise_takes_fast_path(conv, &x) {
        return forward_pointwise_conv2d(conv, x);
    }
    if depthwise_takes_fast_path(conv, &x) {
        return forward_depthwise_conv2d(conv, x);
    }
    if !dense_takes_fast_path(conv, &x) {
        return conv.forward(x);
    }
    let options = conv_options(conv, &x);
    let out: Tensor<4> = Tensor::from_dispatch(<Dispatch as FastCpuOps>::dense_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        options,
    ));
    match &conv.bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            out + bias.val().reshape([1, channels, 1, 1])
        }
        None => out,
    }
}

/// `pool.forward(x)`, with medxfer's max-pooling kernels on Flex when the pooling has dilation 1,
/// floor mode and explicit symmetric padding (ResNet's and DenseNet's); else burn's module
/// (VGG's ceil mode, Xception's `Same` padding, whose split burn decides).
pub fn forward_max_pool2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    match max_pool_fast_padding(pool, &x) {
        Some(padding) => Tensor::from_dispatch(<Dispatch as FastCpuOps>::max_pool2d(
            x.into_dispatch(),
            pool.kernel_size,
            pool.stride,
            padding,
        )),
        None => pool.forward(x),
    }
}

/// The padding per axis when `pool` on `x` takes the fast path.
fn max_pool_fast_padding(pool: &MaxPool2d, x: &Tensor<4>) -> Option<[usize; 2]> {
    let padding = match pool.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            (top == bottom && left == right).then_some([top, left])
        }
        PaddingConfig2d::Same => None,
    };
    padding.filter(|_| on_flex(&x.device()) && pool.dilation == [1, 1] && !pool.ceil_mode)
}

fn dense_takes_fast_path(conv: &Conv2d, x: &Tensor<4>) -> bool {
    on_flex(&x.device()) && conv.groups == 1 && conv.dilation == [1, 1]
}

/// The backend options of `conv` on input `x` (its padding resolved to explicit pixels).
fn conv_options(conv: &Conv2d, x: &Tensor<4>) -> ConvOptions<2> {
    let [_, _, height, width] = x.dims();
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => [
            same_padding(conv.kernel_size[0], conv.stride[0], height),
            same_padding(conv.kernel_size[1], conv.stride[1], width),
        ],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    };
    ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups)
}

/// One filter per channel (a 1-channel input with many filters, as a grayscale stem, is dense).
fn depthwise_takes_fast_path(conv: &Conv2d, x: &Tensor<4>) -> bool {
    let channels = x.dims()[1];
    on_flex(&x.device())
        && conv.bias.is_none()
        && conv.groups == channels
        && conv.weight.dims()[0] == channels
}

/// `conv.forward(x)` for a 1x1, stride-1, unpadded, ungrouped `conv`, as one batched matrix
/// product (weight `[out, in]` times each image's `[in, h*w]`). On Flex this is about twice as
/// fast, forward and backward, as burn's im2col convolution and its generic gradients. Callers
/// check [`pointwise_takes_fast_path`].
fn forward_pointwise_conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [batch, channels_in, height, width] = x.dims();
    let [channels_out, _, _, _] = conv.weight.dims();
    let weight = conv.weight.val().reshape([1, channels_out, channels_in]);
    let mut out = weight.matmul(x.reshape([batch, channels_in, height * width]));
    if let Some(bias) = &conv.bias {
        out = out + bias.val().reshape([1, channels_out, 1]);
    }
    out.reshape([batch, channels_out, height, width])
}

fn pointwise_takes_fast_path(conv: &Conv2d, x: &Tensor<4>) -> bool {
    let unpadded = match conv.padding {
        PaddingConfig2d::Valid | PaddingConfig2d::Same => true,
        PaddingConfig2d::Explicit(top, left, bottom, right) => top + left + bottom + right == 0,
    };
    on_flex(&x.device())
        && conv.kernel_size == [1, 1]
        && conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && unpadded
}

/// `min(max(x, 0), 6)`; the gradient is 1 strictly inside (0, 6) (as PyTorch's ReLU6).
pub fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !on_flex(&x.device()) {
        return x.clamp(0.0, 6.0);
    }
    Tensor::from_dispatch(<Dispatch as FastCpuOps>::relu6(x.into_dispatch()))
}

/// `bn.forward(x)`: in training (autodiff device, layer not frozen) normalises with the batch
/// statistics and updates the running statistics exactly as burn's `BatchNorm` does.
pub fn forward_batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    if batch_norm_is_inference_on_flex(&x) {
        return batch_norm_inference(bn, x, Activation::Identity);
    }
    if !batch_norm_takes_fast_path(bn, &x) {
        return bn.forward(x);
    }
    let device = x.device();
    let (output, mean, variance) = <Dispatch as FastCpuOps>::fused_batch_norm_train(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    let mean = Tensor::<1>::from_dispatch(mean).detach();
    let variance = Tensor::<1>::from_dispatch(variance).detach();
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - momentum) + mean.mul_scalar(momentum)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - momentum) + variance.mul_scalar(momentum)).detach());
    Tensor::from_dispatch(output)
}

/// `activation(forward_batch_norm(bn, x))`, in one pass over the activation at inference.
pub fn forward_batch_norm_act(bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    if batch_norm_is_inference_on_flex(&x) {
        return batch_norm_inference(bn, x, activation);
    }
    let y = forward_batch_norm(bn, x);
    match activation {
        Activation::Identity => y,
        Activation::Relu => burn::tensor::activation::relu(y),
        Activation::Relu6 => relu6(y),
    }
}

/// `activation(bn(conv(x)))`, the convolution + batch norm (+ activation) unit every backbone is
/// made of. At inference on Flex a bias-free dense convolution applies the batch norm (its
/// running statistics as a per-channel affine map, i.e. folded into the convolution) and the
/// activation as it writes its output: one pass over the activation instead of two or three.
/// Elsewhere (training, other devices, 1x1 and depthwise convolutions) the layers run in turn.
pub fn forward_conv_bn(
    conv: &Conv2d,
    bn: &BatchNorm,
    x: Tensor<4>,
    activation: Activation,
) -> Tensor<4> {
    let fused = batch_norm_is_inference_on_flex(&x)
        && conv.bias.is_none()
        && dense_takes_fast_path(conv, &x)
        && !pointwise_takes_fast_path(conv, &x);
    if !fused {
        return forward_batch_norm_act(bn, forward_conv2d(conv, x), activation);
    }
    let options = conv_options(conv, &x);
    let (scale, shift) = inference_affine(bn, &x.device());
    Tensor::from_dispatch(<Dispatch as FastCpuOps>::dense_conv2d_affine(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        scale.into_dispatch(),
        shift.into_dispatch(),
        activation,
        options,
    ))
}

/// Inference (no autodiff: burn's `BatchNorm` then uses its running statistics) on Flex.
fn batch_norm_is_inference_on_flex(x: &Tensor<4>) -> bool {
    let device = x.device();
    on_flex(&device) && !device.is_autodiff()
}

/// Batch norm on the running statistics as one per-channel affine map, `x * scale + shift`
/// (burn's version makes four passes over the activation), fused with `activation`.
fn batch_norm_inference(bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    let (scale, shift) = inference_affine(bn, &x.device());
    Tensor::from_dispatch(<Dispatch as FastCpuOps>::channel_affine(
        x.into_dispatch(),
        scale.into_dispatch(),
        shift.into_dispatch(),
        activation,
    ))
}

/// `(scale, shift)` of batch norm on its running statistics: `scale = gamma / sqrt(var + eps)`,
/// `shift = beta - mean * scale`.
fn inference_affine(bn: &BatchNorm, device: &Device) -> (Tensor<1>, Tensor<1>) {
    let mean = bn.running_mean.value_sync().to_device(device);
    let variance = bn.running_var.value_sync().to_device(device);
    let scale = bn.gamma.val() / variance.add_scalar(bn.epsilon).sqrt();
    let shift = bn.beta.val() - mean * scale.clone();
    (scale, shift)
}

/// The training path of burn's `BatchNorm::forward`, on Flex.
fn batch_norm_takes_fast_path(bn: &BatchNorm, x: &Tensor<4>) -> bool {
    let device = x.device();
    on_flex(&device) && device.is_autodiff() && bn.training.is_enabled()
}

/// TensorFlow/ONNX "SAME" padding as `(begin, end)`: output size ceil(size / stride), the odd
/// pixel of padding at the end (as burn's `PaddingConfig2d::Same`).
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_bn::{batch_norm_tf, conv_same};
    use burn::tensor::{Distribution, Tolerance};

    fn random(shape: [usize; 4], device: &Device) -> Tensor<4> {
        Tensor::random(shape, Distribution::Normal(0.0, 2.0), device)
    }

    /// Output, input gradient and all gradients of the loss sum(layer(x) * probe), on the fast
    /// path (`true`) and on burn's generic path (`false`).
    fn both_paths(
        x: &Tensor<4>,
        probe: &Tensor<4>,
        layer: impl Fn(Tensor<4>, bool) -> Tensor<4>,
    ) -> [(TensorData, TensorData, burn::tensor::Gradients); 2] {
        [true, false].map(|fast| {
            let x = x.clone().detach().require_grad();
            let out = layer(x.clone(), fast);
            let grads = (out.clone() * probe.clone()).sum().backward();
            let dx = x.grad(&grads).expect("x gradient").into_data();
            (out.inner().into_data(), dx, grads)
        })
    }

    /// Asserts that `fast(conv, x)` and `conv.forward(x)` agree in output and in the
    /// gradients of the input, the weight and (if any) the bias.
    fn assert_conv_paths_agree(
        conv: &Conv2d,
        x: &Tensor<4>,
        fast: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
        tolerance: Tolerance<f32>,
    ) {
        let probe = random(conv.forward(x.clone().detach()).dims(), &x.device());
        let [fast, generic] = both_paths(x, &probe, |x, use_fast| {
            if use_fast {
                fast(conv, x)
            } else {
                conv.forward(x)
            }
        });
        fast.0.assert_approx_eq(&generic.0, tolerance);
        fast.1.assert_approx_eq(&generic.1, tolerance);
        let weight_grad = |grads| {
            conv.weight
                .grad(grads)
                .expect("weight gradient")
                .into_data()
        };
        weight_grad(&fast.2).assert_approx_eq(&weight_grad(&generic.2), tolerance);
        if let Some(b) = &conv.bias {
            let bias_grad = |grads| b.grad(grads).expect("bias gradient").into_data();
            bias_grad(&fast.2).assert_approx_eq(&bias_grad(&generic.2), tolerance);
        }
    }

    #[test]
    fn depthwise_matches_burn_conv2d_forward_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let tolerance = Tolerance::<f32>::absolute(1e-3);
        for (kernel, stride, size) in [(3, 1, 9), (3, 2, 10), (5, 2, 9), (5, 1, 8)] {
            let channels = 6;
            let conv = conv_same([channels, channels], kernel, stride, channels, &device);
            let x = random([2, channels, size, size], &device);
            assert!(
                depthwise_takes_fast_path(&conv, &x),
                "must exercise the extension"
            );
            assert_conv_paths_agree(&conv, &x, forward_depthwise_conv2d, tolerance);
        }
    }

    #[test]
    fn dense_matches_burn_conv2d_forward_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(9);
        let tolerance = Tolerance::<f32>::absolute(1e-3);
        // ResNet's 3x3 (stride 1 and 2) and 7x7 stem, a strided 1x1 (downsample) and a
        // TensorFlow-SAME stride-2 stem with its asymmetric padding; with and without bias.
        let explicit = |p| PaddingConfig2d::Explicit(p, p, p, p);
        for (kernel, stride, padding, bias, channels_in) in [
            (3, 1, explicit(1), false, 4),
            (3, 2, explicit(1), true, 4),
            (7, 2, explicit(3), false, 1),
            (1, 2, PaddingConfig2d::Valid, false, 4),
            (3, 2, PaddingConfig2d::Same, false, 3),
        ] {
            let conv = burn::nn::conv::Conv2dConfig::new([channels_in, 5], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(padding)
                .with_bias(bias)
                .init(&device);
            let x = random([3, channels_in, 9, 8], &device);
            assert!(
                dense_takes_fast_path(&conv, &x)
                    && !pointwise_takes_fast_path(&conv, &x)
                    && !depthwise_takes_fast_path(&conv, &x),
                "must exercise the dense extension"
            );
            assert_conv_paths_agree(&conv, &x, forward_conv2d, tolerance);
        }
    }

    #[test]
    fn pointwise_matches_burn_conv2d_forward_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let tolerance = Tolerance::<f32>::absolute(1e-3);
        for bias in [false, true] {
            let conv = burn::nn::conv::Conv2dConfig::new([6, 4], [1, 1])
                .with_bias(bias)
                .init(&device);
            let x = random([3, 6, 5, 7], &device);
            assert!(
                pointwise_takes_fast_path(&conv, &x),
                "must exercise the fast path"
            );
            assert_conv_paths_agree(&conv, &x, forward_pointwise_conv2d, tolerance);
        }
    }

    #[test]
    fn relu6_matches_clamp_forward_and_gradient() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let x = random([2, 3, 5, 7], &device) * 3.0;
        let probe = random([2, 3, 5, 7], &device);
        let [fast, generic] =
            both_paths(
                &x,
                &probe,
                |x, fast| {
                    if fast { relu6(x) } else { x.clamp(0.0, 6.0) }
                },
            );
        fast.0.assert_eq(&generic.0, true);
        // Random normal inputs never hit exactly 0 or 6, where the conventions differ.
        fast.1.assert_eq(&generic.1, true);
    }

    #[test]
    fn max_pool_matches_burn_forward_and_gradient() {
        let device = Device::flex().autodiff();
        device.seed(4);
        // ResNet's 3x3 stride-2 pooling with padding 1 on odd and even sizes, and 2x2 stride 2.
        for (kernel, stride, pad, size) in [(3, 2, 1, [9, 8]), (3, 2, 1, [8, 8]), (2, 2, 0, [6, 7])]
        {
            let pool = burn::nn::pool::MaxPool2dConfig::new([kernel, kernel])
                .with_strides([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init();
            let x = random([2, 3, size[0], size[1]], &device);
            assert!(
                max_pool_fast_padding(&pool, &x).is_some(),
                "must exercise the fast path"
            );
            let probe = random(pool.forward(x.clone()).dims(), &device);
            let [fast, generic] = both_paths(&x, &probe, |x, fast| {
                if fast {
                    forward_max_pool2d(&pool, x)
                } else {
                    pool.forward(x)
                }
            });
            // Random normal inputs have no ties, where the two may pick another maximum.
            fast.0.assert_eq(&generic.0, true);
            fast.1.assert_eq(&generic.1, true);
            // Inference: Flex without autodiff.
            let x = x.inner();
            let fast = forward_max_pool2d(&pool, x.clone()).into_data();
            fast.assert_eq(&pool.forward(x).into_data(), true);
        }
    }

    #[test]
    fn batch_norm_matches_burn_forward_gradients_and_running_statistics() {
        let device = Device::flex().autodiff();
        device.seed(11);
        let tolerance = Tolerance::<f32>::absolute(1e-4);
        let x = random([4, 5, 6, 3], &device) + 1.5;
        let probe = random([4, 5, 6, 3], &device);
        let fast_bn = batch_norm_tf(5, &device);
        let generic_bn = fast_bn.clone();
        assert!(
            batch_norm_takes_fast_path(&fast_bn, &x),
            "must exercise the extension"
        );
        let [fast, generic] = both_paths(&x, &probe, |x, fast| {
            if fast {
                forward_batch_norm(&fast_bn, x)
            } else {
                generic_bn.forward(x)
            }
        });
        fast.0.assert_approx_eq(&generic.0, tolerance);
        fast.1.assert_approx_eq(&generic.1, tolerance);
        let param_tolerance = Tolerance::<f32>::absolute(1e-3);
        let gamma =
            |bn: &BatchNorm, grads| bn.gamma.grad(grads).expect("gamma gradient").into_data();
        let beta = |bn: &BatchNorm, grads| bn.beta.grad(grads).expect("beta gradient").into_data();
        gamma(&fast_bn, &fast.2).assert_approx_eq(&gamma(&generic_bn, &generic.2), param_tolerance);
        beta(&fast_bn, &fast.2).assert_approx_eq(&beta(&generic_bn, &generic.2), param_tolerance);
        fast_bn
            .running_mean
            .value()
            .into_data()
            .assert_approx_eq(&generic_bn.running_mean.value().into_data(), tolerance);
        fast_bn
            .running_var
            .value()
            .into_data()
            .assert_approx_eq(&generic_bn.running_var.value().into_data(), tolerance);
    }

    /// A batch norm whose running statistics, scale and shift differ per channel.
    fn batch_norm_with_statistics(channels: usize, device: &Device) -> BatchNorm {
        let mut bn = batch_norm_tf(channels, device);
        let vector = |scale: f32, offset: f32| {
            let values: Vec<f32> = (0..channels)
                .map(|c| offset + scale * (c as f32 - 2.0))
                .collect();
            Tensor::<1>::from_floats(values.as_slice(), device)
        };
        bn.running_mean = burn::module::RunningState::new(vector(0.7, 0.3));
        bn.running_var = burn::module::RunningState::new(vector(0.2, 1.1).abs());
        bn.gamma = burn::module::Param::from_tensor(vector(-0.4, 1.2));
        bn.beta = burn::module::Param::from_tensor(vector(0.5, -0.2));
        bn
    }

    /// burn's activation of `y`, the reference for every fused one.
    fn reference_activation(y: Tensor<4>, activation: Activation) -> Tensor<4> {
        match activation {
            Activation::Identity => y,
            Activation::Relu => burn::tensor::activation::relu(y),
            Activation::Relu6 => y.clamp(0.0, 6.0),
        }
    }

    const ACTIVATIONS: [Activation; 3] =
        [Activation::Identity, Activation::Relu, Activation::Relu6];

    /// At inference the running statistics give one affine map per channel; with an activation
    /// fused it equals burn's BatchNorm then the activation.
    #[test]
    fn inference_batch_norm_and_its_activation_fusion_match_burn() {
        let device = Device::flex();
        device.seed(12);
        let tolerance = Tolerance::<f32>::absolute(1e-5);
        let bn = batch_norm_with_statistics(5, &device);
        let x = random([3, 5, 7, 4], &device) * 3.0;
        assert!(
            batch_norm_is_inference_on_flex(&x),
            "must exercise the kernel"
        );
        let generic = bn.forward(x.clone());
        forward_batch_norm(&bn, x.clone())
            .into_data()
            .assert_approx_eq(&generic.clone().into_data(), tolerance);
        for activation in ACTIVATIONS {
            forward_batch_norm_act(&bn, x.clone(), activation)
                .into_data()
                .assert_approx_eq(
                    &reference_activation(generic.clone(), activation).into_data(),
                    tolerance,
                );
        }
    }

    /// Convolution, batch norm and activation in one kernel at inference equal burn's three
    /// layers, for a stride-1 and a stride-2 dense convolution (SAME and explicit padding), on
    /// both product orientations (8 and 40 output channels); on an autodiff device (training:
    /// batch statistics) the unit runs the layers in turn and agrees too.
    #[test]
    fn inference_conv_bn_fusion_matches_burn_layers() {
        let tolerance = Tolerance::<f32>::absolute(1e-4);
        for device in [Device::flex(), Device::flex().autodiff()] {
            device.seed(13);
            for (channels_out, stride) in [(8, 1), (40, 2)] {
                let same = conv_same([3, channels_out], 3, stride, 1, &device);
                let explicit = crate::conv_bn::conv([3, channels_out], 3, stride, 1, &device);
                let bn = batch_norm_with_statistics(channels_out, &device);
                let x = random([2, 3, 9, 8], &device);
                for conv in [&same, &explicit] {
                    // Training-mode batch norm (batch statistics) on the autodiff device.
                    let generic = bn.forward(conv.forward(x.clone()));
                    for activation in ACTIVATIONS {
                        let fused = forward_conv_bn(conv, &bn, x.clone(), activation);
                        fused.into_data().assert_approx_eq(
                            &reference_activation(generic.clone(), activation).into_data(),
                            tolerance,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        assert_eq!(same_padding(3, 1, 8), (1, 1));
        assert_eq!(same_padding(3, 2, 8), (0, 1));
        assert_eq!(same_padding(5, 2, 9), (2, 2));
        assert_eq!(same_padding(5, 2, 8), (1, 2));
    }
}
