//! JSON has no NaN or infinity, and serde_json writes them as `null`, which then does not read
//! back as a number: a run whose validation AUC was undefined could never resume. These
//! helpers write non-finite values as the strings "NaN", "inf" and "-inf" and read them (and
//! the `null` older files hold) back. Use with `#[serde(with = "json_float")]`.

use serde::{Deserialize, Deserializer, Serializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Number(f64),
    Text(String),
    Missing(()),
}

pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else {
        serializer.serialize_str(text_of(*value))
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    match Stored::deserialize(deserializer)? {
        Stored::Number(value) => Ok(value),
        Stored::Missing(()) => Ok(f64::NAN),
        Stored::Text(text) => parse(&text).map_err(serde::de::Error::custom),
    }
}

fn text_of(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn parse(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        other => Err(format!(
            "expected a number, \"NaN\", \"inf\" or \"-inf\", found \"{other}\""
        )),
    }
}

/// A number stored with these rules, for maps and other places `with` cannot reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Float(pub f64);

impl serde::Serialize for Float {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize(deserializer).map(Float)
    }
}

/// The same for `Option<f64>`: `None` is `null`, `Some(NaN)` is "NaN".
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Stored, parse, text_of};

    pub fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_none(),
            Some(v) if v.is_finite() => serializer.serialize_some(v),
            Some(v) => serializer.serialize_some(text_of(*v)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<f64>, D::Error> {
        match Stored::deserialize(deserializer)? {
            Stored::Number(value) => Ok(Some(value)),
            Stored::Missing(()) => Ok(None),
            Stored::Text(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Row {
        #[serde(with = "super")]
        auc: f64,
        #[serde(with = "super::option", default)]
        best: Option<f64>,
    }

    fn round_trip(auc: f64, best: Option<f64>) -> (String, Row) {
        let text = serde_json::to_string(&Row { auc, best }).unwrap();
        let row = serde_json::from_str(&text).unwrap();
        (text, row)
    }

    #[test]
    fn non_finite_values_round_trip() {
        let (text, row) = round_trip(f64::NAN, Some(f64::NAN));
        assert_eq!(text, r#"{"auc":"NaN","best":"NaN"}"#);
        assert!(row.auc.is_nan() && row.best.unwrap().is_nan());
        let (_, row) = round_trip(f64::NEG_INFINITY, None);
        assert_eq!((row.auc, row.best), (f64::NEG_INFINITY, None));
        let (text, row) = round_trip(0.75, Some(-0.5));
        assert_eq!(text, r#"{"auc":0.75,"best":-0.5}"#);
        assert_eq!((row.auc, row.best), (0.75, Some(-0.5)));
    }

    #[test]
    fn the_null_older_files_hold_reads_as_nan() {
        let row: Row = serde_json::from_str(r#"{"auc":null,"best":null}"#).unwrap();
        assert!(row.auc.is_nan());
        assert_eq!(row.best, None);
        let err = serde_json::from_str::<Row>(r#"{"auc":"high"}"#).unwrap_err();
        assert!(err.to_string().contains("\"high\""), "{err}");
    }
}
