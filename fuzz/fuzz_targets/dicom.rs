//! The DICOM reader and pixel decoder through their public entry points: open and decode all
//! frames (as `medxfer convert` does), then window the first frames for display/training.
#![no_main]

#[path = "../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use libfuzzer_sys::fuzz_target;
use medxfer_dicom::training::decoded_frame;
use medxfer_dicom::{DicomImage, FrameSelection, WindowSpec};

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("input.dcm", data);
    let Ok(image) = DicomImage::open(&path, FrameSelection::All) else {
        return;
    };
    // Two frames reach every per-frame code path; more only slow the fuzzer down.
    for frame in 0..image.frames.min(2) as usize {
        let decoded = decoded_frame(&image, frame, &WindowSpec::Auto);
        let expected = decoded.width as usize * decoded.height as usize * decoded.channels as usize;
        assert_eq!(decoded.pixels.len(), expected);
        let _ = image.modality_frame(frame);
    }
});
