//! Where a backbone's starting weights come from, written as one string in configs.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ModelError;

/// `"scratch" | "imagenet" | "pretrained" | "file:PATH" | "ssl:PATH"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Init {
    /// Random initialisation.
    Scratch,
    /// ImageNet weights from the weights cache (`medxfer weights fetch KIND`).
    Imagenet,
    /// The registry package's weights for the backbone, whatever images they were trained on
    /// (`WeightDomain`: ImageNet, or HAM10000 dermoscopy for Xception), from the weights cache.
    Pretrained,
    /// A torchvision-layout state dict: `.pth` (zip or legacy pickle) or `.safetensors`.
    File(PathBuf),
    /// A medxfer SSL encoder checkpoint: a burnpack of the `Backbone` (see `load_init`).
    Ssl(PathBuf),
}

impl Init {
    /// The init for cross-validation fold `fold`: `{fold}` in a `file:`/`ssl:` path becomes the
    /// fold number, so each fold can start from an encoder pretrained without its test images
    /// (`ssl:runs/simclr-fold{fold}/encoder.bpk`).
    pub fn for_fold(&self, fold: usize) -> Init {
        let substitute = |path: &PathBuf| {
            PathBuf::from(path.to_string_lossy().replace("{fold}", &fold.to_string()))
        };
        match self {
            Init::File(path) => Init::File(substitute(path)),
            Init::Ssl(path) => Init::Ssl(substitute(path)),
            other => other.clone(),
        }
    }
}

impl FromStr for Init {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let path_of = |rest: &str| {
            if rest.trim().is_empty() {
                Err(ModelError::InvalidInit(s.to_string()))
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        match s {
            "scratch" => Ok(Init::Scratch),
            "imagenet" => Ok(Init::Imagenet),
            "pretrained" => Ok(Init::Pretrained),
            _ => {
                if let Some(rest) = s.strip_prefix("file:") {
                    path_of(rest).map(Init::File)
                } else if let Some(rest) = s.strip_prefix("ssl:") {
                    path_of(rest).map(Init::Ssl)
                } else {
                    Err(ModelError::InvalidInit(s.to_string()))
                }
            }
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Scratch => f.write_str("scratch"),
            Init::Imagenet => f.write_str("imagenet"),
            Init::Pretrained => f.write_str("pretrained"),
            Init::File(path) => write!(f, "file:{}", path.display()),
            Init::Ssl(path) => write!(f, "ssl:{}", path.display()),
        }
    }
}

impl Serialize for Init {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Init {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_placeholder_becomes_the_fold_number() {
        let init: Init = "ssl:runs/simclr-fold{fold}/encoder.bpk".parse().unwrap();
        assert_eq!(
            init.for_fold(3),
            Init::Ssl("runs/simclr-fold3/encoder.bpk".into())
        );
        let file: Init = "file:w/{fold}/{fold}.pth".parse().unwrap();
        assert_eq!(file.for_fold(0), Init::File("w/0/0.pth".into()));
        assert_eq!(Init::Imagenet.for_fold(2), Init::Imagenet);
    }

    #[test]
    fn parses_every_form_and_round_trips() {
        let cases = [
            ("scratch", Init::Scratch),
            ("imagenet", Init::Imagenet),
            ("pretrained", Init::Pretrained),
            ("file:/w/resnet18.pth", Init::File("/w/resnet18.pth".into())),
            (
                "ssl:runs/ssl/encoder.bpk",
                Init::Ssl("runs/ssl/encoder.bpk".into()),
            ),
        ];
        for (text, expected) in cases {
            let parsed: Init = text.parse().unwrap();
            assert_eq!(parsed, expected);
            assert_eq!(parsed.to_string(), text);
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(serde_json::from_str::<Init>(&json).unwrap(), expected);
        }
    }

    #[test]
    fn rejects_unknown_forms_naming_them() {
        for bad in ["Imagenet", "file:", "ssl: ", "http://x"] {
            let err = bad.parse::<Init>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
