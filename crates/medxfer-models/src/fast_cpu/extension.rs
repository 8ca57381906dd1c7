//! The operations medxfer runs through its own CPU kernels, as a burn backend extension.
//!
//! [`FastCpuOps`] holds the forward operations; the Dispatch layer routes them to Flex (no
//! autodiff) or to Autodiff-over-Flex, which records one graph node per operation whose backward
//! pass calls [`FastCpuGradients`] of the inner backend. Only Flex implements both.

use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};

use super::Activation;

#[backend_extension(Flex, Autodiff)]
pub trait FastCpuOps: Backend {
    /// Depthwise 2-D convolution: `x` is `[batch, channels, h, w]`, `weight` is
    /// `[channels, 1, kh, kw]`, `options.groups == channels`, no bias.
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Dense 2-D convolution (`groups == 1`, no bias): `x` is `[batch, c_in, h, w]`, `weight`
    /// is `[c_out, c_in, kh, kw]`.
    fn dense_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// `min(max(x, 0), 6)`, with PyTorch's gradient (1 strictly inside (0, 6), else 0).
    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// 2-D max pooling of `[batch, channels, h, w]`, dilation 1, floor mode, symmetric
    /// `padding` (which never wins a window); PyTorch's rule for ties and NaN.
    fn max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;

    /// `activation(x * scale[c] + shift[c])` per channel of `[batch, channels, ...]` (batch
    /// norm with known statistics), in one pass.
    fn channel_affine(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;

    /// `activation(conv(x, weight) * scale[c] + shift[c])`: [`FastCpuOps::dense_conv2d`]
    /// followed by [`FastCpuOps::channel_affine`], the affine map and the activation applied
    /// as the convolution's output is written (batch norm folded into the convolution at
    /// inference).
    fn dense_conv2d_affine(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: Activation,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Training-mode batch norm over `[batch, channels, ...]` with the batch's own statistics:
    /// returns `(output, mean, biased variance)`, the statistics as `[channels]`.
    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Backward passes of [`FastCpuOps`] on a backend without autodiff.
pub trait FastCpuGradients: Backend {
    /// Gradient of [`FastCpuOps::depthwise_conv2d`] with respect to `x`.
    fn depthwise_conv2d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Gradient of [`FastCpuOps::depthwise_conv2d`] with respect to `weight`.
    fn depthwise_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Gradient of [`FastCpuOps::dense_conv2d`] with respect to `x`.
    fn dense_conv2d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Gradient of [`FastCpuOps::dense_conv2d`] with respect to `weight`.
    fn dense_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Gradient of [`FastCpuOps::max_pool2d`] with respect to `x` (each window's maximum found
    /// again from `x`).
    fn max_pool2d_x_grad(
        x: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;

    /// Gradient of [`FastCpuOps::relu6`] with respect to its input `x`.
    fn relu6_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Gradients of [`FastCpuOps::fused_batch_norm_train`]: `(x, gamma, beta)`.
    fn fused_batch_norm_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}
