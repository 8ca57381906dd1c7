//! Inception-v3 (`medxfer_models::inception`) as ONNX nodes: each `BasicConv2d` one `Conv` with
//! its batch norm folded in and a `Relu`, each mixed block its branches joined by `Concat`, the
//! pooling branches as `AveragePool` (count_include_pad = 1, as PyTorch and burn) and `MaxPool`.

use medxfer_models::inception::{
    BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, InceptionV3,
};

use crate::classifier_graph::INPUT_NAME;
use crate::graph_builder::GraphBuilder;

/// The stem, the eleven mixed blocks and global average pooling; returns the pooled features.
pub(crate) fn inception_v3(builder: &mut GraphBuilder, net: &InceptionV3) -> String {
    let x = basic_conv(builder, "Conv2d_1a_3x3", &net.conv2d_1a_3x3, INPUT_NAME);
    let x = basic_conv(builder, "Conv2d_2a_3x3", &net.conv2d_2a_3x3, &x);
    let x = basic_conv(builder, "Conv2d_2b_3x3", &net.conv2d_2b_3x3, &x);
    let x = builder.max_pool("maxpool1", &net.maxpool1, &x);
    let x = basic_conv(builder, "Conv2d_3b_1x1", &net.conv2d_3b_1x1, &x);
    let x = basic_conv(builder, "Conv2d_4a_3x3", &net.conv2d_4a_3x3, &x);
    let mut x = builder.max_pool("maxpool2", &net.maxpool2, &x);
    for (name, block) in [
        ("Mixed_5b", &net.mixed_5b),
        ("Mixed_5c", &net.mixed_5c),
        ("Mixed_5d", &net.mixed_5d),
    ] {
        x = inception_a(builder, name, block, &x);
    }
    x = inception_b(builder, "Mixed_6a", &net.mixed_6a, &x);
    for (name, block) in [
        ("Mixed_6b", &net.mixed_6b),
        ("Mixed_6c", &net.mixed_6c),
        ("Mixed_6d", &net.mixed_6d),
        ("Mixed_6e", &net.mixed_6e),
    ] {
        x = inception_c(builder, name, block, &x);
    }
    x = inception_d(builder, "Mixed_7a", &net.mixed_7a, &x);
    x = inception_e(builder, "Mixed_7b", &net.mixed_7b, &x);
    x = inception_e(builder, "Mixed_7c", &net.mixed_7c, &x);
    builder.global_average_pool("avgpool", &x)
}

/// Convolution with the batch norm folded in, then ReLU.
fn basic_conv(builder: &mut GraphBuilder, name: &str, layer: &BasicConv2d, x: &str) -> String {
    let y = builder.conv_bn(name, &layer.conv, &layer.bn, x);
    builder.relu(&format!("{name}.relu"), &y)
}

/// `layers` one after another from `x`, named `{block}.{layer name}`.
fn chain(
    builder: &mut GraphBuilder,
    block: &str,
    layers: &[(&str, &BasicConv2d)],
    x: &str,
) -> String {
    layers.iter().fold(x.to_string(), |y, (name, layer)| {
        basic_conv(builder, &format!("{block}.{name}"), layer, &y)
    })
}

fn inception_a(builder: &mut GraphBuilder, name: &str, block: &InceptionA, x: &str) -> String {
    let branch1x1 = chain(builder, name, &[("branch1x1", &block.branch1x1)], x);
    let branch5x5 = chain(
        builder,
        name,
        &[
            ("branch5x5_1", &block.branch5x5_1),
            ("branch5x5_2", &block.branch5x5_2),
        ],
        x,
    );
    let branch3x3dbl = chain(
        builder,
        name,
        &[
            ("branch3x3dbl_1", &block.branch3x3dbl_1),
            ("branch3x3dbl_2", &block.branch3x3dbl_2),
            ("branch3x3dbl_3", &block.branch3x3dbl_3),
        ],
        x,
    );
    let pooled = builder.average_pool(&format!("{name}.pool"), &block.pool, x);
    let branch_pool = chain(
        builder,
        name,
        &[("branch_pool", &block.branch_pool)],
        &pooled,
    );
    let branches = [branch1x1, branch5x5, branch3x3dbl, branch_pool];
    builder.concat(&format!("{name}.concat"), &branches)
}

