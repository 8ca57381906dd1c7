//! The backbone architectures medxfer knows, by name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum BackboneKind {
    #[value(name = "resnet18")]
    #[serde(rename = "resnet18")]
    Resnet18,
    #[value(name = "resnet50")]
    #[serde(rename = "resnet50")]
    Resnet50,
    #[value(name = "efficientnet_lite0")]
    #[serde(rename = "efficientnet_lite0")]
    EfficientnetLite0,
}

impl BackboneKind {
    pub const ALL: [BackboneKind; 3] = [
        BackboneKind::Resnet18,
        BackboneKind::Resnet50,
        BackboneKind::EfficientnetLite0,
    ];

    /// The name used in configs, on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::Resnet18 => "resnet18",
            BackboneKind::Resnet50 => "resnet50",
            BackboneKind::EfficientnetLite0 => "efficientnet_lite0",
        }
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackboneKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| ModelError::UnknownBackbone(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_serde_and_clap() {
        for kind in BackboneKind::ALL {
            assert_eq!(kind.name().parse::<BackboneKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            let parsed = <BackboneKind as clap::ValueEnum>::from_str(kind.name(), false).unwrap();
            assert_eq!(parsed, kind);
        }
        let err = "vgg16".parse::<BackboneKind>().unwrap_err().to_string();
        assert!(err.contains("vgg16"), "{err}");
    }
}
