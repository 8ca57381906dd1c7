//! The study file (`STUDY.toml`): a base run configuration, axes over any of its keys, and
//! combinations to leave out. The cross product of the axes, less the exclusions, is the grid.
//!
//! ```toml
//! name = "busi-strategies"      # optional; the file's stem otherwise
//! base = "busi.toml"            # a `medxfer train` config, relative to this file's folder
//! out_dir = "runs/busi-study"   # the study folder (relative to the working directory)
//! set = ["train.epochs=8"]      # optional: `--set` overrides for every cell
//!
//! [[axis]]
//! key = "model.init"
//! values = ["scratch", "imagenet"]
//!
//! [[axis]]
//! key = "train.strategy"
//! values = [{ kind = "full" }, { kind = "linear_probe" }]
//! labels = ["full", "probe"]    # optional: the cell folder names' parts, one per value
//!
//! [[exclude]]                   # optional: a combination not to run
//! "model.init" = "scratch"
//! "train.strategy" = { kind = "linear_probe" }
//!
//! [[external]]                  # optional: test every finished cell on another dataset
//! name = "busbra"
//! data = "busbra-data.toml"     # a `[data]` table, as `medxfer validate --data` takes it
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StudyError;

/// The file as written; checked into a [`StudyDefinition`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    name: Option<String>,
    base: PathBuf,
    out_dir: PathBuf,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default, rename = "axis")]
    axes: Vec<AxisFile>,
    #[serde(default)]
    exclude: Vec<toml::Table>,
    #[serde(default)]
    external: Vec<ExternalFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalFile {
    name: String,
    data: PathBuf,
}

/// Another dataset every finished cell's fold models are validated on (`medxfer validate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalData {
    /// Its folder name under `STUDY_DIR/external/CELL/`.
    pub name: String,
    /// The file with its `[data]` table.
    pub data_path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisFile {
    key: String,
    /// The axis' short name in cell folder names; the key's last segment otherwise.
    name: Option<String>,
    values: Vec<toml::Value>,
    #[serde(default)]
    labels: Vec<String>,
}

/// One value of an axis and the label that names it in cell folders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisValue {
    pub value: toml::Value,
    pub label: String,
}

/// A run configuration key and the values the study gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// Dotted key path, as `--set` takes it (`model.backbone`, `train.strategy`, `seed`).
    pub key: String,
    /// Short name used in cell folder names.
    pub name: String,
    pub values: Vec<AxisValue>,
}

/// A checked study file, with the base configuration's text read in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyDefinition {
    pub name: String,
    /// The base run configuration as read (cells are it plus overrides).
    pub base_path: PathBuf,
    pub base_text: String,
    /// The study folder: `cells/`, `study.json`, the store.
    pub out_dir: PathBuf,
    /// Overrides applied to every cell before the axes' values.
    pub set: Vec<String>,
    pub axes: Vec<Axis>,
    /// Each table maps axis keys to values; a cell matching all of one table's entries is left out.
    pub exclude: Vec<toml::Table>,
    pub externals: Vec<ExternalData>,
}

