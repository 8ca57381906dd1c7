//! A medxfer `Classifier` (any backbone; linear, MLP or conv1d head) as an ONNX graph: `image`
//! [N, C, S, S] (normalised as the run's `input.json` says) -> `probabilities` [N, classes],
//! following the backbones' forward passes layer by layer, batch norm folded into the
//! convolutions and dropout left out (it is the identity at inference).

use medxfer_models::densenet::{DenseLayer, DenseNet, Transition};
use medxfer_models::efficientnet::{EfficientNetLite0, MbConvBlock};
use medxfer_models::resnet::{BasicBlock, Bottleneck, Downsample, ResNet};
use medxfer_models::vgg::Vgg;
use medxfer_models::xception::{MiddleBlock, ReductionBlock, SeparableConvBn, Xception};
use medxfer_models::{Backbone, Classifier, Conv1dHead, Head};

use crate::graph_builder::GraphBuilder;
use crate::inception_graph::inception_v3;
use crate::onnx::{Dim, Graph, ValueInfo};

pub const INPUT_NAME: &str = "image";
pub const OUTPUT_NAME: &str = "probabilities";

/// The graph of `model` for square inputs of `image_size` pixels.
pub fn classifier_graph(model: &Classifier, name: &str, image_size: usize) -> Graph {
    let mut builder = GraphBuilder::new(name);
    let probabilities = add_classifier(&mut builder, model);
    declare_input_and_output(&mut builder, model, image_size, probabilities);
    builder.into_graph()
}

/// One graph running every `(name, model)` on the same input and returning the mean of their
/// probabilities (the fold ensemble `medxfer predict` computes); each model's nodes and weights
/// are prefixed `{name}/`. The models must share input and class count.
pub fn ensemble_graph(models: &[(String, &Classifier)], name: &str, image_size: usize) -> Graph {
    let mut builder = GraphBuilder::new(name);
    let mut each = Vec::with_capacity(models.len());
    for (model_name, model) in models {
        builder.set_prefix(&format!("{model_name}/"));
        each.push(add_classifier(&mut builder, model));
    }
    builder.set_prefix("");
    let probabilities = builder.mean(OUTPUT_NAME, &each);
    if let Some((_, first)) = models.first() {
        declare_input_and_output(&mut builder, first, image_size, probabilities);
    }
    builder.into_graph()
}

/// The nodes of `model` from the graph input to its softmax; returns the softmax's name.
fn add_classifier(builder: &mut GraphBuilder, model: &Classifier) -> String {
    let features = match &model.backbone {
        Backbone::Resnet18(net) => resnet(builder, net, basic_block),
        Backbone::Resnet50(net) => resnet(builder, net, bottleneck),
        Backbone::EfficientnetLite0(net) => efficientnet_lite0(builder, net),
        Backbone::Densenet121(net) => densenet(builder, net),
        Backbone::Vgg16(net) | Backbone::Vgg16Bn(net) => vgg(builder, net),
        Backbone::Xception(net) => xception(builder, net),
        Backbone::InceptionV3(net) => inception_v3(builder, net),
    };
    let logits = head(builder, &model.head, &features);
    builder.softmax(OUTPUT_NAME, &logits)
}

fn declare_input_and_output(
    builder: &mut GraphBuilder,
    model: &Classifier,
    image_size: usize,
    probabilities: String,
) {
    let in_channels = model.backbone.in_channels();
    let num_classes = model.head.num_classes();
    let graph = builder.graph_mut();
    graph.inputs.push(ValueInfo {
        name: INPUT_NAME.into(),
        shape: vec![
            Dim::Named("N"),
            Dim::Fixed(in_channels),
            Dim::Fixed(image_size),
            Dim::Fixed(image_size),
        ],
    });
    graph.outputs.push(ValueInfo {
        name: probabilities,
        shape: vec![Dim::Named("N"), Dim::Fixed(num_classes)],
    });
}

