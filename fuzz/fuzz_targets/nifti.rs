//! The NIfTI reader (`NiftiVolume::open`, plain or gzipped) and slicing along each axis.
#![no_main]

#[path = "../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use libfuzzer_sys::fuzz_target;
use medxfer_dicom::nifti_volume::NiftiVolume;

fuzz_target!(|data: &[u8]| {
    // The reader picks gzip by the file name, as for real files.
    let name = if data.starts_with(&[0x1f, 0x8b]) {
        "input.nii.gz"
    } else {
        "input.nii"
    };
    let path = common::scratch_file(name, data);
    let Ok(volume) = NiftiVolume::open(&path) else {
        return;
    };
    for axis in 0..3 {
        let count = volume.slice_count(axis);
        if count > 0 {
            let _ = volume.slice(axis, count / 2);
        }
    }
});