impl StudyDefinition {
    /// Read and check `path`; the base configuration is read relative to its folder.
    pub fn load(path: &Path) -> Result<Self, StudyError> {
        let text = std::fs::read_to_string(path).map_err(|e| StudyError::io(path, e))?;
        let file: StudyFile = toml::from_str(&text).map_err(|e| {
            StudyError::definition(path, medxfer_train::config::one_line(&e.to_string()))
        })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        let base_path = folder.join(&file.base);
        let base_text =
            std::fs::read_to_string(&base_path).map_err(|e| StudyError::io(&base_path, e))?;
        let name = match file.name {
            Some(name) => name,
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "study".to_string()),
        };
        let axes = file
            .axes
            .into_iter()
            .map(|axis| check_axis(axis).map_err(|m| StudyError::definition(path, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let externals =
            check_externals(file.external, folder).map_err(|m| StudyError::definition(path, m))?;
        let definition = StudyDefinition {
            name,
            base_path,
            base_text,
            out_dir: file.out_dir,
            set: file.set,
            axes,
            exclude: file.exclude,
            externals,
        };
        definition
            .check_whole()
            .map_err(|m| StudyError::definition(path, m))?;
        Ok(definition)
    }

    /// Rules across axes: at least one, distinct keys and names, exclusions on axis keys only.
    fn check_whole(&self) -> Result<(), String> {
        if self.axes.is_empty() {
            return Err("no [[axis]]: a study needs at least one axis".into());
        }
        let mut keys = BTreeSet::new();
        let mut names = BTreeSet::new();
        for axis in &self.axes {
            if !keys.insert(axis.key.as_str()) {
                return Err(format!("axis key `{}` appears twice", axis.key));
            }
            if !names.insert(axis.name.as_str()) {
                return Err(format!(
                    "two axes are named `{}` in folder names: give one a `name`",
                    axis.name
                ));
            }
        }
        for (number, table) in self.exclude.iter().enumerate() {
            if table.is_empty() {
                return Err(format!("[[exclude]] number {} is empty", number + 1));
            }
            if let Some(key) = table.keys().find(|k| !keys.contains(k.as_str())) {
                return Err(format!(
                    "[[exclude]] names `{key}`, which is not an axis key (quote dotted keys: \"model.init\" = ...)"
                ));
            }
        }
        Ok(())
    }
}

/// External datasets: names fit for folders and distinct, data files that exist (relative to
/// the study file's folder).
fn check_externals(
    externals: Vec<ExternalFile>,
    folder: &Path,
) -> Result<Vec<ExternalData>, String> {
    let mut names = BTreeSet::new();
    let mut checked = Vec::new();
    for external in externals {
        check_folder_part(&external.name).map_err(|m| format!("[[external]] name: {m}"))?;
        if !names.insert(external.name.clone()) {
            return Err(format!("[[external]] `{}` appears twice", external.name));
        }
        let data_path = folder.join(&external.data);
        if !data_path.is_file() {
            return Err(format!(
                "[[external]] `{}`: data file {} does not exist",
                external.name,
                data_path.display()
            ));
        }
        checked.push(ExternalData {
            name: external.name,
            data_path,
        });
    }
    Ok(checked)
}

/// An axis as written, checked: a settable key, values, and labels fit for folder names.
fn check_axis(axis: AxisFile) -> Result<Axis, String> {
    let key = axis.key.trim().to_string();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!("axis key `{key}` is not a dotted key path"));
    }
    if key == "out_dir" {
        return Err("out_dir cannot be an axis: each cell's folder is made by the study".into());
    }
    if axis.values.is_empty() {
        return Err(format!("axis `{key}` has no values"));
    }
    if !axis.labels.is_empty() && axis.labels.len() != axis.values.len() {
        return Err(format!(
            "axis `{key}` has {} values but {} labels",
            axis.values.len(),
            axis.labels.len()
        ));
    }
    let labels: Vec<String> = if axis.labels.is_empty() {
        axis.values.iter().map(value_label).collect()
    } else {
        axis.labels
    };
    let mut seen = BTreeSet::new();
    for label in &labels {
        check_folder_part(label).map_err(|m| format!("axis `{key}`: {m}"))?;
        if !seen.insert(label.as_str()) {
            return Err(format!(
                "axis `{key}`: two values are labelled `{label}` (duplicate values, or give `labels`)"
            ));
        }
    }
    let name = axis
        .name
        .unwrap_or_else(|| key.rsplit('.').next().unwrap_or(&key).to_string());
    check_folder_part(&name).map_err(|m| format!("axis `{key}` name: {m}"))?;
    Ok(Axis {
        key,
        name,
        values: axis
            .values
            .into_iter()
            .zip(labels)
            .map(|(value, label)| AxisValue { value, label })
            .collect(),
    })
}