/// The head over the pooled features (`features`: N x C x 1 x 1).
fn head(builder: &mut GraphBuilder, head: &Head, features: &str) -> String {
    match head {
        Head::Linear(linear) => {
            let flat = builder.flatten("avgpool.flatten", features);
            builder.linear("head", linear, &flat)
        }
        Head::Mlp(mlp) => {
            let flat = builder.flatten("avgpool.flatten", features);
            let hidden = builder.linear("head.hidden", &mlp.hidden, &flat);
            let hidden = builder.relu("head.hidden.relu", &hidden);
            builder.linear("head.output", &mlp.output, &hidden)
        }
        Head::Conv1d(conv1d) => conv1d_head(builder, conv1d, features),
    }
}

/// medxfer's conv1d head (`head_conv1d.rs`): the pooled vector as a one-channel signal along
/// the height axis (N x C x 1 x 1 -> N x 1 x C x 1), the stem and residual blocks as k x 1
/// convolutions with their batch norms folded in, flattened channel-major as burn's reshape
/// does, then the output layer (dropout is the identity at inference).
fn conv1d_head(builder: &mut GraphBuilder, head: &Conv1dHead, features: &str) -> String {
    let signal = builder.transpose("head.signal", &[0, 2, 1, 3], features);
    let x = builder.conv1d_bn("head.stem", &head.stem, &head.stem_bn, &signal);
    let mut x = builder.relu("head.stem.relu", &x);
    for (index, block) in head.blocks.iter().enumerate() {
        let name = format!("head.blocks.{index}");
        let y = builder.conv1d_bn(&format!("{name}.conv1"), &block.conv1, &block.bn1, &x);
        let y = builder.relu(&format!("{name}.relu1"), &y);
        let y = builder.conv1d_bn(&format!("{name}.conv2"), &block.conv2, &block.bn2, &y);
        let sum = builder.add(&format!("{name}.add"), &x, &y);
        x = builder.relu(&format!("{name}.relu2"), &sum);
    }
    let flat = builder.flatten("head.flatten", &x);
    builder.linear("head.output", &head.output, &flat)
}

/// Stem (conv, BN, ReLU, max pool), the four residual layers, global average pooling.
fn resnet<B>(
    builder: &mut GraphBuilder,
    net: &ResNet<B>,
    block: fn(&mut GraphBuilder, &str, &B, &str) -> String,
) -> String
where
    B: medxfer_models::resnet::ResidualUnit,
{
    let x = builder.conv_bn("conv1", &net.conv1, &net.bn1, INPUT_NAME);
    let x = builder.relu("conv1.relu", &x);
    let mut x = builder.max_pool("maxpool", &net.maxpool, &x);
    let layers = [&net.layer1, &net.layer2, &net.layer3, &net.layer4];
    for (layer_index, layer) in layers.into_iter().enumerate() {
        for (block_index, unit) in layer.iter().enumerate() {
            let name = format!("layer{}.{block_index}", layer_index + 1);
            x = block(builder, &name, unit, &x);
        }
    }
    builder.global_average_pool("avgpool", &x)
}

/// The shortcut of a residual block: the input, or its strided 1x1 conv + BN.
fn shortcut(
    builder: &mut GraphBuilder,
    name: &str,
    downsample: &Option<Downsample>,
    x: &str,
) -> String {
    match downsample {
        Some(downsample) => builder.conv_bn(
            &format!("{name}.downsample"),
            &downsample.conv,
            &downsample.bn,
            x,
        ),
        None => x.to_string(),
    }
}

fn basic_block(builder: &mut GraphBuilder, name: &str, block: &BasicBlock, x: &str) -> String {
    let identity = shortcut(builder, name, &block.downsample, x);
    let out = builder.conv_bn(&format!("{name}.conv1"), &block.conv1, &block.bn1, x);
    let out = builder.relu(&format!("{name}.relu1"), &out);
    let out = builder.conv_bn(&format!("{name}.conv2"), &block.conv2, &block.bn2, &out);
    let sum = builder.add(&format!("{name}.add"), &out, &identity);
    builder.relu(&format!("{name}.relu2"), &sum)
}

