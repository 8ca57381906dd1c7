//! A fingerprint of the data a run used: sha256 over the class list and the sorted
//! (id, label, content sha256) of every sample, so any change to files, labels or the
//! selection of samples changes the hash.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::cache::{content_hash, hex, load_npz_arrays};
use crate::dataset::Dataset;
use crate::error::DataError;

/// Hex sha256 of the dataset manifest. A sample's content hash covers its image bytes (file,
/// or pixels for npz) and its mask files.
pub fn manifest_hash(dataset: &Dataset) -> Result<String, DataError> {
    let npz_arrays = load_npz_arrays(dataset)?;
    let mut lines: Vec<String> = dataset
        .samples
        .par_iter()
        .map(|sample| {
            let hash = content_hash(sample, &npz_arrays)?;
            let class = &dataset.class_names[sample.label];
            Ok(format!(
                "{}\t{}\t{class}\t{}\n",
                sample.id,
                sample.label,
                hex(&hash)
            ))
        })
        .collect::<Result<_, DataError>>()?;
    lines.sort();
    let mut hasher = Sha256::new();
    hasher.update(b"medxfer-manifest-v1\n");
    for name in &dataset.class_names {
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
    }
    hasher.update(b"--\n");
    for line in &lines {
        hasher.update(line.as_bytes());
    }
    Ok(hex(&hasher.finalize()))
}
