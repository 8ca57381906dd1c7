//! Flex (CPU) implementation of [`FastCpuOps`] and [`FastCpuGradients`]. The kernels handle
//! contiguous-able `f32`; any other dtype (or a dilated convolution) takes burn's generic ops.

use burn::backend::Flex;
use burn::backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{TensorMetadata, get_or_init_device_settings};
use burn::tensor::{DType, IntDType, Shape, TensorData};
use burn_flex::FlexTensor;

use super::Activation;
use super::batch_norm_kernels::{
    ChannelLayout, batch_norm_backward, batch_norm_forward, channel_affine, channel_affine_in_place,
};
use super::dense_conv_kernels::{self, DenseGeometry, Epilogue};
use super::depthwise_kernels::{DepthwiseGeometry, input_gradient, weight_gradient};
use super::extension::{FastCpuGradients, FastCpuOps};
use super::max_pool_kernels::{self, PoolGeometry};
use super::relu6_kernels::relu6_gradient;

impl FastCpuOps for Flex {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        // Flex's own forward already has a depthwise fast path.
        <Flex as ModuleOps<Flex>>::conv2d(x, weight, None, options)
    }

    fn dense_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match dense_forward_geometry(&x, &weight, &options) {
            Some(geo) => {
                let shape =
                    Shape::new([geo.batch, geo.channels_out, geo.out_height, geo.out_width]);
                on_data(x, weight, shape, |x, w| {
                    dense_conv_kernels::forward(x, w, &geo, None)
                })
            }
            None => <Flex as ModuleOps<Flex>>::conv2d(x, weight, None, options),
        }
    }

    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        <Flex as FloatTensorOps<Flex>>::float_clamp(x, 0.0f32.into(), 6.0f32.into())
    }

    fn max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        match pool_geometry(&x, kernel, stride, padding) {
            Some(geo) => {
                let [batch, channels, _, _] = x.shape().dims();
                let shape = Shape::new([batch, channels, geo.out_height, geo.out_width]);
                let x = x.to_contiguous();
                tensor(max_pool_kernels::forward(f32s(&x), &geo), shape)
            }
            None => {
                <Flex as ModuleOps<Flex>>::max_pool2d(x, kernel, stride, padding, [1, 1], false)
            }
        }
    }

    fn channel_affine(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self> {
        if !all_f32(&[&x, &scale, &shift]) {
            return generic_channel_affine::<Flex>(x, scale, shift, activation);
        }
        let shape = x.shape();
        let layout = channel_layout(&shape);
        let mut x = x.to_contiguous();
        let affine = affine_pairs(scale, shift);
        let elements = shape.num_elements();
        if let Some(data) = x.try_storage_mut::<f32>().filter(|d| d.len() == elements) {
            channel_affine_in_place(data, &affine, &layout, activation);
            return x;
        }
        tensor(
            channel_affine(f32s(&x), &affine, &layout, activation),
            shape,
        )
    }

    fn dense_conv2d_affine(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: Activation,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let channels = weight.shape().dims::<4>()[0];
        let geometry = dense_forward_geometry(&x, &weight, &options).filter(|_| {
            all_f32(&[&scale, &shift])
                && scale.shape().num_elements() == channels
                && shift.shape().num_elements() == channels
        });
        let Some(geo) = geometry else {
            let y = Self::dense_conv2d(x, weight, options);
            return Self::channel_affine(y, scale, shift, activation);
        };
        let epilogue = Epilogue {
            affine: affine_pairs(scale, shift),
            activation,
        };
        let shape = Shape::new([geo.batch, geo.channels_out, geo.out_height, geo.out_width]);
        on_data(x, weight, shape, |x, w| {
            dense_conv_kernels::forward(x, w, &geo, Some(&epilogue))
        })
    }

    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        if !all_f32(&[&x, &gamma, &beta]) {
            let result = <Flex as ModuleOps<Flex>>::batch_norm_train(x, gamma, beta, epsilon);
            return (result.output, result.mean, result.variance);
        }
        let shape = x.shape();
        let layout = channel_layout(&shape);
        let (x, gamma, beta) = (
            x.to_contiguous(),
            gamma.to_contiguous(),
            beta.to_contiguous(),
        );
        let (output, mean, variance) =
            batch_norm_forward(f32s(&x), f32s(&gamma), f32s(&beta), epsilon, &layout);
        let channels = Shape::new([layout.channels]);
        (
            tensor(output, shape),
            tensor(mean, channels.clone()),
            tensor(variance, channels),
        )
    }
}

