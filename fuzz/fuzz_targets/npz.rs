//! MedMNIST `.npz` loading: the dataset index (labels) and the images array of each split.
#![no_main]

#[path = "../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use libfuzzer_sys::fuzz_target;
use medxfer_data::npz::NpzImages;
use medxfer_data::{Dataset, DatasetSource};

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("input.npz", data);
    let source = DatasetSource::Npz {
        path: path.clone(),
        classes: None,
    };
    let _ = Dataset::load(&source);
    for key in ["train_images", "val_images", "test_images"] {
        if let Ok(images) = NpzImages::read(&path, key) {
            for index in [0, images.count.saturating_sub(1), images.count] {
                let _ = images.luma(index);
            }
        }
    }
});
