//! Xception burn paths to state-dict keys and Keras names.
//!
//! torchvision has no Xception, so `init = "file:PATH"` reads medxfer's own layout with
//! PyTorch's batch-norm leaf names (`block2.sepconv1.bn.weight`): the keys a `state_dict()` of
//! the same module tree would have.
//!
//! Keras (`keras.applications.Xception`, as `keras_to_safetensors.py` names the variables):
//! `block1_conv1`/`block1_conv1_bn`, `block1_conv2`/`block1_conv2_bn`; separable convolution
//! `block{B}_sepconv{K}` (`/0` depthwise kernel, `/1` pointwise kernel) and its
//! `block{B}_sepconv{K}_bn`; the four skip projections carry Keras's automatic names
//! `conv2d`, `conv2d_1`, `conv2d_2`, `conv2d_3` and `batch_normalization`, `_1`, `_2`, `_3`
//! (blocks 2, 3, 4, 13). A batch norm's variables are `/0` gamma, `/1` beta, `/2` moving mean,
//! `/3` moving variance.

use crate::weights::torch_leaf_names;

/// The state-dict key of the parameter at burn module path `path`.
pub(crate) fn torch_key(path: &str) -> String {
    torch_leaf_names(path).join(".")
}

/// The Keras variable name of the parameter at burn module path `path`; paths that are not
/// Xception parameters come back unchanged (and then match nothing).
pub(crate) fn keras_key(path: &str) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    let Some((leaf, modules)) = segments.split_last() else {
        return path.to_string();
    };
    let Some((layer, is_separable)) = keras_layer(modules) else {
        return path.to_string();
    };
    let variable = match (*leaf, is_separable) {
        ("weight", true) if modules.last() == Some(&"pointwise") => 1,
        ("weight", _) | ("gamma", false) => 0,
        ("beta", false) => 1,
        ("running_mean", false) => 2,
        ("running_var", false) => 3,
        _ => return path.to_string(),
    };
    format!("{layer}/{variable}")
}

/// The Keras layer name of the burn module at `modules` (a path without its leaf), and whether
/// it is one of a separable convolution's two kernels.
fn keras_layer(modules: &[&str]) -> Option<(String, bool)> {
    let named = |name: &str| Some((name.to_string(), false));
    match modules {
        ["conv1"] => named("block1_conv1"),
        ["bn1"] => named("block1_conv1_bn"),
        ["conv2"] => named("block1_conv2"),
        ["bn2"] => named("block1_conv2_bn"),
        [block, module] if block.starts_with("block14_") => {
            separable(block.strip_prefix("block14_")?, 14, module)
        }
        [block, module] => {
            let number = reduction_block_number(block)?;
            let index = [2, 3, 4, 13].iter().position(|b| *b == number)?;
            let suffix = if index == 0 {
                String::new()
            } else {
                format!("_{index}")
            };
            match *module {
                "skip" => named(&format!("conv2d{suffix}")),
                "skip_bn" => named(&format!("batch_normalization{suffix}")),
                _ => None,
            }
        }
        ["middle", index, sepconv, module] => {
            let index: usize = index.parse().ok()?;
            separable(sepconv, index + 5, module)
        }
        [block, sepconv, module] => separable(sepconv, reduction_block_number(block)?, module),
        _ => None,
    }
}

/// `blockN` of a reduction block field -> N.
fn reduction_block_number(field: &str) -> Option<usize> {
    field.strip_prefix("block")?.parse().ok()
}

/// `sepconvK`'s `depthwise`/`pointwise` kernel or `bn` in Keras block `block`.
fn separable(sepconv: &str, block: usize, module: &str) -> Option<(String, bool)> {
    if !sepconv.starts_with("sepconv") {
        return None;
    }
    match module {
        "depthwise" | "pointwise" => Some((format!("block{block}_{sepconv}"), true)),
        "bn" => Some((format!("block{block}_{sepconv}_bn"), false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xception_paths_map_to_keras_names() {
        assert_eq!(keras_key("conv1.weight"), "block1_conv1/0");
        assert_eq!(keras_key("bn2.running_var"), "block1_conv2_bn/3");
        assert_eq!(keras_key("block2.skip.weight"), "conv2d/0");
        assert_eq!(keras_key("block2.skip_bn.beta"), "batch_normalization/1");
        assert_eq!(keras_key("block3.skip.weight"), "conv2d_1/0");
        assert_eq!(
            keras_key("block13.skip_bn.gamma"),
            "batch_normalization_3/0"
        );
        assert_eq!(
            keras_key("block2.sepconv1.depthwise.weight"),
            "block2_sepconv1/0"
        );
        assert_eq!(
            keras_key("block4.sepconv2.pointwise.weight"),
            "block4_sepconv2/1"
        );
        assert_eq!(
            keras_key("block13.sepconv2.bn.running_mean"),
            "block13_sepconv2_bn/2"
        );
        assert_eq!(
            keras_key("middle.0.sepconv3.pointwise.weight"),
            "block5_sepconv3/1"
        );
        assert_eq!(
            keras_key("middle.7.sepconv1.bn.gamma"),
            "block12_sepconv1_bn/0"
        );
        assert_eq!(
            keras_key("block14_sepconv2.depthwise.weight"),
            "block14_sepconv2/0"
        );
        assert_eq!(
            keras_key("block14_sepconv1.bn.beta"),
            "block14_sepconv1_bn/1"
        );
        assert_eq!(keras_key("head.weight"), "head.weight");
    }

    #[test]
    fn xception_state_dict_keys_take_pytorch_leaf_names() {
        assert_eq!(torch_key("bn1.gamma"), "bn1.weight");
        assert_eq!(
            torch_key("middle.3.sepconv2.bn.beta"),
            "middle.3.sepconv2.bn.bias"
        );
        assert_eq!(
            torch_key("block2.sepconv1.depthwise.weight"),
            "block2.sepconv1.depthwise.weight"
        );
    }
}