impl FastCpuGradients for Flex {
    fn depthwise_conv2d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match depthwise_geometry(&x, &weight, &output_grad, &options) {
            Some(geo) => on_data(weight, output_grad, x.shape(), |w, dy| {
                input_gradient(w, dy, &geo)
            }),
            None => <Flex as ModuleOps<Flex>>::conv2d_x_backward(x, weight, output_grad, options),
        }
    }

    fn depthwise_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match depthwise_geometry(&x, &weight, &output_grad, &options) {
            Some(geo) => on_data(x, output_grad, weight.shape(), |x, dy| {
                weight_gradient(x, dy, &geo)
            }),
            None => {
                <Flex as ModuleOps<Flex>>::conv2d_weight_backward(x, weight, output_grad, options)
            }
        }
    }

    fn dense_conv2d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match dense_backward_geometry(&x, &weight, &output_grad, &options) {
            Some(geo) => on_data(weight, output_grad, x.shape(), |w, dy| {
                dense_conv_kernels::input_gradient(w, dy, &geo)
            }),
            None => <Flex as ModuleOps<Flex>>::conv2d_x_backward(x, weight, output_grad, options),
        }
    }

    fn dense_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match dense_backward_geometry(&x, &weight, &output_grad, &options) {
            Some(geo) => on_data(x, output_grad, weight.shape(), |x, dy| {
                dense_conv_kernels::weight_gradient(x, dy, &geo)
            }),
            None => {
                <Flex as ModuleOps<Flex>>::conv2d_weight_backward(x, weight, output_grad, options)
            }
        }
    }

    fn max_pool2d_x_grad(
        x: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        let geo = pool_geometry(&x, kernel, stride, padding).filter(|geo| {
            all_f32(&[&output_grad])
                && output_grad.shape().dims::<4>()[2..] == [geo.out_height, geo.out_width]
        });
        match geo {
            Some(geo) => {
                let shape = x.shape();
                on_data(x, output_grad, shape, |x, dy| {
                    max_pool_kernels::input_gradient(x, dy, &geo)
                })
            }
            None => {
                let pooled = <Flex as ModuleOps<Flex>>::max_pool2d_with_indices(
                    x.clone(),
                    kernel,
                    stride,
                    padding,
                    [1, 1],
                    false,
                    IntDType::I64,
                );
                <Flex as ModuleOps<Flex>>::max_pool2d_with_indices_backward(
                    x,
                    kernel,
                    stride,
                    padding,
                    [1, 1],
                    false,
                    output_grad,
                    pooled.indices,
                )
                .x_grad
            }
        }
    }

    fn relu6_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape();
        if all_f32(&[&x, &output_grad]) && output_grad.shape() == shape {
            return on_data(x, output_grad, shape, relu6_gradient);
        }
        // Generic: zero the gradient where x <= 0 or x >= 6.
        let bool_dtype = get_or_init_device_settings::<Flex>(&x.device()).bool_dtype;
        let low = <Flex as FloatTensorOps<Flex>>::float_lower_equal_elem(
            x.clone(),
            0.0f32.into(),
            bool_dtype,
        );
        let high =
            <Flex as FloatTensorOps<Flex>>::float_greater_equal_elem(x, 6.0f32.into(), bool_dtype);
        let grad = <Flex as FloatTensorOps<Flex>>::float_mask_fill(output_grad, low, 0.0f32.into());
        <Flex as FloatTensorOps<Flex>>::float_mask_fill(grad, high, 0.0f32.into())
    }

    fn fused_batch_norm_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        if !all_f32(&[&x, &gamma, &mean, &variance, &output_grad]) {
            let grads = <Flex as ModuleOps<Flex>>::batch_norm_train_backward(
                x,
                gamma,
                mean,
                variance,
                epsilon,
                output_grad,
            );
            return (grads.x_grad, grads.gamma_grad, grads.beta_grad);
        }
        let shape = x.shape();
        let layout = channel_layout(&shape);
        let [x, gamma, mean, variance, output_grad] =
            [x, gamma, mean, variance, output_grad].map(|t| t.to_contiguous());
        let (x_grad, gamma_grad, beta_grad) = batch_norm_backward(
            f32s(&x),
            f32s(&gamma),
            f32s(&mean),
            f32s(&variance),
            epsilon,
            f32s(&output_grad),
            &layout,
        );
        let channels = Shape::new([layout.channels]);
        (
            tensor(x_grad, shape),
            tensor(gamma_grad, channels.clone()),
            tensor(beta_grad, channels),
        )
    }
}

/// The geometry of a dense convolution's forward pass when the kernels take it.
fn dense_forward_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<DenseGeometry> {
    let [_, _, height, width] = x.shape().dims();
    let [_, _, kernel_h, kernel_w] = weight.shape().dims();
    let out_size = |axis: usize, size: usize, kernel: usize| {
        let (begin, end) = options.padding[axis];
        (size + begin + end)
            .checked_sub(kernel)
            .map(|span| span / options.stride[axis] + 1)
    };
    let out_sizes = out_size(0, height, kernel_h).zip(out_size(1, width, kernel_w));
    out_sizes.and_then(|(h, w)| dense_geometry(x, weight, [h, w], options))
}

