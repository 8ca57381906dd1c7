//! Builds an ONNX graph one layer at a time: every method appends the nodes and weights of one
//! layer and returns the name of the tensor it produces.

use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::pool::{AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};

use crate::fold_batch_norm::{FoldedConv, fold_batch_norm, fold_batch_norm_1d, values};
use crate::onnx::{Attribute, FloatTensor, Graph, Node};

/// Names of the two scalar bounds every ReLU6 (`Clip`) node shares.
const RELU6_MIN: &str = "relu6_min";
const RELU6_MAX: &str = "relu6_max";

#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: Graph,
    relu6_bounds_added: bool,
    /// Put before every node and weight name, so several models can share one graph.
    prefix: String,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        Self {
            graph: Graph {
                name: name.to_string(),
                ..Graph::default()
            },
            relu6_bounds_added: false,
            prefix: String::new(),
        }
    }

    /// Name the nodes and weights added from now on `{prefix}{name}`.
    pub fn set_prefix(&mut self, prefix: &str) {
        self.prefix = prefix.to_string();
    }

    pub fn into_graph(self) -> Graph {
        self.graph
    }

    pub fn graph_mut(&mut self) -> &mut Graph {
        &mut self.graph
    }

    fn weight(&mut self, name: String, dims: Vec<usize>, values: Vec<f32>) -> String {
        let name = format!("{}{name}", self.prefix);
        self.graph.initializers.push(FloatTensor {
            name: name.clone(),
            dims,
            values,
        });
        name
    }

    /// Append one node named `name` whose single output is called `name` too.
    fn node(
        &mut self,
        op_type: &'static str,
        name: &str,
        inputs: Vec<String>,
        attributes: Vec<Attribute>,
    ) -> String {
        let name = format!("{}{name}", self.prefix);
        self.graph.nodes.push(Node {
            op_type,
            name: name.clone(),
            inputs,
            outputs: vec![name.clone()],
            attributes,
        });
        name
    }

    /// `conv` followed by `bn`, folded into one `Conv` node with a bias.
    pub fn conv_bn(&mut self, name: &str, conv: &Conv2d, bn: &BatchNorm, x: &str) -> String {
        let attributes = vec![
            Attribute::ints("kernel_shape", &conv.kernel_size),
            Attribute::ints("strides", &conv.stride),
            Attribute::ints("dilations", &conv.dilation),
            Attribute::int("group", conv.groups as i64),
            padding_attribute(&conv.padding),
        ];
        self.folded_conv(name, fold_batch_norm(conv, bn), attributes, x)
    }

    /// `conv` alone (bias-free convolutions get a zero bias).
    pub fn conv(&mut self, name: &str, conv: &Conv2d, x: &str) -> String {
        let weight_dims = conv.weight.val().dims();
        let bias = match &conv.bias {
            Some(bias) => values(bias.val()),
            None => vec![0.0; weight_dims[0]],
        };
        let folded = FoldedConv {
            weight_dims,
            weight: values(conv.weight.val()),
            bias,
        };
        let attributes = vec![
            Attribute::ints("kernel_shape", &conv.kernel_size),
            Attribute::ints("strides", &conv.stride),
            Attribute::ints("dilations", &conv.dilation),
            Attribute::int("group", conv.groups as i64),
            padding_attribute(&conv.padding),
        ];
        self.folded_conv(name, folded, attributes, x)
    }

    /// A batch norm that no convolution precedes (DenseNet's pre-activation ones), at inference:
    /// x * scale + shift per channel with scale = gamma / sqrt(var + eps) and
    /// shift = beta - mean * scale, as `Mul` and `Add` over [C, 1, 1] constants.
    pub fn batch_norm(&mut self, name: &str, bn: &BatchNorm, x: &str) -> String {
        let gamma = values(bn.gamma.val());
        let beta = values(bn.beta.val());
        let mean = values(bn.running_mean.value());
        let var = values(bn.running_var.value());
        let scale: Vec<f32> = gamma
            .iter()
            .zip(&var)
            .map(|(g, v)| g / (v + bn.epsilon as f32).sqrt())
            .collect();
        let shift: Vec<f32> = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        let channels = scale.len();
        let scale = self.weight(format!("{name}.scale"), vec![channels, 1, 1], scale);
        let shift = self.weight(format!("{name}.shift"), vec![channels, 1, 1], shift);
        let scaled = self.node(
            "Mul",
            &format!("{name}.mul"),
            vec![x.to_string(), scale],
            vec![],
        );
        self.node("Add", name, vec![scaled, shift], vec![])
    }

    /// `inputs` joined along the channel axis.
    pub fn concat(&mut self, name: &str, inputs: &[String]) -> String {
        let attributes = vec![Attribute::int("axis", 1)];
        self.node("Concat", name, inputs.to_vec(), attributes)
    }

    pub fn average_pool(&mut self, name: &str, pool: &AvgPool2d, x: &str) -> String {
        let attributes = vec![
            Attribute::ints("kernel_shape", &pool.kernel_size),
            Attribute::ints("strides", &pool.stride),
            Attribute::int("ceil_mode", i64::from(pool.ceil_mode)),
            Attribute::int("count_include_pad", i64::from(pool.count_include_pad)),
            padding_attribute(&pool.padding),
        ];
        self.node("AveragePool", name, vec![x.to_string()], attributes)
    }

    /// A 1-D `conv` (stride 1, symmetric padding) and `bn` over an [N, C, length, 1] input, as
    /// a `Conv` whose kernel is `k` x 1: ONNX runtimes then need no 1-D convolution support.
    pub fn conv1d_bn(&mut self, name: &str, conv: &Conv1d, bn: &BatchNorm, x: &str) -> String {
        let folded = fold_batch_norm_1d(conv, bn);
        let pad = match conv.padding {
            burn::nn::PaddingConfig1d::Explicit(begin, end) => [begin, 0, end, 0],
            burn::nn::PaddingConfig1d::Valid => [0; 4],
            burn::nn::PaddingConfig1d::Same => {
                [folded.weight_dims[2] / 2, 0, folded.weight_dims[2] / 2, 0]
            }
        };
        let attributes = vec![
            Attribute::ints("kernel_shape", &[folded.weight_dims[2], 1]),
            Attribute::ints("strides", &[conv.stride, 1]),
            Attribute::ints("dilations", &[conv.dilation, 1]),
            Attribute::int("group", conv.groups as i64),
            Attribute::ints("pads", &pad),
        ];
        self.folded_conv(name, folded, attributes, x)
    }

    fn folded_conv(
        &mut self,
        name: &str,
        folded: FoldedConv,
        attributes: Vec<Attribute>,
        x: &str,
    ) -> String {
        let weight = self.weight(
            format!("{name}.weight"),
            folded.weight_dims.to_vec(),
            folded.weight,
        );
        let out_channels = folded.weight_dims[0];
        let bias = self.weight(format!("{name}.bias"), vec![out_channels], folded.bias);
        self.node("Conv", name, vec![x.to_string(), weight, bias], attributes)
    }

    /// Axes permuted as `perm` says.
    pub fn transpose(&mut self, name: &str, perm: &[usize], x: &str) -> String {
        let attributes = vec![Attribute::ints("perm", perm)];
        self.node("Transpose", name, vec![x.to_string()], attributes)
    }

    pub fn relu(&mut self, name: &str, x: &str) -> String {
        self.node("Relu", name, vec![x.to_string()], vec![])
    }

    /// min(max(x, 0), 6), as `Clip` with its bounds as inputs (opset 11 and later).
    pub fn relu6(&mut self, name: &str, x: &str) -> String {
        if !self.relu6_bounds_added {
            // Shared by every model of the graph, hence not prefixed.
            for (name, bound) in [(RELU6_MIN, 0.0), (RELU6_MAX, 6.0)] {
                self.graph.initializers.push(FloatTensor {
                    name: name.to_string(),
                    dims: vec![],
                    values: vec![bound],
                });
            }
            self.relu6_bounds_added = true;
        }
        let inputs = vec![x.to_string(), RELU6_MIN.into(), RELU6_MAX.into()];
        self.node("Clip", name, inputs, vec![])
    }

    pub fn add(&mut self, name: &str, a: &str, b: &str) -> String {
        self.node("Add", name, vec![a.to_string(), b.to_string()], vec![])
    }

    pub fn max_pool(&mut self, name: &str, pool: &MaxPool2d, x: &str) -> String {
        let attributes = vec![
            Attribute::ints("kernel_shape", &pool.kernel_size),
            Attribute::ints("strides", &pool.stride),
            Attribute::ints("dilations", &pool.dilation),
            Attribute::int("ceil_mode", i64::from(pool.ceil_mode)),
            padding_attribute(&pool.padding),
        ];
        self.node("MaxPool", name, vec![x.to_string()], attributes)
    }

    /// Mean over the spatial axes: N x C x H x W -> N x C x 1 x 1.
    pub fn global_average_pool(&mut self, name: &str, x: &str) -> String {
        self.node("GlobalAveragePool", name, vec![x.to_string()], vec![])
    }

    /// N x d1 x d2 x ... -> N x (d1 d2 ...), row-major.
    pub fn flatten(&mut self, name: &str, x: &str) -> String {
        self.node(
            "Flatten",
            name,
            vec![x.to_string()],
            vec![Attribute::int("axis", 1)],
        )
    }

    /// x W + b with burn's [in, out] weight layout (Gemm without transposition).
    pub fn linear(&mut self, name: &str, linear: &Linear, x: &str) -> String {
        let [inputs, outputs] = linear.weight.val().dims();
        let weight = self.weight(
            format!("{name}.weight"),
            vec![inputs, outputs],
            values(linear.weight.val()),
        );
        let bias_values = match &linear.bias {
            Some(bias) => values(bias.val()),
            None => vec![0.0; outputs],
        };
        let bias = self.weight(format!("{name}.bias"), vec![outputs], bias_values);
        self.node("Gemm", name, vec![x.to_string(), weight, bias], vec![])
    }

    /// The element-wise mean of `inputs` (all of one shape).
    pub fn mean(&mut self, name: &str, inputs: &[String]) -> String {
        self.node("Mean", name, inputs.to_vec(), vec![])
    }

    pub fn softmax(&mut self, name: &str, x: &str) -> String {
        let attributes = vec![Attribute::int("axis", 1)];
        self.node("Softmax", name, vec![x.to_string()], attributes)
    }
}

/// burn's padding as ONNX attributes: explicit pads (begin, begin, end, end), or TensorFlow
/// "SAME" with the odd pixel at the end, which is ONNX's `SAME_UPPER`.
fn padding_attribute(padding: &PaddingConfig2d) -> Attribute {
    match *padding {
        PaddingConfig2d::Same => Attribute::text("auto_pad", "SAME_UPPER"),
        PaddingConfig2d::Valid => Attribute::ints("pads", &[0, 0, 0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            Attribute::ints("pads", &[top, left, bottom, right])
        }
    }
}
