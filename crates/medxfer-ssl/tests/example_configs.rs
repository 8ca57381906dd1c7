//! Every config in `examples/` parses and validates: a pretraining config (it has
//! `[[sources]]`) as `PretrainConfig`, any other as `TrainConfig` (here, as this crate sees
//! both). Study definitions (`[[axis]]` tables) are checked by medxfer-study's tests.

use std::path::Path;

use medxfer_ssl::PretrainConfig;
use medxfer_train::TrainConfig;

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
        let result = if text.contains("[[sources]]") {
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
    assert!(checked >= 7, "only {checked} example configs found");
}
