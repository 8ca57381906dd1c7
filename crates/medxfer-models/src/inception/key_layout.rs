//! Inception-v3 burn paths to torchvision `inception_v3` state-dict keys.
//!
//! The module tree is torchvision's, so a key differs from its burn path only in the top-level
//! name, which torchvision capitalises and Rust field names cannot (`conv2d_1a_3x3` is
//! `Conv2d_1a_3x3`, `mixed_5b` is `Mixed_5b`), and in the batch-norm leaves (`gamma`/`beta` are
//! `weight`/`bias`). torchvision's `AuxLogits.*` and `fc.*` have no burn counterpart
//! (`definition.rs` lets `file:` ignore them).

use crate::weights::torch_leaf_names;

/// The state-dict key of the parameter at burn module path `path`.
pub(crate) fn torch_key(path: &str) -> String {
    let mut segments = torch_leaf_names(path);
    let Some(top) = segments.first().copied() else {
        return path.to_string();
    };
    let renamed = torchvision_top_level_name(top);
    if let Some(first) = segments.first_mut() {
        *first = &renamed;
    }
    segments.join(".")
}

/// `conv2d_*` -> `Conv2d_*`, `mixed_*` -> `Mixed_*`; other names unchanged.
fn torchvision_top_level_name(name: &str) -> String {
    for (burn, torchvision) in [("conv2d_", "Conv2d_"), ("mixed_", "Mixed_")] {
        if let Some(rest) = name.strip_prefix(burn) {
            return format!("{torchvision}{rest}");
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_names_take_torchvision_capitals_and_bn_leaves_pytorch_names() {
        assert_eq!(
            torch_key("conv2d_1a_3x3.conv.weight"),
            "Conv2d_1a_3x3.conv.weight"
        );
        assert_eq!(
            torch_key("conv2d_4a_3x3.bn.gamma"),
            "Conv2d_4a_3x3.bn.weight"
        );
        assert_eq!(
            torch_key("mixed_5b.branch_pool.bn.beta"),
            "Mixed_5b.branch_pool.bn.bias"
        );
        assert_eq!(
            torch_key("mixed_7c.branch3x3dbl_3b.bn.running_var"),
            "Mixed_7c.branch3x3dbl_3b.bn.running_var"
        );
        assert_eq!(torch_key("head.weight"), "head.weight");
    }
}