fn inception_b(builder: &mut GraphBuilder, name: &str, block: &InceptionB, x: &str) -> String {
    let branch3x3 = chain(builder, name, &[("branch3x3", &block.branch3x3)], x);
    let branch3x3dbl = chain(
        builder,
        name,
        &[
            ("branch3x3dbl_1", &block.branch3x3dbl_1),
            ("branch3x3dbl_2", &block.branch3x3dbl_2),
            ("branch3x3dbl_3", &block.branch3x3dbl_3),
        ],
        x,
    );
    let branch_pool = builder.max_pool(&format!("{name}.pool"), &block.pool, x);
    builder.concat(
        &format!("{name}.concat"),
        &[branch3x3, branch3x3dbl, branch_pool],
    )
}

fn inception_c(builder: &mut GraphBuilder, name: &str, block: &InceptionC, x: &str) -> String {
    let branch1x1 = chain(builder, name, &[("branch1x1", &block.branch1x1)], x);
    let branch7x7 = chain(
        builder,
        name,
        &[
            ("branch7x7_1", &block.branch7x7_1),
            ("branch7x7_2", &block.branch7x7_2),
            ("branch7x7_3", &block.branch7x7_3),
        ],
        x,
    );
    let branch7x7dbl = chain(
        builder,
        name,
        &[
            ("branch7x7dbl_1", &block.branch7x7dbl_1),
            ("branch7x7dbl_2", &block.branch7x7dbl_2),
            ("branch7x7dbl_3", &block.branch7x7dbl_3),
            ("branch7x7dbl_4", &block.branch7x7dbl_4),
            ("branch7x7dbl_5", &block.branch7x7dbl_5),
        ],
        x,
    );
    let pooled = builder.average_pool(&format!("{name}.pool"), &block.pool, x);
    let branch_pool = chain(
        builder,
        name,
        &[("branch_pool", &block.branch_pool)],
        &pooled,
    );
    let branches = [branch1x1, branch7x7, branch7x7dbl, branch_pool];
    builder.concat(&format!("{name}.concat"), &branches)
}

fn inception_d(builder: &mut GraphBuilder, name: &str, block: &InceptionD, x: &str) -> String {
    let branch3x3 = chain(
        builder,
        name,
        &[
            ("branch3x3_1", &block.branch3x3_1),
            ("branch3x3_2", &block.branch3x3_2),
        ],
        x,
    );
    let branch7x7x3 = chain(
        builder,
        name,
        &[
            ("branch7x7x3_1", &block.branch7x7x3_1),
            ("branch7x7x3_2", &block.branch7x7x3_2),
            ("branch7x7x3_3", &block.branch7x7x3_3),
            ("branch7x7x3_4", &block.branch7x7x3_4),
        ],
        x,
    );
    let branch_pool = builder.max_pool(&format!("{name}.pool"), &block.pool, x);
    builder.concat(
        &format!("{name}.concat"),
        &[branch3x3, branch7x7x3, branch_pool],
    )
}

/// The 3x3 branches split into a 1x3 and a 3x1 convolution side by side; the block's one
/// `Concat` takes all six outputs in torchvision's order (its nested concatenations flattened).
fn inception_e(builder: &mut GraphBuilder, name: &str, block: &InceptionE, x: &str) -> String {
    let branch1x1 = chain(builder, name, &[("branch1x1", &block.branch1x1)], x);
    let branch3x3 = chain(builder, name, &[("branch3x3_1", &block.branch3x3_1)], x);
    let branch3x3_a = chain(
        builder,
        name,
        &[("branch3x3_2a", &block.branch3x3_2a)],
        &branch3x3,
    );
    let branch3x3_b = chain(
        builder,
        name,
        &[("branch3x3_2b", &block.branch3x3_2b)],
        &branch3x3,
    );
    let branch3x3dbl = chain(
        builder,
        name,
        &[
            ("branch3x3dbl_1", &block.branch3x3dbl_1),
            ("branch3x3dbl_2", &block.branch3x3dbl_2),
        ],
        x,
    );
    let branch3x3dbl_a = chain(
        builder,
        name,
        &[("branch3x3dbl_3a", &block.branch3x3dbl_3a)],
        &branch3x3dbl,
    );
    let branch3x3dbl_b = chain(
        builder,
        name,
        &[("branch3x3dbl_3b", &block.branch3x3dbl_3b)],
        &branch3x3dbl,
    );
    let pooled = builder.average_pool(&format!("{name}.pool"), &block.pool, x);
    let branch_pool = chain(
        builder,
        name,
        &[("branch_pool", &block.branch_pool)],
        &pooled,
    );
    let branches = [
        branch1x1,
        branch3x3_a,
        branch3x3_b,
        branch3x3dbl_a,
        branch3x3dbl_b,
        branch_pool,
    ];
    builder.concat(&format!("{name}.concat"), &branches)
}
