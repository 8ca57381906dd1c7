//! How a run's images are split into training, validation and test parts: k-fold, holdout,
//! the split or folds the data ships with, and leave-one-group-out.

use serde::{Deserialize, Serialize};

use crate::TrainError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SplitConfig {
    /// Stratified (and patient-grouped when patient ids exist) k-fold cross-validation.
    Kfold {
        #[serde(default = "default_folds")]
        folds: usize,
        /// Fraction of each training fold held out to choose the best epoch.
        #[serde(default = "default_val_fraction")]
        val_fraction: f64,
    },
    /// One stratified train / validation / test split by ratio.
    Holdout {
        #[serde(default = "default_val_fraction")]
        val_fraction: f64,
        #[serde(default = "default_test_fraction")]
        test_fraction: f64,
    },
    /// Use the split that ships with the data (npz keys or the CSV `split` column).
    Predefined,
    /// The data's own k folds (BUS-BRA's official patient-grouped folds, or a CSV `fold`
    /// column); `val_fraction` of each training part (patient-grouped) validates.
    DatasetFolds {
        #[serde(default = "default_val_fraction")]
        val_fraction: f64,
    },
    /// Leave-one-group-out: a fold per centre (`by = "center"`: a CSV `center` column,
    /// BUS-BRA's `Device`) or per dataset of a multi-source run (`by = "source"`), tested on
    /// that group and trained on the others; `val_fraction` of the training part
    /// (patient-grouped) validates. Folds follow the groups' sorted names.
    LeaveOneGroupOut {
        by: medxfer_data::HeldOutGroup,
        #[serde(default = "default_val_fraction")]
        val_fraction: f64,
    },
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig::Kfold {
            folds: default_folds(),
            val_fraction: default_val_fraction(),
        }
    }
}

fn default_folds() -> usize {
    5
}
fn default_val_fraction() -> f64 {
    0.15
}
fn default_test_fraction() -> f64 {
    0.2
}

impl SplitConfig {
    /// Fold counts and fractions in range.
    pub(crate) fn validate(&self) -> Result<(), TrainError> {
        match self {
            SplitConfig::Kfold {
                folds,
                val_fraction,
            } => {
                if *folds < 2 {
                    return Err(TrainError::invalid("split.folds", "must be at least 2"));
                }
                check_fraction("split.val_fraction", *val_fraction)?;
            }
            SplitConfig::Holdout {
                val_fraction,
                test_fraction,
            } => {
                check_fraction("split.val_fraction", *val_fraction)?;
                check_fraction("split.test_fraction", *test_fraction)?;
                if val_fraction + test_fraction >= 0.9 {
                    return Err(TrainError::invalid(
                        "split",
                        "val_fraction + test_fraction leaves under 10% for training",
                    ));
                }
            }
            SplitConfig::Predefined => {}
            SplitConfig::DatasetFolds { val_fraction }
            | SplitConfig::LeaveOneGroupOut { val_fraction, .. } => {
                check_fraction("split.val_fraction", *val_fraction)?;
            }
        }
        Ok(())
    }
}

fn check_fraction(key: &str, value: f64) -> Result<(), TrainError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(TrainError::invalid(key, "must be strictly between 0 and 1"))
    }
}