fn bottleneck(builder: &mut GraphBuilder, name: &str, block: &Bottleneck, x: &str) -> String {
    let identity = shortcut(builder, name, &block.downsample, x);
    let out = builder.conv_bn(&format!("{name}.conv1"), &block.conv1, &block.bn1, x);
    let out = builder.relu(&format!("{name}.relu1"), &out);
    let out = builder.conv_bn(&format!("{name}.conv2"), &block.conv2, &block.bn2, &out);
    let out = builder.relu(&format!("{name}.relu2"), &out);
    let out = builder.conv_bn(&format!("{name}.conv3"), &block.conv3, &block.bn3, &out);
    let sum = builder.add(&format!("{name}.add"), &out, &identity);
    builder.relu(&format!("{name}.relu3"), &sum)
}

/// Stem, the MBConv blocks, the 1x1 head convolution (each with ReLU6), global average pooling.
fn efficientnet_lite0(builder: &mut GraphBuilder, net: &EfficientNetLite0) -> String {
    let x = builder.conv_bn("conv_stem", &net.conv_stem, &net.bn0, INPUT_NAME);
    let mut x = builder.relu6("conv_stem.relu6", &x);
    for (index, block) in net.blocks.iter().enumerate() {
        x = mbconv(builder, &format!("blocks.{index}"), block, &x);
    }
    let x = builder.conv_bn("conv_head", &net.conv_head, &net.bn1, &x);
    let x = builder.relu6("conv_head.relu6", &x);
    builder.global_average_pool("avgpool", &x)
}

/// Stem (conv0 + norm0 folded, ReLU, max pool), the dense blocks with their transitions,
/// norm5 and ReLU, global average pooling.
fn densenet(builder: &mut GraphBuilder, net: &DenseNet) -> String {
    let x = builder.conv_bn("conv0", &net.conv0, &net.norm0, INPUT_NAME);
    let x = builder.relu("conv0.relu", &x);
    let mut x = builder.max_pool("pool0", &net.pool0, &x);
    let blocks = [
        (&net.denseblock1, Some(&net.transition1)),
        (&net.denseblock2, Some(&net.transition2)),
        (&net.denseblock3, Some(&net.transition3)),
        (&net.denseblock4, None),
    ];
    for (index, (block, transition)) in blocks.into_iter().enumerate() {
        x = dense_block(builder, &format!("denseblock{}", index + 1), block, &x);
        if let Some(transition) = transition {
            let name = format!("transition{}", index + 1);
            x = densenet_transition(builder, &name, transition, &x);
        }
    }
    let x = builder.batch_norm("norm5", &net.norm5, &x);
    let x = builder.relu("norm5.relu", &x);
    builder.global_average_pool("avgpool", &x)
}

/// Five blocks of 3x3 convolutions with bias (`vgg16_bn`: its batch norm folded in) and ReLU,
/// each ending with its max pooling
/// (ceil mode, as burn's), then global average pooling.
fn vgg(builder: &mut GraphBuilder, net: &Vgg) -> String {
    let blocks = [
        &net.block1,
        &net.block2,
        &net.block3,
        &net.block4,
        &net.block5,
    ];
    let mut x = INPUT_NAME.to_string();
    for (block_index, convs) in blocks.into_iter().enumerate() {
        let block = format!("block{}", block_index + 1);
        let norms = net.block_norms(block_index);
        for (index, conv) in convs.iter().enumerate() {
            let name = format!("{block}.{index}");
            x = match norms.get(index) {
                Some(norm) => builder.conv_bn(&name, conv, norm, &x),
                None => builder.conv(&name, conv, &x),
            };
            x = builder.relu(&format!("{block}.{index}.relu"), &x);
        }
        x = builder.max_pool(&format!("{block}.pool"), &net.pool, &x);
    }
    builder.global_average_pool("avgpool", &x)
}

