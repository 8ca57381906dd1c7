//! The in-memory dataset description (what to load, not the pixels) and its sources.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::sources::NamedSource;

/// Which predefined split a sample belongs to (npz files and CSV manifests can carry one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    Train,
    Val,
    Test,
}

impl SplitName {
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
            SplitName::Test => "test",
        }
    }
}

impl fmt::Display for SplitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SplitName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Ok(SplitName::Train),
            "val" | "valid" | "validation" => Ok(SplitName::Val),
            "test" | "testing" => Ok(SplitName::Test),
            other => Err(format!(
                "unknown split '{other}' (expected train, val or test)"
            )),
        }
    }
}

/// Where a sample's pixels live.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageSource {
    /// An image file (PNG, JPEG, or any extension with a registered decoder, e.g. `.dcm`).
    File(PathBuf),
    /// Image `index` of array `key` (e.g. `train_images`) inside an `.npz` file.
    Npz {
        file: PathBuf,
        key: String,
        index: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Stable identifier used in predictions files (relative path, or `split/index` for npz).
    pub id: String,
    /// The image file; for npz samples the `.npz` file itself (see `source`).
    pub path: PathBuf,
    pub source: ImageSource,
    pub label: usize,
    pub patient_id: Option<String>,
    pub center: Option<String>,
    /// The source a sample came from in a multi-source dataset (its `name` in
    /// `kind = "sources"`); None for a single source.
    pub origin: Option<String>,
    pub split: Option<SplitName>,
    /// Segmentation masks to merge by OR (may be empty).
    pub mask_paths: Vec<PathBuf>,
    /// Extra CSV columns, kept verbatim.
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    pub class_names: Vec<String>,
    pub samples: Vec<Sample>,
}

/// Where a dataset comes from, as written in the TOML config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DatasetSource {
    /// `root/<class>/NAME.png`, masks beside as `NAME_mask*.png`.
    /// Classes are the sorted folder names unless `classes` lists them (in label order).
    Folder {
        root: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<String>>,
    },
    /// MedMNIST-style `.npz`; class names default to `"0"`, `"1"`, ...
    Npz {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<String>>,
    },
    /// CSV manifest `path,label[,patient_id][,center][,split][,mask]`, paths relative to the CSV.
    Csv {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<String>>,
    },
    /// BUS-BRA: `root/images/bus_NNNN-X.png`, `root/masks/mask_NNNN-X.png`, `bus_data.csv`;
    /// classes benign, malignant; the authors' patient-grouped folds (`folds` = 5, the
    /// default, or 10) go to `metadata["fold"]` for `split::predefined_kfold`.
    Busbra {
        root: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        folds: Option<u32>,
    },
    /// Several named sources as one dataset (e.g. BUSI + BUS-BRA): ids and patient ids are
    /// prefixed with the source's name, classes are matched by name, each sample keeps its
    /// source as `origin` (see `sources`).
    Sources { sources: Vec<NamedSource> },
}

impl DatasetSource {
    /// The file or folder the source reads, for messages.
    pub fn location(&self) -> &Path {
        match self {
            DatasetSource::Folder { root, .. } | DatasetSource::Busbra { root, .. } => root,
            DatasetSource::Npz { path, .. } | DatasetSource::Csv { path, .. } => path,
            DatasetSource::Sources { sources } => sources
                .first()
                .map_or(Path::new("sources"), |s| s.source.location()),
        }
    }
}

