//! What every backbone's key layout shares (each backbone folder has its own `key_layout.rs`,
//! reached through the registry's `torch_key` / `package_key`).

/// The segments of burn module path `path` with the batch-norm leaf names PyTorch uses: burn
/// names scale/shift `gamma`/`beta`, PyTorch `weight`/`bias`.
pub(crate) fn torch_leaf_names(path: &str) -> Vec<&str> {
    let mut segments: Vec<&str> = path.split('.').collect();
    if let Some(name) = segments.last_mut() {
        *name = match *name {
            "gamma" => "weight",
            "beta" => "bias",
            other => other,
        };
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_norm_leaves_take_pytorch_names() {
        assert_eq!(torch_leaf_names("a.0.bn.gamma"), ["a", "0", "bn", "weight"]);
        assert_eq!(torch_leaf_names("bn.beta"), ["bn", "bias"]);
        assert_eq!(torch_leaf_names("bn.running_var"), ["bn", "running_var"]);
    }
}
