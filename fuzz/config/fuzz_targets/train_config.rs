//! The TOML training config: `TrainConfig::from_toml_str` (parse, apply overrides, validate).
//! A config that validates must serialise and parse back to itself.
#![no_main]

#[path = "../../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use libfuzzer_sys::fuzz_target;
use medxfer_train::config::TrainConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The last line doubles as a `--set key=value` override when it looks like one.
    let overrides: Vec<String> = text
        .lines()
        .last()
        .filter(|line| line.contains('=') && !line.contains('['))
        .map(|line| vec![line.to_string()])
        .unwrap_or_default();
    let Ok(config) = TrainConfig::from_toml_str(text, &overrides) else {
        return;
    };
    let written = config.to_toml_string();
    let again = TrainConfig::from_toml_str(&written, &[]).expect("a written config parses back");
    assert_eq!(again, config);
});
