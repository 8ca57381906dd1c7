//! Translation between burn module paths and the torchvision / PyPI-package state-dict keys.
//!
//! Burn names batch-norm scale/shift `gamma`/`beta` (PyTorch: `weight`/`bias`); the ResNet
//! shortcut is `downsample.conv`/`.bn` (torchvision's `nn.Sequential` gives `downsample.0`/`.1`);
//! the EfficientNet-Lite0 package prefixes every module name with `_`.

use crate::BackboneKind;

/// The torchvision / package key of the parameter at burn module path `path`.
pub(crate) fn torch_key(kind: BackboneKind, path: &str) -> String {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.len().saturating_sub(1);
    if let Some(name) = segments.last_mut() {
        *name = match *name {
            "gamma" => "weight",
            "beta" => "bias",
            other => other,
        };
    }
    match kind {
        BackboneKind::Resnet18 | BackboneKind::Resnet50 => {
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
        BackboneKind::EfficientnetLite0 => segments
            .iter()
            .enumerate()
            .map(|(index, segment)| {
                let is_module_name = index < last && !segment.chars().all(|c| c.is_ascii_digit());
                if is_module_name {
                    format!("_{segment}")
                } else {
                    segment.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_paths_map_to_torchvision_keys() {
        let kind = BackboneKind::Resnet18;
        assert_eq!(torch_key(kind, "conv1.weight"), "conv1.weight");
        assert_eq!(torch_key(kind, "bn1.gamma"), "bn1.weight");
        assert_eq!(torch_key(kind, "bn1.running_var"), "bn1.running_var");
        assert_eq!(
            torch_key(kind, "layer2.0.downsample.conv.weight"),
            "layer2.0.downsample.0.weight"
        );
        assert_eq!(
            torch_key(kind, "layer2.0.downsample.bn.beta"),
            "layer2.0.downsample.1.bias"
        );
    }

    #[test]
    fn efficientnet_paths_map_to_package_keys() {
        let kind = BackboneKind::EfficientnetLite0;
        assert_eq!(torch_key(kind, "conv_stem.weight"), "_conv_stem.weight");
        assert_eq!(torch_key(kind, "bn0.gamma"), "_bn0.weight");
        assert_eq!(
            torch_key(kind, "blocks.12.depthwise_conv.weight"),
            "_blocks.12._depthwise_conv.weight"
        );
        assert_eq!(
            torch_key(kind, "blocks.3.bn2.running_mean"),
            "_blocks.3._bn2.running_mean"
        );
    }
}
