//! CSV manifest loading (`path,label[,patient_id][,center][,split][,mask]`). Two image files
//! sit beside the manifest so rows naming them get past the existence check.
#![no_main]

#[path = "../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use libfuzzer_sys::fuzz_target;
use medxfer_data::{Dataset, DatasetSource};

fuzz_target!(|data: &[u8]| {
    common::scratch_file("a.png", b"");
    common::scratch_file("b.png", b"");
    let path = common::scratch_file("manifest.csv", data);
    let source = DatasetSource::Csv {
        path,
        classes: None,
    };
    if let Ok(dataset) = Dataset::load(&source) {
        let classes = dataset.class_names.len();
        assert!(dataset.samples.iter().all(|s| s.label < classes));
    }
});
