//! Class-per-folder datasets (the BUSI layout): `root/<class>/NAME.png` with masks beside the
//! image as `NAME_mask.png`, `NAME_mask_1.png`, ...

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageSource, Sample};
use crate::decode::is_image_extension;
use crate::error::DataError;

pub(crate) fn load_folder(root: &Path, classes: Option<&[String]>) -> Result<Dataset, DataError> {
    let class_names: Vec<String> = match classes {
        Some(names) => {
            for name in names {
                let dir = root.join(name);
                if !dir.is_dir() {
                    return Err(DataError::MissingFile {
                        path: dir,
                        referenced_by: "the configured class list".into(),
                    });
                }
            }
            names.to_vec()
        }
        None => {
            let mut names = Vec::new();
            for entry in read_dir_sorted(root)? {
                let name = file_name_string(&entry);
                if entry.is_dir() && !name.starts_with('.') {
                    names.push(name);
                }
            }
            names.sort();
            names
        }
    };
    if class_names.is_empty() {
        return Err(DataError::NoClasses {
            path: root.to_path_buf(),
        });
    }

    let mut samples = Vec::new();
    for (label, class) in class_names.iter().enumerate() {
        let class_dir = root.join(class);
        let class_samples = load_class_dir(&class_dir, class, label)?;
        if class_samples.is_empty() {
            return Err(DataError::EmptyClass { path: class_dir });
        }
        samples.extend(class_samples);
    }
    Ok(Dataset {
        class_names,
        samples,
    })
}

fn load_class_dir(dir: &Path, class: &str, label: usize) -> Result<Vec<Sample>, DataError> {
    let mut images = Vec::new();
    let mut masks_by_image_stem: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for path in read_dir_sorted(dir)? {
        let name = file_name_string(&path);
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        let Some(extension) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !is_image_extension(extension) {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        match mask_owner_stem(&stem) {
            Some(owner) => masks_by_image_stem
                .entry(owner.to_string())
                .or_default()
                .push(path),
            None => images.push((stem, path)),
        }
    }
    let samples = images
        .into_iter()
        .map(|(stem, path)| {
            let mut mask_paths = masks_by_image_stem.remove(&stem).unwrap_or_default();
            mask_paths.sort();
            Sample {
                id: format!("{class}/{}", file_name_string(&path)),
                source: ImageSource::File(path.clone()),
                path,
                label,
                patient_id: None,
                center: None,
                origin: None,
                split: None,
                mask_paths,
                metadata: BTreeMap::new(),
            }
        })
        .collect();
    Ok(samples)
}

/// `NAME_mask` or `NAME_mask_<digits>` -> `Some(NAME)`; anything else is an image.
pub(crate) fn mask_owner_stem(stem: &str) -> Option<&str> {
    if let Some(owner) = stem.strip_suffix("_mask") {
        return Some(owner);
    }
    let (head, digits) = stem.rsplit_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    head.strip_suffix("_mask")
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| DataError::io(dir, e))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn file_name_string(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_names_are_recognised() {
        assert_eq!(mask_owner_stem("benign (1)_mask"), Some("benign (1)"));
        assert_eq!(mask_owner_stem("benign (1)_mask_1"), Some("benign (1)"));
        assert_eq!(mask_owner_stem("benign (1)_mask_12"), Some("benign (1)"));
        assert_eq!(mask_owner_stem("benign (1)"), None);
        assert_eq!(mask_owner_stem("x_1"), None);
        assert_eq!(mask_owner_stem("masked_1"), None);
        assert_eq!(mask_owner_stem("a_mask_"), None);
    }
}