/// Stem, entry-flow blocks 2-4, middle blocks 5-12, block 13 and the two final separable
/// convolutions (with ReLU), global average pooling. Each separable convolution is a depthwise
/// `Conv` (group = channels) and a pointwise `Conv` with its batch norm folded in.
fn xception(builder: &mut GraphBuilder, net: &Xception) -> String {
    let x = builder.conv_bn("conv1", &net.conv1, &net.bn1, INPUT_NAME);
    let x = builder.relu("conv1.relu", &x);
    let x = builder.conv_bn("conv2", &net.conv2, &net.bn2, &x);
    let x = builder.relu("conv2.relu", &x);
    let x = xception_reduction(builder, "block2", &net.block2, &x, false);
    let x = xception_reduction(builder, "block3", &net.block3, &x, true);
    let mut x = xception_reduction(builder, "block4", &net.block4, &x, true);
    for (index, block) in net.middle.iter().enumerate() {
        x = xception_middle(builder, &format!("middle.{index}"), block, &x);
    }
    let x = xception_reduction(builder, "block13", &net.block13, &x, true);
    let x = separable_conv_bn(builder, "block14_sepconv1", &net.block14_sepconv1, &x);
    let x = builder.relu("block14_sepconv1.relu", &x);
    let x = separable_conv_bn(builder, "block14_sepconv2", &net.block14_sepconv2, &x);
    let x = builder.relu("block14_sepconv2.relu", &x);
    builder.global_average_pool("avgpool", &x)
}

fn separable_conv_bn(
    builder: &mut GraphBuilder,
    name: &str,
    layer: &SeparableConvBn,
    x: &str,
) -> String {
    let x = builder.conv(&format!("{name}.depthwise"), &layer.depthwise, x);
    builder.conv_bn(
        &format!("{name}.pointwise"),
        &layer.pointwise,
        &layer.bn,
        &x,
    )
}

/// `[ReLU] sepconv1 ReLU sepconv2 MaxPool` plus the 1x1 stride-2 projection of the input.
fn xception_reduction(
    builder: &mut GraphBuilder,
    name: &str,
    block: &ReductionBlock,
    x: &str,
    activate_input: bool,
) -> String {
    let skip = builder.conv_bn(&format!("{name}.skip"), &block.skip, &block.skip_bn, x);
    let input = if activate_input {
        builder.relu(&format!("{name}.relu0"), x)
    } else {
        x.to_string()
    };
    let y = separable_conv_bn(
        builder,
        &format!("{name}.sepconv1"),
        &block.sepconv1,
        &input,
    );
    let y = builder.relu(&format!("{name}.relu1"), &y);
    let y = separable_conv_bn(builder, &format!("{name}.sepconv2"), &block.sepconv2, &y);
    let y = builder.max_pool(&format!("{name}.pool"), &block.pool, &y);
    builder.add(&format!("{name}.add"), &y, &skip)
}

fn xception_middle(builder: &mut GraphBuilder, name: &str, block: &MiddleBlock, x: &str) -> String {
    let mut y = x.to_string();
    for (index, layer) in [&block.sepconv1, &block.sepconv2, &block.sepconv3]
        .into_iter()
        .enumerate()
    {
        let relu = builder.relu(&format!("{name}.relu{}", index + 1), &y);
        y = separable_conv_bn(
            builder,
            &format!("{name}.sepconv{}", index + 1),
            layer,
            &relu,
        );
    }
    builder.add(&format!("{name}.add"), &y, x)
}

/// Each layer's new channels concatenated to everything before them. A layer's norm2 follows
/// its conv1 directly and is folded into it; norm1 acts on the concatenation and stays.
fn dense_block(builder: &mut GraphBuilder, name: &str, layers: &[DenseLayer], x: &str) -> String {
    let mut features = x.to_string();
    for (index, layer) in layers.iter().enumerate() {
        let name = format!("{name}.{index}");
        let y = builder.batch_norm(&format!("{name}.norm1"), &layer.norm1, &features);
        let y = builder.relu(&format!("{name}.relu1"), &y);
        let y = builder.conv_bn(&format!("{name}.conv1"), &layer.conv1, &layer.norm2, &y);
        let y = builder.relu(&format!("{name}.relu2"), &y);
        let y = builder.conv(&format!("{name}.conv2"), &layer.conv2, &y);
        features = builder.concat(&format!("{name}.concat"), &[features, y]);
    }
    features
}

