//! Autodiff over a backend with [`FastCpuGradients`]: each operation is one graph node whose
//! backward pass calls the inner backend's gradient kernels.

use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::{Autodiff, NodeId};

use super::Activation;
use super::extension::{FastCpuGradients, FastCpuOps};

impl<B, C> FastCpuOps for Autodiff<B, C>
where
    B: Backend + FastCpuOps + FastCpuGradients,
    C: CheckpointStrategy,
{
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        conv2d_node::<B, C>(ConvKind::Depthwise, x, weight, options)
    }

    fn dense_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        conv2d_node::<B, C>(ConvKind::Dense, x, weight, options)
    }

    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        input_node::<B, C>(InputOp::Relu6, x)
    }

    fn max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        let op = InputOp::MaxPool {
            kernel,
            stride,
            padding,
        };
        input_node::<B, C>(op, x)
    }

    fn channel_affine(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self> {
        // Only inference calls the fused kernel; with autodiff, burn's own ops keep it
        // differentiable.
        super::flex::generic_channel_affine::<Self>(x, scale, shift, activation)
    }

    fn dense_conv2d_affine(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: Activation,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        // As `channel_affine`: the recorded convolution, then burn's differentiable ops.
        let y = Self::dense_conv2d(x, weight, options);
        super::flex::generic_channel_affine::<Self>(y, scale, shift, activation)
    }

    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        #[derive(Debug)]
        struct BatchNormTrainBackward;

        impl<B: Backend + FastCpuGradients> Backward<B, 3> for BatchNormTrainBackward {
            // Input and gamma are checkpointed; the batch statistics are kept as computed.
            type State = (
                NodeId,
                NodeId,
                B::FloatTensorPrimitive,
                B::FloatTensorPrimitive,
                f64,
            );

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let output_grad = grads.consume::<B>(&ops.node);
                let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
                let gamma =
                    checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(gamma_state);
                let (x_grad, gamma_grad, beta_grad) =
                    B::fused_batch_norm_train_grad(x, gamma, mean, variance, epsilon, output_grad);
                for (node, grad) in [
                    (node_x, x_grad),
                    (node_gamma, gamma_grad),
                    (node_beta, beta_grad),
                ] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        match BatchNormTrainBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (output, mean, variance) = B::fused_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (
                    x_state,
                    gamma_state,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                );
                (
                    prep.finish(state, output),
                    Self::from_inner(mean),
                    Self::from_inner(variance),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (output, mean, variance) = B::fused_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                (
                    prep.finish(output),
                    Self::from_inner(mean),
                    Self::from_inner(variance),
                )
            }
        }
    }
}

/// The one-input operations whose gradient needs only their input (checkpointed) and the
/// output gradient; all record the same kind of graph node.
#[derive(Debug, Clone, Copy)]
enum InputOp {
    Relu6,
    MaxPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
}

impl InputOp {
    fn forward<B: FastCpuOps>(self, x: B::FloatTensorPrimitive) -> B::FloatTensorPrimitive {
        match self {
            InputOp::Relu6 => B::relu6(x),
            InputOp::MaxPool {
                kernel,
                stride,
                padding,
            } => <B as FastCpuOps>::max_pool2d(x, kernel, stride, padding),
        }
    }

    fn input_grad<B: FastCpuGradients>(
        self,
        x: B::FloatTensorPrimitive,
        output_grad: B::FloatTensorPrimitive,
    ) -> B::FloatTensorPrimitive {
        match self {
            InputOp::Relu6 => B::relu6_grad(x, output_grad),
            InputOp::MaxPool {
                kernel,
                stride,
                padding,
            } => B::max_pool2d_x_grad(x, output_grad, kernel, stride, padding),
        }
    }
}

#[derive(Debug)]
struct InputOpBackward;

impl<B: Backend + FastCpuGradients> Backward<B, 1> for InputOpBackward {
    type State = (NodeId, InputOp);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let (x_state, op) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, op.input_grad::<B>(x, output_grad));
        }
    }
}

fn input_node<B, C>(op: InputOp, x: FloatTensor<Autodiff<B, C>>) -> FloatTensor<Autodiff<B, C>>
where
    B: Backend + FastCpuOps + FastCpuGradients,
    C: CheckpointStrategy,
{
    match InputOpBackward
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            prep.finish((x_state, op), op.forward::<B>(x.into_primitive()))
        }
        OpsKind::UnTracked(prep) => prep.finish(op.forward::<B>(x.into_primitive())),
    }
}

/// The convolutions with their own kernels; both record the same kind of graph node.
#[derive(Debug, Clone, Copy)]
enum ConvKind {
    Depthwise,
    Dense,
}

#[derive(Debug)]
struct Conv2dBackward(ConvKind);

impl<B: Backend + FastCpuGradients> Backward<B, 2> for Conv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
        let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
        if let Some(node) = node_x {
            let (x, weight, output_grad, options) = (
                x.clone(),
                weight.clone(),
                output_grad.clone(),
                options.clone(),
            );
            let grad = match self.0 {
                ConvKind::Depthwise => B::depthwise_conv2d_x_grad(x, weight, output_grad, options),
                ConvKind::Dense => B::dense_conv2d_x_grad(x, weight, output_grad, options),
            };
            grads.register::<B>(node.id, grad);
        }
        if let Some(node) = node_weight {
            let grad = match self.0 {
                ConvKind::Depthwise => {
                    B::depthwise_conv2d_weight_grad(x, weight, output_grad, options)
                }
                ConvKind::Dense => B::dense_conv2d_weight_grad(x, weight, output_grad, options),
            };
            grads.register::<B>(node.id, grad);
        }
    }
}

fn conv2d_node<B, C>(
    kind: ConvKind,
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    options: ConvOptions<2>,
) -> FloatTensor<Autodiff<B, C>>
where
    B: Backend + FastCpuOps + FastCpuGradients,
    C: CheckpointStrategy,
{
    let forward = |x, weight, options| match kind {
        ConvKind::Depthwise => B::depthwise_conv2d(x, weight, options),
        ConvKind::Dense => B::dense_conv2d(x, weight, options),
    };
    match Conv2dBackward(kind)
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            let output = forward(x.into_primitive(), weight.into_primitive(), options.clone());
            prep.finish((x_state, weight_state, options), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(
            x.into_primitive(),
            weight.into_primitive(),
            options,
        )),
    }
}
