//! PNG/JPEG decoding as training uses it: `decode_luma_bytes` with the default size limits.
#![no_main]

#[path = "../common.rs"]
mod common;

#[global_allocator]
static ALLOCATOR: common::CappedAlloc = common::CappedAlloc;

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The extension only routes to the image crate; the format is guessed from the content.
    if let Ok(image) = medxfer_data::decode::decode_luma_bytes(Path::new("input.png"), data) {
        assert_eq!(
            image.pixels.len() as u64,
            u64::from(image.width) * u64::from(image.height)
        );
        assert!(image.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
});
