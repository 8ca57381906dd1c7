//! The grid of a study: the cross product of its axes less the exclusions, each cell named by
//! its axis values, and the share of the grid one shard runs (`--shard i/n`, a Slurm job array,
//! a Kubernetes indexed Job).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::StudyError;
use crate::definition::StudyDefinition;

/// One combination of axis values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the grid (after exclusions); shards split on it.
    pub index: usize,
    /// The cell's folder name, e.g. `init-imagenet__strategy-full`.
    pub name: String,
    /// (axis key, value, label), in axis order.
    pub settings: Vec<CellSetting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSetting {
    pub key: String,
    pub value: toml::Value,
    pub label: String,
}

impl Cell {
    /// The cell's `--set` overrides: `key=value` with the value written as TOML.
    pub fn overrides(&self) -> Vec<String> {
        self.settings
            .iter()
            .map(|s| format!("{}={}", s.key, s.value))
            .collect()
    }

    fn matches(&self, exclusion: &toml::Table) -> bool {
        exclusion.iter().all(|(key, value)| {
            self.settings
                .iter()
                .any(|s| &s.key == key && &s.value == value)
        })
    }
}

/// Every cell of the study, first axis outermost; excluded combinations are left out.
pub fn cells(study: &StudyDefinition) -> Vec<Cell> {
    let mut cells = Vec::new();
    let mut position = vec![0usize; study.axes.len()];
    loop {
        let settings: Vec<CellSetting> = study
            .axes
            .iter()
            .zip(&position)
            .map(|(axis, &i)| CellSetting {
                key: axis.key.clone(),
                value: axis.values[i].value.clone(),
                label: axis.values[i].label.clone(),
            })
            .collect();
        let name = study
            .axes
            .iter()
            .zip(&settings)
            .map(|(axis, s)| format!("{}-{}", axis.name, s.label))
            .collect::<Vec<_>>()
            .join("__");
        let cell = Cell {
            index: cells.len(),
            name,
            settings,
        };
        if !study.exclude.iter().any(|e| cell.matches(e)) {
            cells.push(cell);
        }
        if !advance(
            &mut position,
            &study
                .axes
                .iter()
                .map(|a| a.values.len())
                .collect::<Vec<_>>(),
        ) {
            break;
        }
    }
    cells
}

/// The next position of an odometer whose last digit turns fastest; false after the last.
fn advance(position: &mut [usize], sizes: &[usize]) -> bool {
    for digit in (0..position.len()).rev() {
        position[digit] += 1;
        if position[digit] < sizes[digit] {
            return true;
        }
        position[digit] = 0;
    }
    false
}

/// Unique names are guaranteed by unique labels per axis; checked anyway, since two cells in
/// one folder would mix their runs.
pub fn check_unique_names(cells: &[Cell]) -> Result<(), StudyError> {
    let mut seen = BTreeSet::new();
    for cell in cells {
        if !seen.insert(cell.name.as_str()) {
            return Err(StudyError::Cell {
                cell: cell.name.clone(),
                message: "two cells share this folder name".into(),
            });
        }
    }
    Ok(())
}

