//! Which backbone stage a class-activation method reads.

use std::fmt;
use std::str::FromStr;

use medxfer_models::Backbone;

use crate::ExplainError;

/// A stage of the backbone, stem first (`Backbone::stage_names`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// The stage nearest the head: coarsest map, most class-specific (Grad-CAM's usual choice).
    #[default]
    Last,
    /// Stage `k` counted from the stem (0).
    Index(usize),
}

impl Stage {
    /// The stage's index in `backbone`, or an error naming the stages it has.
    pub fn resolve(self, backbone: &Backbone) -> Result<usize, ExplainError> {
        let count = backbone.num_stages();
        match self {
            Stage::Last => Ok(count - 1),
            Stage::Index(k) if k < count => Ok(k),
            Stage::Index(k) => Err(ExplainError::NoSuchStage {
                requested: k,
                backbone: backbone.kind().to_string(),
                last: count - 1,
                names: backbone.stage_names().join(", "),
            }),
        }
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("last") {
            return Ok(Stage::Last);
        }
        text.parse::<usize>()
            .map(Stage::Index)
            .map_err(|_| format!("{text:?}: expected `last` or a stage number (0 = stem)"))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Last => write!(f, "last"),
            Stage::Index(k) => write!(f, "{k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::Device;
    use medxfer_models::BackboneKind;

    use super::*;

    #[test]
    fn stages_parse_and_resolve_against_the_backbone() {
        assert_eq!("last".parse::<Stage>(), Ok(Stage::Last));
        assert_eq!("2".parse::<Stage>(), Ok(Stage::Index(2)));
        assert!("layer4".parse::<Stage>().is_err());
        let backbone = Backbone::new(BackboneKind::Resnet18, 1, &Device::flex());
        let n = backbone.num_stages();
        assert_eq!(Stage::Last.resolve(&backbone).unwrap(), n - 1);
        assert_eq!(Stage::Index(1).resolve(&backbone).unwrap(), 1);
        let err = Stage::Index(n).resolve(&backbone).unwrap_err().to_string();
        assert!(err.contains(&format!("stage {n} does not exist")), "{err}");
    }
}
