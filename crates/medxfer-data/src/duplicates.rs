//! Exact duplicate images: identical decoded luma pixels at original resolution, whatever
//! the file encoding (an 8-bit gray PNG equals an RGB PNG with R = G = B).

use std::collections::HashMap;
use std::fmt;

use rayon::prelude::*;

use crate::cache::{ImageCache, Sha256Digest, decode_sample, load_npz_arrays, luma_hash};
use crate::dataset::{Dataset, SplitName};
use crate::error::DataError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateMember {
    /// Index into `Dataset::samples`.
    pub index: usize,
    pub id: String,
    pub label: usize,
    pub class_name: String,
    pub split: Option<SplitName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// Two or more samples with identical pixels, in dataset order.
    pub members: Vec<DuplicateMember>,
}

impl DuplicateGroup {
    /// The same image carries different labels.
    pub fn labels_differ(&self) -> bool {
        self.members
            .iter()
            .any(|m| m.label != self.members[0].label)
    }

    /// The same image sits in different predefined splits (npz / CSV `split`).
    pub fn splits_differ(&self) -> bool {
        self.members
            .iter()
            .any(|m| m.split != self.members[0].split)
    }

    /// The same image lands in different parts of a split you made, given each sample's
    /// part (e.g. its test-fold number), indexed like `Dataset::samples`.
    pub fn crosses_parts(&self, part_of_sample: &[usize]) -> bool {
        let part = |m: &DuplicateMember| part_of_sample.get(m.index);
        self.members
            .iter()
            .any(|m| part(m) != part(&self.members[0]))
    }

    /// A one-line warning when the duplicate matters (conflicting labels or split leakage).
    pub fn warning(&self) -> Option<String> {
        let mut problems = Vec::new();
        if self.labels_differ() {
            problems.push("conflicting labels");
        }
        if self.splits_differ() {
            problems.push("spans splits");
        }
        if problems.is_empty() {
            None
        } else {
            Some(format!(
                "exact duplicate images ({}): {self}",
                problems.join(", ")
            ))
        }
    }
}

impl fmt::Display for DuplicateGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .members
            .iter()
            .map(|m| match m.split {
                Some(split) => format!("{} [{}, {split}]", m.id, m.class_name),
                None => format!("{} [{}]", m.id, m.class_name),
            })
            .collect();
        f.write_str(&parts.join(" == "))
    }
}

/// Groups of identical images, using the pixel hashes the cache computed while decoding.
pub fn find_exact_duplicates(
    dataset: &Dataset,
    cache: &ImageCache,
) -> Result<Vec<DuplicateGroup>, DataError> {
    if cache.len() != dataset.len() {
        return Err(DataError::Config(format!(
            "image cache holds {} images but the dataset has {} samples",
            cache.len(),
            dataset.len()
        )));
    }
    let hashes: Vec<Sha256Digest> = (0..cache.len()).map(|i| *cache.pixel_hash(i)).collect();
    Ok(group_by_hash(dataset, &hashes))
}

/// Same as `find_exact_duplicates` but decodes every image itself (in parallel).
pub fn find_exact_duplicates_decoding(dataset: &Dataset) -> Result<Vec<DuplicateGroup>, DataError> {
    let npz_arrays = load_npz_arrays(dataset)?;
    let hashes: Vec<Sha256Digest> = dataset
        .samples
        .par_iter()
        .map(|sample| decode_sample(sample, &npz_arrays).map(|luma| luma_hash(&luma)))
        .collect::<Result<_, _>>()?;
    Ok(group_by_hash(dataset, &hashes))
}

fn group_by_hash(dataset: &Dataset, hashes: &[Sha256Digest]) -> Vec<DuplicateGroup> {
    let mut by_hash: HashMap<&Sha256Digest, Vec<usize>> = HashMap::new();
    for (index, hash) in hashes.iter().enumerate() {
        by_hash.entry(hash).or_default().push(index);
    }
    let mut groups: Vec<DuplicateGroup> = by_hash
        .into_values()
        .filter(|indices| indices.len() > 1)
        .map(|indices| DuplicateGroup {
            members: indices
                .into_iter()
                .map(|index| {
                    let sample = &dataset.samples[index];
                    DuplicateMember {
                        index,
                        id: sample.id.clone(),
                        label: sample.label,
                        class_name: dataset.class_names[sample.label].clone(),
                        split: sample.split,
                    }
                })
                .collect(),
        })
        .collect();
    groups.sort_by_key(|g| g.members[0].index);
    groups
}
