//! `predictions.csv` reading; a file that reads must write back and read again unchanged.
#![no_main]

#[path = "../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use libfuzzer_sys::fuzz_target;
use medxfer_eval::predictions::Predictions;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("predictions.csv", data);
    let Ok(predictions) = Predictions::read_csv(&path) else {
        return;
    };
    let _ = predictions.validate();
    let copy = path.with_file_name("predictions-copy.csv");
    if predictions.write_csv(&copy).is_ok() {
        let again = Predictions::read_csv(&copy).expect("a written predictions file reads back");
        assert_eq!(again, predictions);
    }
});