impl Dataset {
    pub fn load(source: &DatasetSource) -> Result<Dataset, DataError> {
        let dataset = match source {
            DatasetSource::Folder { root, classes } => {
                crate::folder::load_folder(root, classes.as_deref())?
            }
            DatasetSource::Npz { path, classes } => crate::npz::load_npz(path, classes.as_deref())?,
            DatasetSource::Csv { path, classes } => {
                crate::csv_manifest::load_csv(path, classes.as_deref())?
            }
            DatasetSource::Busbra { root, folds } => crate::busbra::load_busbra(root, *folds)?,
            DatasetSource::Sources { sources } => crate::sources::load_sources(sources)?,
        };
        if dataset.samples.is_empty() {
            return Err(DataError::Config(format!(
                "{}: dataset has no samples",
                source.location().display()
            )));
        }
        Ok(dataset)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn labels(&self) -> Vec<usize> {
        self.samples.iter().map(|s| s.label).collect()
    }

    /// Patient ids for grouped splitting: `Some` only when every sample has one.
    pub fn groups(&self) -> Option<Vec<String>> {
        self.samples.iter().map(|s| s.patient_id.clone()).collect()
    }

    /// The distinct sample origins in order of first appearance, and each sample's index into
    /// them; None unless every sample has an origin (a multi-source dataset).
    pub fn origins(&self) -> Option<(Vec<String>, Vec<usize>)> {
        let mut names: Vec<String> = Vec::new();
        let mut index = Vec::with_capacity(self.samples.len());
        for sample in &self.samples {
            let origin = sample.origin.as_ref()?;
            let k = match names.iter().position(|n| n == origin) {
                Some(k) => k,
                None => {
                    names.push(origin.clone());
                    names.len() - 1
                }
            };
            index.push(k);
        }
        Some((names, index))
    }

    /// Number of samples per class, in class order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for sample in &self.samples {
            counts[sample.label] += 1;
        }
        counts
    }

    pub fn class_index(&self, name: &str) -> Result<usize, DataError> {
        self.class_names
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| DataError::UnknownClass {
                name: name.to_string(),
                available: self.class_names.join(", "),
            })
    }

    /// Resolves the configured positive class. With none configured, a binary task defaults
    /// to class 1 (the later class) and a multi-class task has no positive class.
    pub fn positive_class(&self, name: Option<&str>) -> Result<Option<usize>, DataError> {
        match name {
            Some(name) => self.class_index(name).map(Some),
            None if self.class_names.len() == 2 => Ok(Some(1)),
            None => Ok(None),
        }
    }

    /// Keeps only samples of the named classes and relabels them 0..k in the given order.
    pub fn select_classes(&self, names: &[String]) -> Result<Dataset, DataError> {
        if names.is_empty() {
            return Err(DataError::Config("class selection is empty".into()));
        }
        let mut old_to_new = vec![None; self.class_names.len()];
        for (new_label, name) in names.iter().enumerate() {
            let old = self.class_index(name)?;
            if old_to_new[old].is_some() {
                return Err(DataError::Config(format!("class '{name}' selected twice")));
            }
            old_to_new[old] = Some(new_label);
        }
        let samples = self
            .samples
            .iter()
            .filter_map(|s| old_to_new[s.label].map(|label| Sample { label, ..s.clone() }))
            .collect();
        Ok(Dataset {
            class_names: names.to_vec(),
            samples,
        })
    }

    /// Keeps the samples whose predefined split is `split`.
    pub fn filter_split(&self, split: SplitName) -> Dataset {
        Dataset {
            class_names: self.class_names.clone(),
            samples: self
                .samples
                .iter()
                .filter(|s| s.split == Some(split))
                .cloned()
                .collect(),
        }
    }

    /// Indices of samples per predefined split (samples without a split are left out).
    pub fn split_indices(&self, split: SplitName) -> Vec<usize> {
        self.samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.split == Some(split))
            .map(|(i, _)| i)
            .collect()
    }
}

/// Orders class labels: numerically when all are integers, else alphabetically.
pub(crate) fn sort_class_names(names: &mut [String]) {
    let all_numeric = names.iter().all(|n| n.parse::<i64>().is_ok());
    if all_numeric {
        names.sort_by_key(|n| n.parse::<i64>().unwrap_or(0));
    } else {
        names.sort();
    }
}
