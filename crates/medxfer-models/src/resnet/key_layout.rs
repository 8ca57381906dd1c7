//! ResNet burn paths to torchvision keys: the shortcut is `downsample.conv`/`.bn` in burn,
//! `downsample.0`/`.1` in torchvision's `nn.Sequential`.

use crate::weights::torch_leaf_names;

/// The torchvision key of the parameter at burn module path `path`.
pub(crate) fn torch_key(path: &str) -> String {
    let mut segments = torch_leaf_names(path);
    for pair in 1..segments.len() {
        if segments[pair - 1] == "downsample" {
            segments[pair] = match segments[pair] {
                "conv" => "0",
                "bn" => "1",
                other => other,
            };
        }
    }
    segments.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_paths_map_to_torchvision_keys() {
        assert_eq!(torch_key("conv1.weight"), "conv1.weight");
        assert_eq!(torch_key("bn1.gamma"), "bn1.weight");
        assert_eq!(torch_key("bn1.running_var"), "bn1.running_var");
        assert_eq!(
            torch_key("layer2.0.downsample.conv.weight"),
            "layer2.0.downsample.0.weight"
        );
        assert_eq!(
            torch_key("layer2.0.downsample.bn.beta"),
            "layer2.0.downsample.1.bias"
        );
    }
}
