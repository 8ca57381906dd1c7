//! A computed feature with its IBSI family, name and code.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Morphology,
    Statistics,
    Histogram,
    Glcm,
    Glrlm,
    Glszm,
    Gldzm,
    Ngtdm,
    Ngldm,
}

impl Family {
    /// Every family, in `extract`'s output order.
    pub const ALL: [Family; 9] = [
        Family::Morphology,
        Family::Statistics,
        Family::Histogram,
        Family::Glcm,
        Family::Glrlm,
        Family::Glszm,
        Family::Gldzm,
        Family::Ngtdm,
        Family::Ngldm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Morphology => "morphology",
            Family::Statistics => "statistics",
            Family::Histogram => "histogram",
            Family::Glcm => "glcm",
            Family::Glrlm => "glrlm",
            Family::Glszm => "glszm",
            Family::Gldzm => "gldzm",
            Family::Ngtdm => "ngtdm",
            Family::Ngldm => "ngldm",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A feature's identity: IBSI's name (lower case, as the reference manual's headings) and its
/// IBSI identifier code; `code` is empty for the 2-D contour features IBSI does not define
/// (IBSI defines morphology on 3-D meshes only; see `morphology`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureName {
    pub family: Family,
    pub name: &'static str,
    pub code: &'static str,
}

impl FeatureName {
    /// `family.name_with_underscores`, e.g. `glcm.joint_maximum`.
    pub fn key(&self) -> String {
        let name: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("{}.{}", self.family, name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Feature {
    #[serde(flatten)]
    pub name: FeatureName,
    pub value: f64,
}

/// Pairs a family's (name, code) table with the values computed in the same order.
pub(crate) fn named(
    family: Family,
    names: &[(&'static str, &'static str)],
    values: &[f64],
) -> Vec<Feature> {
    debug_assert_eq!(names.len(), values.len());
    names
        .iter()
        .zip(values)
        .map(|(&(name, code), &value)| Feature {
            name: FeatureName { family, name, code },
            value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_family_dot_name_with_underscores() {
        let name = FeatureName {
            family: Family::Glcm,
            name: "information correlation 1",
            code: "R8DG",
        };
        assert_eq!(name.key(), "glcm.information_correlation_1");
        let name = FeatureName {
            family: Family::Morphology,
            name: "area density (AABB)",
            code: "",
        };
        assert_eq!(name.key(), "morphology.area_density__AABB_");
    }
}
