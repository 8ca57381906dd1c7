//! Outputs that would overwrite inputs are refused, as `cp` refuses copying a file onto
//! itself: paths are compared after resolving symlinks and `.`/`..`, and files by identity
//! (device and inode), never as strings.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::error::DicomError;

/// Refuses an output folder that is an input folder or inside one: outputs would replace
/// originals, and the next run's walk would read them back as inputs.
pub(super) fn check_output_folder(inputs: &[PathBuf], out: &Path) -> Result<(), DicomError> {
    let resolved_out = resolve(out).map_err(|e| DicomError::io(out, e))?;
    for input in inputs.iter().filter(|i| i.is_dir()) {
        let folder = std::fs::canonicalize(input).map_err(|e| DicomError::io(input, e))?;
        if resolved_out.starts_with(&folder) {
            return Err(DicomError::Deid {
                path: out.into(),
                message: format!(
                    "the output is the input folder {} or inside it: choose an output \
                     folder outside the inputs",
                    input.display()
                ),
            });
        }
    }
    Ok(())
}

/// `path` made absolute with symlinks resolved, also when its last components do not exist
/// yet: the nearest existing ancestor is canonicalised and the rest applied lexically
/// (components that do not exist cannot be symlinks).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let base: PathBuf = components[..existing].iter().collect();
        let Ok(mut resolved) = std::fs::canonicalize(&base) else {
            continue;
        };
        for component in &components[existing..] {
            match component {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::CurDir => {}
                other => resolved.push(other),
            }
        }
        return Ok(resolved);
    }
    Ok(absolute)
}

/// The input files by identity, to refuse an output that is one of them under another name
/// (a symlink, a hard link, another spelling, or `--keep-names` into the input's folder).
pub(super) struct InputFiles(HashMap<FileId, PathBuf>);

impl InputFiles {
    pub(super) fn new<'a>(files: impl IntoIterator<Item = &'a PathBuf>) -> Self {
        InputFiles(
            files
                .into_iter()
                .filter_map(|file| Some((file_id(file)?, file.clone())))
                .collect(),
        )
    }

    /// Refuses `output` when it exists and is one of the input files.
    pub(super) fn check(&self, output: &Path) -> Result<(), DicomError> {
        match file_id(output).and_then(|id| self.0.get(&id)) {
            Some(input) => Err(DicomError::Deid {
                path: output.into(),
                message: format!(
                    "the output is the same file as the input {}: refusing to overwrite it",
                    input.display()
                ),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    std::fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_handles_missing_components_and_dots() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(
            resolve(&dir.path().join("a/./b/../c")).unwrap(),
            root.join("a/c")
        );
        assert_eq!(resolve(&dir.path().join("x/..")).unwrap(), root);
        assert_eq!(resolve(dir.path()).unwrap(), root);
    }
}