fn densenet_transition(
    builder: &mut GraphBuilder,
    name: &str,
    transition: &Transition,
    x: &str,
) -> String {
    let x = builder.batch_norm(&format!("{name}.norm"), &transition.norm, x);
    let x = builder.relu(&format!("{name}.relu"), &x);
    let x = builder.conv(&format!("{name}.conv"), &transition.conv, &x);
    builder.average_pool(&format!("{name}.pool"), &transition.pool, &x)
}

/// Optional 1x1 expansion, depthwise convolution (group = channels), 1x1 projection, and the
/// residual add when the block keeps its shape.
fn mbconv(builder: &mut GraphBuilder, name: &str, block: &MbConvBlock, input: &str) -> String {
    let mut x = input.to_string();
    if let (Some(expand), Some(bn)) = (&block.expand_conv, &block.bn0) {
        x = builder.conv_bn(&format!("{name}.expand"), expand, bn, &x);
        x = builder.relu6(&format!("{name}.expand.relu6"), &x);
    }
    x = builder.conv_bn(
        &format!("{name}.depthwise"),
        &block.depthwise_conv,
        &block.bn1,
        &x,
    );
    x = builder.relu6(&format!("{name}.depthwise.relu6"), &x);
    x = builder.conv_bn(
        &format!("{name}.project"),
        &block.project_conv,
        &block.bn2,
        &x,
    );
    if block.skip {
        x = builder.add(&format!("{name}.add"), &x, input);
    }
    x
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use burn::prelude::*;
    use medxfer_models::{BackboneKind, HeadConfig};

    use super::*;

    /// Every node reads only the graph input, weights, or outputs of earlier nodes; no name is
    /// produced twice; the last node is named as the graph output.
    fn assert_well_formed(graph: &Graph, label: &str) {
        let mut known: HashSet<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();
        known.insert(INPUT_NAME);
        for node in &graph.nodes {
            for input in &node.inputs {
                assert!(
                    known.contains(input.as_str()),
                    "{label}: {} reads undefined {input}",
                    node.name
                );
            }
            for output in &node.outputs {
                assert!(known.insert(output), "{label}: {output} produced twice");
            }
        }
        let last = graph.nodes.last().unwrap();
        assert_eq!(last.name, OUTPUT_NAME, "{label}");
        assert_eq!(graph.outputs[0].name, OUTPUT_NAME, "{label}");
    }

    fn count(graph: &Graph, op_type: &str) -> usize {
        graph.nodes.iter().filter(|n| n.op_type == op_type).count()
    }

    /// Each backbone's graph has one folded `Conv` per convolution of the model (ResNet-18:
    /// 1 + 16 + 3 downsamples = 20; ResNet-50: 1 + 48 + 4 = 53; Lite0: stem, head, and 16
    /// blocks of which the first has no expansion = 2 + 47 = 49; DenseNet-121: stem, two per
    /// dense layer, three transitions = 1 + 116 + 3 = 120), no BatchNormalization node, a
    /// residual `Add` per block that keeps its shape or has a shortcut (DenseNet: one per batch
    /// norm left unfolded, 58 norm1 + 3 transitions + norm5 = 62; Inception-v3: 94 `BasicConv2d`,
    /// concatenations and no `Add`), and Lite0's ReLU6 as `Clip`.
    #[test]
    fn every_backbone_gives_a_well_formed_graph_of_its_layers() {
        let device = Device::flex();
        let expected = [
            (BackboneKind::Resnet18, 20, 8, 0),
            (BackboneKind::Resnet50, 53, 16, 0),
            (BackboneKind::EfficientnetLite0, 49, 9, 33),
            (BackboneKind::Densenet121, 120, 62, 0),
            (BackboneKind::Vgg16, 13, 0, 0),
            (BackboneKind::Vgg16Bn, 13, 0, 0),
            (BackboneKind::Xception, 74, 12, 0),
            (BackboneKind::InceptionV3, 94, 0, 0),
        ];
        for (kind, convs, adds, clips) in expected {
            let model = Classifier::new(kind, 3, &HeadConfig::default(), 4, &device).valid();
            let graph = classifier_graph(&model, "test", 64);
            let label = kind.to_string();
            assert_well_formed(&graph, &label);
            assert_eq!(count(&graph, "Conv"), convs, "{label}");
            assert_eq!(count(&graph, "Add"), adds, "{label}");
            assert_eq!(count(&graph, "Clip"), clips, "{label}");
            assert_eq!(count(&graph, "BatchNormalization"), 0, "{label}");
            assert_eq!(count(&graph, "Gemm"), 1, "{label}");
            assert_eq!(graph.nodes.last().unwrap().op_type, "Softmax", "{label}");
        }
    }

    /// Two folds in one graph: each model's layers once under its own prefix (names stay
    /// unique), one shared input, the mean of the two softmax outputs as the graph's output.
    #[test]
    fn an_ensemble_graph_averages_the_folds_softmax_outputs() {
        let device = Device::flex();
        let models: Vec<Classifier> = (0..2)
            .map(|_| {
                Classifier::new(
                    BackboneKind::EfficientnetLite0,
                    1,
                    &HeadConfig::default(),
                    2,
                    &device,
                )
                .valid()
            })
            .collect();
        let named: Vec<(String, &Classifier)> = models
            .iter()
            .enumerate()
            .map(|(k, m)| (format!("fold_{k}"), m))
            .collect();
        let graph = ensemble_graph(&named, "ensemble", 32);
        assert_well_formed(&graph, "ensemble");
        assert_eq!(count(&graph, "Conv"), 2 * 49);
        assert_eq!(count(&graph, "Softmax"), 2);
        let last = graph.nodes.last().unwrap();
        assert_eq!(last.op_type, "Mean");
        assert_eq!(
            last.inputs,
            ["fold_0/probabilities", "fold_1/probabilities"]
        );
        assert_eq!(graph.inputs.len(), 1);
    }

    #[test]
    fn an_mlp_head_is_two_gemms_around_a_relu_and_a_conv1d_head_convolves_along_the_features() {
        let device = Device::flex();
        let mlp = HeadConfig::Mlp {
            hidden: 8,
            dropout: 0.5,
        };
        let model = Classifier::new(BackboneKind::Resnet18, 1, &mlp, 2, &device).valid();
        let graph = classifier_graph(&model, "mlp", 32);
        assert_well_formed(&graph, "mlp");
        let tail: Vec<&str> = graph
            .nodes
            .iter()
            .rev()
            .take(4)
            .map(|n| n.op_type)
            .collect();
        assert_eq!(tail, ["Softmax", "Gemm", "Relu", "Gemm"]);

        let conv1d = HeadConfig::Conv1d {
            channels: 4,
            blocks: 2,
            dropout: 0.1,
        };
        let model = Classifier::new(BackboneKind::Resnet18, 1, &conv1d, 2, &device).valid();
        let graph = classifier_graph(&model, "conv1d", 32);
        assert_well_formed(&graph, "conv1d");
        let head: Vec<&str> = graph
            .nodes
            .iter()
            .skip_while(|n| n.op_type != "GlobalAveragePool")
            .map(|n| n.op_type)
            .collect();
        let block = ["Conv", "Relu", "Conv", "Add", "Relu"];
        let expected = [
            &["GlobalAveragePool", "Transpose", "Conv", "Relu"][..],
            &block,
            &block,
            &["Flatten", "Gemm", "Softmax"],
        ]
        .concat();
        assert_eq!(head, expected);
        // 512 pooled features x 4 channels into the output layer.
        let output = graph
            .initializers
            .iter()
            .find(|t| t.name == "head.output.weight")
            .unwrap();
        assert_eq!(output.dims, [512 * 4, 2]);
    }
}
