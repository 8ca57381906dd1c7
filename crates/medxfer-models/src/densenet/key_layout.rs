//! DenseNet burn paths to torchvision and Keras names.
//!
//! torchvision: everything under `features.`, dense layers named `denselayer1..` (burn numbers
//! them from 0), batch-norm scale/shift `weight`/`bias`.
//! Keras (`keras.applications.densenet`, as `keras_to_safetensors.py` names the variables):
//! `conv1_conv`/`conv1_bn` for the stem, `conv{B+1}_block{L}_0_bn`, `_1_conv`, `_1_bn`,
//! `_2_conv` for layer L of dense block B, `pool{T+1}_bn`/`pool{T+1}_conv` for transition T,
//! `bn` for norm5; a batch norm's variables are `/0` gamma, `/1` beta, `/2` moving mean,
//! `/3` moving variance, a convolution's kernel is `/0`.

use crate::weights::torch_leaf_names;

/// The torchvision key of the parameter at burn module path `path`.
pub(crate) fn torch_key(path: &str) -> String {
    let mut segments: Vec<String> = torch_leaf_names(path)
        .into_iter()
        .map(str::to_string)
        .collect();
    if segments[0].starts_with("denseblock")
        && let Some(Ok(index)) = segments.get(1).map(|s| s.parse::<usize>())
    {
        segments[1] = format!("denselayer{}", index + 1);
    }
    format!("features.{}", segments.join("."))
}

/// The Keras variable name of the parameter at burn module path `path`; paths that are not
/// DenseNet parameters come back unchanged (and then match nothing).
pub(crate) fn keras_key(path: &str) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    let Some((leaf, modules)) = segments.split_last() else {
        return path.to_string();
    };
    let Some(layer) = keras_layer(modules) else {
        return path.to_string();
    };
    let variable = match *leaf {
        "weight" | "gamma" => 0,
        "beta" => 1,
        "running_mean" => 2,
        "running_var" => 3,
        _ => return path.to_string(),
    };
    format!("{layer}/{variable}")
}

/// The Keras layer name of the burn module at `modules` (a path without its leaf).
fn keras_layer(modules: &[&str]) -> Option<String> {
    let name = match modules {
        ["conv0"] => "conv1_conv".to_string(),
        ["norm0"] => "conv1_bn".to_string(),
        ["norm5"] => "bn".to_string(),
        [block, layer, module] => {
            let block: usize = block.strip_prefix("denseblock")?.parse().ok()?;
            let layer: usize = layer.parse().ok()?;
            let suffix = match *module {
                "norm1" => "0_bn",
                "conv1" => "1_conv",
                "norm2" => "1_bn",
                "conv2" => "2_conv",
                _ => return None,
            };
            format!("conv{}_block{}_{suffix}", block + 1, layer + 1)
        }
        [transition, module] => {
            let index: usize = transition.strip_prefix("transition")?.parse().ok()?;
            let kind = match *module {
                "norm" => "bn",
                "conv" => "conv",
                _ => return None,
            };
            format!("pool{}_{kind}", index + 1)
        }
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densenet_paths_map_to_torchvision_keys() {
        assert_eq!(torch_key("conv0.weight"), "features.conv0.weight");
        assert_eq!(torch_key("norm0.gamma"), "features.norm0.weight");
        assert_eq!(
            torch_key("denseblock1.0.norm1.beta"),
            "features.denseblock1.denselayer1.norm1.bias"
        );
        assert_eq!(
            torch_key("denseblock3.23.conv2.weight"),
            "features.denseblock3.denselayer24.conv2.weight"
        );
        assert_eq!(
            torch_key("transition2.norm.running_var"),
            "features.transition2.norm.running_var"
        );
        assert_eq!(torch_key("norm5.gamma"), "features.norm5.weight");
    }

    #[test]
    fn densenet_paths_map_to_keras_names() {
        assert_eq!(keras_key("conv0.weight"), "conv1_conv/0");
        assert_eq!(keras_key("norm0.running_var"), "conv1_bn/3");
        assert_eq!(
            keras_key("denseblock1.0.norm1.gamma"),
            "conv2_block1_0_bn/0"
        );
        assert_eq!(
            keras_key("denseblock1.0.conv1.weight"),
            "conv2_block1_1_conv/0"
        );
        assert_eq!(
            keras_key("denseblock2.11.norm2.beta"),
            "conv3_block12_1_bn/1"
        );
        assert_eq!(
            keras_key("denseblock4.15.conv2.weight"),
            "conv5_block16_2_conv/0"
        );
        assert_eq!(keras_key("transition1.norm.running_mean"), "pool2_bn/2");
        assert_eq!(keras_key("transition3.conv.weight"), "pool4_conv/0");
        assert_eq!(keras_key("norm5.beta"), "bn/1");
        assert_eq!(keras_key("classifier.weight"), "classifier.weight");
    }
}