/// Each channel's `(scale, shift)` of two f32 `[channels]` tensors.
fn affine_pairs(scale: FlexTensor, shift: FlexTensor) -> Vec<(f32, f32)> {
    let (scale, shift) = (scale.to_contiguous(), shift.to_contiguous());
    f32s(&scale)
        .iter()
        .copied()
        .zip(f32s(&shift).iter().copied())
        .collect()
}

/// `activation(x * scale + shift)` per channel with a backend's own (broadcasting) ops: the
/// fallback for other dtypes, and the differentiable version under autodiff.
pub(crate) fn generic_channel_affine<B: burn::backend::Backend>(
    x: FloatTensor<B>,
    scale: FloatTensor<B>,
    shift: FloatTensor<B>,
    activation: Activation,
) -> FloatTensor<B> {
    let dims = x.shape().num_dims();
    let mut channel_shape = vec![1; dims];
    channel_shape[1] = scale.shape().num_elements();
    let scale = B::float_reshape(scale, Shape::from(channel_shape.clone()));
    let shift = B::float_reshape(shift, Shape::from(channel_shape));
    let y = B::float_add(B::float_mul(x, scale), shift);
    match activation {
        Activation::Identity => y,
        Activation::Relu => B::relu(y),
        Activation::Relu6 => B::float_clamp(y, 0.0f32.into(), 6.0f32.into()),
    }
}

fn all_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

/// The data of a contiguous `f32` tensor (callers check the dtype and call `to_contiguous`).
fn f32s(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("a contiguous f32 tensor (checked by the caller)")
}

fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// `kernel` on the data of two `f32` tensors (made contiguous first), as a tensor of `shape`.
fn on_data(
    a: FlexTensor,
    b: FlexTensor,
    shape: Shape,
    kernel: impl FnOnce(&[f32], &[f32]) -> Vec<f32>,
) -> FlexTensor {
    let (a, b) = (a.to_contiguous(), b.to_contiguous());
    tensor(kernel(f32s(&a), f32s(&b)), shape)
}

/// `[batch, channels, spatial...]` as batch x channels x (product of the rest).
fn channel_layout(shape: &Shape) -> ChannelLayout {
    let dims = shape.as_slice();
    ChannelLayout {
        batch: dims[0],
        channels: dims[1],
        spatial: dims[2..].iter().product(),
    }
}

/// The geometry when the max-pooling kernels apply: f32, a 4-D input the window fits.
fn pool_geometry(
    x: &FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Option<PoolGeometry> {
    let [batch, channels, height, width] = x.shape().dims();
    let out_height = PoolGeometry::out_size(height, kernel[0], stride[0], padding[0])?;
    let out_width = PoolGeometry::out_size(width, kernel[1], stride[1], padding[1])?;
    all_f32(&[x]).then_some(PoolGeometry {
        planes: batch * channels,
        height,
        width,
        kernel,
        stride,
        pad: padding,
        out_height,
        out_width,
    })
}

/// The geometry when the depthwise kernels apply: f32, one filter per channel, dilation 1.
fn depthwise_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<DepthwiseGeometry> {
    let [batch, channels, height, width] = x.shape().dims();
    let [filters, per_group, kernel_h, kernel_w] = weight.shape().dims();
    let [_, _, out_height, out_width] = output_grad.shape().dims();
    let depthwise = options.groups == channels && filters == channels && per_group == 1;
    (all_f32(&[x, weight, output_grad]) && depthwise && options.dilation == [1, 1]).then(|| {
        DepthwiseGeometry {
            batch,
            channels,
            height,
            width,
            kernel: [kernel_h, kernel_w],
            stride: options.stride,
            pad_begin: options.padding_begin(),
            out_height,
            out_width,
        }
    })
}

/// [`dense_geometry`] for the gradients, whose output size is that of `output_grad`.
fn dense_backward_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<DenseGeometry> {
    let [_, _, out_height, out_width] = output_grad.shape().dims();
    dense_geometry(x, weight, [out_height, out_width], options).filter(|_| all_f32(&[output_grad]))
}

/// The geometry when the dense kernels apply: f32, one group, dilation 1, symmetric or
/// asymmetric padding (the trailing padding follows from the output size).
fn dense_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    [out_height, out_width]: [usize; 2],
    options: &ConvOptions<2>,
) -> Option<DenseGeometry> {
    let [batch, channels_in, height, width] = x.shape().dims();
    let [channels_out, per_group, kernel_h, kernel_w] = weight.shape().dims();
    let dense = options.groups == 1 && per_group == channels_in;
    (all_f32(&[x, weight]) && dense && options.dilation == [1, 1]).then(|| DenseGeometry {
        batch,
        channels_in,
        height,
        width,
        channels_out,
        kernel: [kernel_h, kernel_w],
        stride: options.stride,
        pad_begin: options.padding_begin(),
        out_height,
        out_width,
    })
}