/// A label made from a value: strings and numbers as written, a table as its `kind` followed by
/// its other entries (`two_phase-head_epochs3-head_lr0.001`); characters a folder name should
/// not carry become `_`.
pub fn value_label(value: &toml::Value) -> String {
    let raw = match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Table(table) => {
            let mut parts: Vec<String> = table
                .get("kind")
                .map(|kind| vec![value_label(kind)])
                .unwrap_or_default();
            for (key, entry) in table.iter().filter(|(k, _)| k.as_str() != "kind") {
                parts.push(format!("{key}{}", value_label(entry)));
            }
            parts.join("-")
        }
        toml::Value::Array(items) => items.iter().map(value_label).collect::<Vec<_>>().join("+"),
        other => other.to_string(),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Labels and axis names become parts of folder names: short, and no separators.
fn check_folder_part(part: &str) -> Result<(), String> {
    const LONGEST: usize = 60;
    if part.is_empty() || part.len() > LONGEST {
        return Err(format!(
            "label `{part}` must have 1 to {LONGEST} characters (give `labels`)"
        ));
    }
    if part.starts_with('.')
        || !part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    {
        return Err(format!(
            "label `{part}` may hold only letters, digits and . _ + - (and not start with .)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_study(dir: &Path, body: &str) -> PathBuf {
        std::fs::write(dir.join("base.toml"), "seed = 1\n").unwrap();
        let path = dir.join("s.toml");
        std::fs::write(
            &path,
            format!("base = \"base.toml\"\nout_dir = \"out\"\n{body}"),
        )
        .unwrap();
        path
    }

    #[test]
    fn labels_come_from_values_when_not_given() {
        let table: toml::Table =
            toml::from_str("v = { kind = \"two_phase\", head_epochs = 3, head_lr = 0.001 }")
                .unwrap();
        assert_eq!(
            value_label(&table["v"]),
            "two_phase-head_epochs3-head_lr0.001"
        );
        assert_eq!(
            value_label(&toml::Value::String("ssl:runs/a/{fold}".into())),
            "ssl_runs_a__fold_"
        );
        assert_eq!(value_label(&toml::Value::Integer(7)), "7");
    }

    #[test]
    fn a_study_loads_with_its_base_and_default_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_study(
            dir.path(),
            "[[axis]]\nkey = \"model.head\"\nvalues = [\"linear\", { kind = \"mlp\", hidden = 8 }]\n[[axis]]\nkey = \"seed\"\nvalues = [1, 2]\n",
        );
        let study = StudyDefinition::load(&path).unwrap();
        assert_eq!(study.name, "s");
        assert_eq!(study.base_text, "seed = 1\n");
        assert_eq!(study.axes[0].name, "head");
        assert_eq!(study.axes[0].values[1].label, "mlp-hidden8");
        assert_eq!(study.axes[1].values[0].label, "1");
    }

    #[test]
    fn mistakes_are_one_line_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("", "at least one axis"),
            ("[[axis]]\nkey = \"seed\"\nvalues = []\n", "no values"),
            (
                "[[axis]]\nkey = \"out_dir\"\nvalues = [\"a\"]\n",
                "out_dir cannot",
            ),
            (
                "[[axis]]\nkey = \"seed\"\nvalues = [1, 2]\nlabels = [\"a\"]\n",
                "2 values but 1 labels",
            ),
            (
                "[[axis]]\nkey = \"seed\"\nvalues = [1, 1]\n",
                "two values are labelled `1`",
            ),
            (
                "[[axis]]\nkey = \"seed\"\nvalues = [1]\n[[exclude]]\n\"model.init\" = \"x\"\n",
                "not an axis key",
            ),
            ("[[axis]]\nkey = \"seed\"\nvalus = [1]\n", "valus"),
            (
                "[[axis]]\nkey = \"seed\"\nvalues = [1]\n[[external]]\nname = \"x\"\ndata = \"nowhere.toml\"\n",
                "nowhere.toml does not exist",
            ),
            (
                "[[axis]]\nkey = \"a.seed\"\nvalues = [1]\n[[axis]]\nkey = \"b.seed\"\nvalues = [2]\n",
                "give one a `name`",
            ),
        ];
        for (body, expected) in cases {
            let path = write_study(dir.path(), body);
            let err = StudyDefinition::load(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{body:?}: {err}");
            assert!(err.contains("s.toml"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
