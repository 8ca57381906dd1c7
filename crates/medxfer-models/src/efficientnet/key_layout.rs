//! EfficientNet-Lite0 burn paths to the package's keys: the package prefixes every module name
//! with `_` (`_blocks.3._bn2.running_mean`); burn field names cannot start with one.

use crate::weights::torch_leaf_names;

/// The package key of the parameter at burn module path `path`.
pub(crate) fn torch_key(path: &str) -> String {
    let segments = torch_leaf_names(path);
    let last = segments.len().saturating_sub(1);
    segments
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
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efficientnet_paths_map_to_package_keys() {
        assert_eq!(torch_key("conv_stem.weight"), "_conv_stem.weight");
        assert_eq!(torch_key("bn0.gamma"), "_bn0.weight");
        assert_eq!(
            torch_key("blocks.12.depthwise_conv.weight"),
            "_blocks.12._depthwise_conv.weight"
        );
        assert_eq!(
            torch_key("blocks.3.bn2.running_mean"),
            "_blocks.3._bn2.running_mean"
        );
    }
}
