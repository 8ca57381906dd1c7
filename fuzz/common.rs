//! Shared by every fuzz target (included with `#[path]`): an allocation cap and a scratch file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Largest single allocation allowed. libFuzzer's `-malloc_limit_mb` needs a sanitizer's
/// malloc hooks, which `--sanitizer none` lacks, so the targets enforce it themselves: a
/// request above 1 GiB aborts, and libFuzzer saves the input as a crash.
const MAX_ALLOCATION: usize = 1 << 30;

pub struct CappedAlloc;

fn check(size: usize) {
    if size > MAX_ALLOCATION {
        // Unbuffered stderr with plain string pieces: no allocation while reporting.
        let _ = std::io::stderr().write_all(b"==fuzz== single allocation above 1 GiB: ");
        let _ = std::io::stderr().write_all(size.to_string().as_bytes());
        let _ = std::io::stderr().write_all(b" bytes\n");
        std::process::abort();
    }
}

unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Writes `data` to `name` in one scratch folder per process and returns the path, for
/// readers whose public entry point takes a path. The folder lives until the process ends
/// (`.ci/fuzz` points TMPDIR at a folder it removes).
#[allow(dead_code)] // the config target reads from a string
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("medxfer-fuzz-")
            .tempdir()
            .expect("scratch folder for fuzz inputs");
        dir.keep()
    });
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write fuzz input to scratch file");
    path
}
