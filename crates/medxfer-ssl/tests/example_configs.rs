//! Every config in `examples/` parses and validates: a pretraining config (it has
//! `[[sources]]`) as `PretrainConfig`, any other as `TrainConfig` (here, as this crate sees
//! both). Study definitions (`[[axis]]` tables) are checked by medxfer-study's tests; a data
//! file for `medxfer validate` (only a `[data]` table) must parse as a run's `[data]`.

use std::path::Path;

use medxfer_ssl::PretrainConfig;
use medxfer_train::TrainConfig;
use medxfer_train::config::DataConfig;

/// A `medxfer validate --data` file: a `[data]` table alone.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFile {
    #[allow(dead_code)]
    data: DataConfig,
}

#[test]
fn every_example_config_loads() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/ folder") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("[[axis]]") {
            continue;
        }
        let result = if !text.contains("out_dir") {
            toml::from_str::<DataFile>(&text)
                .map_err(|e| e.to_string())
                .map(drop)
        } else if text.contains("[[sources]]") {
            PretrainConfig::load(&path, &[])
                .map_err(|e| e.to_string())
                .map(drop)
        } else {
            TrainConfig::load(&path, &[])
                .map_err(|e| e.to_string())
                .map(drop)
        };
        if let Err(err) = result {
            panic!("{}: {err}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} example configs found");
}