/// Shard `index` of `count`: the cells whose grid position is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: usize, count: usize) -> Result<Shard, StudyError> {
        if count == 0 || index >= count {
            return Err(StudyError::Shard(format!(
                "shard {index}/{count}: needs 0 <= i < n"
            )));
        }
        Ok(Shard { index, count })
    }

    /// `i/n`, as `--shard` takes it (i counts from 0).
    pub fn parse(text: &str) -> Result<Shard, StudyError> {
        let bad = || StudyError::Shard(format!("--shard `{text}`: expected i/n, e.g. 0/4"));
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }

    /// Which shard this process is: `--shard` when given; else a Slurm array task
    /// (`SLURM_ARRAY_TASK_ID` - `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`); else a
    /// Kubernetes indexed Job's `JOB_COMPLETION_INDEX` of `shard_count` (the Job's
    /// `completions`, which Kubernetes does not put in the environment); else the whole grid.
    pub fn from_sources(
        flag: Option<&str>,
        shard_count: Option<usize>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, StudyError> {
        if let Some(text) = flag {
            return Shard::parse(text);
        }
        let number = |name: &str| -> Result<Option<usize>, StudyError> {
            env(name)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        StudyError::Shard(format!("{name}={v:?} is not a non-negative integer"))
                    })
                })
                .transpose()
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let count = shard_count
                .or(number("SLURM_ARRAY_TASK_COUNT")?)
                .ok_or_else(|| {
                    StudyError::Shard(
                        "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: pass --shard-count".into(),
                    )
                })?;
            let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(first).ok_or_else(|| {
                StudyError::Shard(format!(
                    "SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {first}"
                ))
            })?;
            return Shard::new(index, count);
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = shard_count.ok_or_else(|| {
                StudyError::Shard(
                    "JOB_COMPLETION_INDEX is set: pass --shard-count (the Job's completions)"
                        .into(),
                )
            })?;
            return Shard::new(index, count);
        }
        Ok(Shard::ALL)
    }

    pub fn takes(&self, cell: &Cell) -> bool {
        cell.index % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{Axis, AxisValue};
    use std::path::PathBuf;

    fn axis(key: &str, values: &[&str]) -> Axis {
        Axis {
            key: key.into(),
            name: key.rsplit('.').next().unwrap().into(),
            values: values
                .iter()
                .map(|v| AxisValue {
                    value: toml::Value::String(v.to_string()),
                    label: v.to_string(),
                })
                .collect(),
        }
    }

    fn study(exclude: &str) -> StudyDefinition {
        StudyDefinition {
            name: "t".into(),
            base_path: PathBuf::from("b.toml"),
            base_text: String::new(),
            out_dir: PathBuf::from("o"),
            set: vec![],
            axes: vec![
                axis("model.init", &["scratch", "imagenet"]),
                axis(
                    "model.backbone",
                    &["resnet18", "resnet50", "efficientnet_lite0"],
                ),
            ],
            exclude: if exclude.is_empty() {
                vec![]
            } else {
                vec![toml::from_str(exclude).unwrap()]
            },
            externals: vec![],
        }
    }

    #[test]
    fn the_grid_is_the_cross_product_first_axis_outermost() {
        let cells = cells(&study(""));
        assert_eq!(cells.len(), 6);
        assert_eq!(cells[0].name, "init-scratch__backbone-resnet18");
        assert_eq!(cells[1].name, "init-scratch__backbone-resnet50");
        assert_eq!(cells[5].name, "init-imagenet__backbone-efficientnet_lite0");
        assert_eq!(
            cells[5].overrides(),
            vec![
                "model.init=\"imagenet\"".to_string(),
                "model.backbone=\"efficientnet_lite0\"".to_string()
            ]
        );
        assert!(cells.iter().enumerate().all(|(i, c)| c.index == i));
        check_unique_names(&cells).unwrap();
    }

    #[test]
    fn exclusions_match_every_entry_of_a_table() {
        let cells = cells(&study(
            "\"model.init\" = \"scratch\"\n\"model.backbone\" = \"resnet50\"\n",
        ));
        assert_eq!(cells.len(), 5);
        assert!(
            !cells
                .iter()
                .any(|c| c.name == "init-scratch__backbone-resnet50")
        );
        let cells = super::cells(&study("\"model.init\" = \"scratch\"\n"));
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[0].index, 0);
    }

    #[test]
    fn shards_partition_the_grid() {
        let cells = cells(&study(""));
        let mut taken = vec![0; cells.len()];
        for index in 0..4 {
            let shard = Shard::new(index, 4).unwrap();
            for cell in cells.iter().filter(|c| shard.takes(c)) {
                taken[cell.index] += 1;
            }
        }
        assert!(taken.iter().all(|&t| t == 1), "{taken:?}");
        let shard = Shard::parse("1/2").unwrap();
        let mine: Vec<usize> = cells
            .iter()
            .filter(|c| shard.takes(c))
            .map(|c| c.index)
            .collect();
        assert_eq!(mine, vec![1, 3, 5]);
    }

    #[test]
    fn shard_comes_from_flag_then_slurm_then_kubernetes() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let none = env(&[]);
        assert_eq!(Shard::from_sources(None, None, none).unwrap(), Shard::ALL);
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_sources(None, None, slurm).unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!(
            Shard::from_sources(Some("0/2"), None, slurm).unwrap(),
            Shard { index: 0, count: 2 }
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert_eq!(
            Shard::from_sources(None, Some(3), k8s).unwrap(),
            Shard { index: 1, count: 3 }
        );
        let err = Shard::from_sources(None, None, k8s)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--shard-count"), "{err}");
        for bad in ["2/2", "1", "a/3", "0/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let garbage = env(&[("JOB_COMPLETION_INDEX", "x")]);
        let err = Shard::from_sources(None, Some(2), garbage)
            .unwrap_err()
            .to_string();
        assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
    }
}
