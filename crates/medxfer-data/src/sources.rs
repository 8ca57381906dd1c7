//! Several datasets loaded as one, for training across hospitals and scanners (e.g. BUSI +
//! BUS-BRA):
//!
//! ```toml
//! [data.source]
//! kind = "sources"
//! [[data.source.sources]]
//! name = "busi"
//! source = { kind = "folder", root = "../shared/data/busi" }
//! [[data.source.sources]]
//! name = "busbra"
//! source = { kind = "busbra", root = "../shared/data/busbra" }
//! ```
//!
//! Classes are matched by name (their order is that of first appearance: the first source's
//! classes, then any new ones); a class one source lacks is fine. Every sample keeps its
//! source as `origin`; ids become `name/id`, so ids of different sources never collide.
//! Patient ids become `name/patient`: when any source has patient ids, a sample of a source
//! without them is its own patient (`name/id`), so grouped splits never put one patient on
//! both sides and never merge patients of different sources.

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, DatasetSource};
use crate::error::DataError;

/// One source of a multi-source dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSource {
    /// Short name used in ids, predictions (`source` column) and per-source metrics.
    pub name: String,
    pub source: DatasetSource,
}

fn check_names(sources: &[NamedSource]) -> Result<(), DataError> {
    if sources.is_empty() {
        return Err(DataError::Config(
            "data.source.sources: name at least one source".into(),
        ));
    }
    for (i, named) in sources.iter().enumerate() {
        let bad = |problem: &str| {
            DataError::Config(format!(
                "data.source.sources[{i}] (name {:?}): {problem}",
                named.name
            ))
        };
        if named.name.is_empty() || named.name.contains(['/', '\\', ',', '"']) {
            return Err(bad(
                "a name must be non-empty, without '/', '\\', ',' or '\"'",
            ));
        }
        if sources[..i].iter().any(|s| s.name == named.name) {
            return Err(bad("two sources have this name"));
        }
        if matches!(named.source, DatasetSource::Sources { .. }) {
            return Err(bad("sources cannot be nested"));
        }
    }
    Ok(())
}

/// Loads every source and merges them (see the module doc).
pub(crate) fn load_sources(sources: &[NamedSource]) -> Result<Dataset, DataError> {
    check_names(sources)?;
    let loaded = sources
        .iter()
        .map(|named| Dataset::load(&named.source))
        .collect::<Result<Vec<_>, _>>()?;
    let any_patients = loaded
        .iter()
        .any(|d| d.samples.iter().any(|s| s.patient_id.is_some()));
    let mut merged = Dataset::default();
    for (named, dataset) in sources.iter().zip(loaded) {
        let label_map: Vec<usize> = dataset
            .class_names
            .iter()
            .map(
                |class| match merged.class_names.iter().position(|c| c == class) {
                    Some(k) => k,
                    None => {
                        merged.class_names.push(class.clone());
                        merged.class_names.len() - 1
                    }
                },
            )
            .collect();
        for mut sample in dataset.samples {
            let prefixed = |id: &str| format!("{}/{id}", named.name);
            sample.patient_id = match &sample.patient_id {
                Some(patient) => Some(prefixed(patient)),
                None if any_patients => Some(prefixed(&sample.id)),
                None => None,
            };
            sample.id = prefixed(&sample.id);
            sample.label = label_map[sample.label];
            sample.origin = Some(named.name.clone());
            merged.samples.push(sample);
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn write_png(path: &Path, value: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(4, 4, image::Luma([value]))
            .save(path)
            .unwrap();
    }

    /// A class-folder source (benign, malignant, normal) and a CSV source with patients.
    fn two_sources(dir: &Path) -> Vec<NamedSource> {
        for (class, n) in [("benign", 2), ("malignant", 1), ("normal", 1)] {
            for i in 0..n {
                write_png(&dir.join("a").join(class).join(format!("{i}.png")), i as u8);
            }
        }
        let csv_dir = dir.join("b");
        for i in 0..3 {
            write_png(&csv_dir.join(format!("{i}.png")), 50 + i as u8);
        }
        std::fs::write(
            csv_dir.join("list.csv"),
            "path,label,patient_id\n0.png,malignant,p1\n1.png,malignant,p1\n2.png,benign,p2\n",
        )
        .unwrap();
        vec![
            NamedSource {
                name: "a".into(),
                source: DatasetSource::Folder {
                    root: dir.join("a"),
                    classes: None,
                },
            },
            NamedSource {
                name: "b".into(),
                source: DatasetSource::Csv {
                    path: csv_dir.join("list.csv"),
                    classes: None,
                },
            },
        ]
    }

    #[test]
    fn sources_merge_by_class_name_with_prefixed_ids_and_patients() {
        let dir = tempfile::tempdir().unwrap();
        let sources = two_sources(dir.path());
        let data = Dataset::load(&DatasetSource::Sources { sources }).unwrap();
        assert_eq!(data.class_names, ["benign", "malignant", "normal"]);
        assert_eq!(data.len(), 7);
        let b0 = data.samples.iter().find(|s| s.id == "b/0.png").unwrap();
        assert_eq!(
            (b0.label, b0.patient_id.as_deref(), b0.origin.as_deref()),
            (1, Some("b/p1"), Some("b"))
        );
        // The folder source has no patients: each image is its own, under its source's name.
        let a = data
            .samples
            .iter()
            .find(|s| s.id == "a/benign/0.png")
            .unwrap();
        assert_eq!(a.patient_id.as_deref(), Some("a/benign/0.png"));
        let (names, index) = data.origins().unwrap();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(index.iter().filter(|&&k| k == 1).count(), 3);
        let selected = data
            .select_classes(&["benign".into(), "malignant".into()])
            .unwrap();
        assert_eq!(selected.len(), 6);
    }

    #[test]
    fn bad_source_lists_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = two_sources(dir.path());
        sources[1].name = "a".into();
        let message = Dataset::load(&DatasetSource::Sources {
            sources: sources.clone(),
        })
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("sources[1]") && message.contains("two sources"),
            "{message}"
        );
        sources[1].name = "b/c".into();
        let message = Dataset::load(&DatasetSource::Sources { sources })
            .unwrap_err()
            .to_string();
        assert!(message.contains("'/'"), "{message}");
        let empty = Dataset::load(&DatasetSource::Sources { sources: vec![] });
        assert!(
            empty
                .unwrap_err()
                .to_string()
                .contains("at least one source")
        );
    }

    #[test]
    fn the_toml_form_of_the_module_doc_parses() {
        #[derive(Deserialize)]
        struct Data {
            source: DatasetSource,
        }
        #[derive(Deserialize)]
        struct Config {
            data: Data,
        }
        let text = "[data.source]\nkind = \"sources\"\n[[data.source.sources]]\nname = \"busi\"\n\
                    source = { kind = \"folder\", root = \"x\" }\n[[data.source.sources]]\n\
                    name = \"busbra\"\nsource = { kind = \"busbra\", root = \"y\" }\n";
        let config: Config = toml::from_str(text).unwrap();
        let DatasetSource::Sources { sources } = config.data.source else {
            panic!("not a multi-source")
        };
        assert_eq!(sources[1].name, "busbra");
    }
}
