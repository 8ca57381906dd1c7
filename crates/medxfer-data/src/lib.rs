//! medxfer-data: datasets (class folders, MedMNIST npz, CSV manifests), decoding to luma,
//! preprocessing, a decode-once image cache, seeded augmentation, stratified (grouped)
//! splits, exact-duplicate detection and data manifest hashing. No deep-learning dependency.

pub mod augment;
pub mod batch;
pub mod busbra;
pub mod cache;
pub mod csv_manifest;
pub mod dataset;
pub mod decode;
pub mod duplicates;
pub mod error;
pub mod folder;
pub mod manifest;
pub mod masks;
pub mod normalize;
pub mod npy;
pub mod npz;
pub mod preprocess;
pub mod sources;
pub mod split;

pub use augment::{AugmentConfig, Augmenter};
pub use batch::{BatchSpec, augmented_batch, sample_rng};
pub use cache::ImageCache;
pub use dataset::{Dataset, DatasetSource, ImageSource, Sample, SplitName};
pub use duplicates::{DuplicateGroup, find_exact_duplicates};
pub use error::DataError;
pub use manifest::manifest_hash;
pub use masks::{MaskReport, MissingMask, validate_masks};
pub use preprocess::{PreparedImage, PreparedMask, PreprocessSpec};
pub use sources::NamedSource;
pub use split::{Fold, HeldOutGroup, leave_one_group_out, predefined_kfold};
