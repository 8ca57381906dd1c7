//! The decoded-size cap: a header declaring a huge image is refused before any pixel buffer
//! exists, and `set_decode_limits` moves the cap. Its own test binary, because the limit is
//! process-wide and a counting allocator watches the largest single allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use medxfer_data::DataError;
use medxfer_data::decode::{DecodeLimits, decode_limits, decode_luma_bytes, set_decode_limits};

/// Records the largest single allocation request, to show the refused decode allocated nothing
/// in proportion to the declared size.
struct PeakAlloc;

static LARGEST_ALLOCATION: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST_ALLOCATION.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST_ALLOCATION.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST_ALLOCATION.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Serialises the tests: they change the process-wide limit and read the allocation peak.
static SERIAL: Mutex<()> = Mutex::new(());

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut checked = kind.to_vec();
    checked.extend_from_slice(data);
    out.extend_from_slice(&crc32(&checked).to_be_bytes());
    out
}

/// A valid PNG signature and header declaring `width x height` 8-bit grey, an empty zlib
/// stream as image data, and the end chunk: 57 bytes.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn encoded(format: image::ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let image = image::GrayImage::from_fn(width, height, |x, y| image::Luma([(x * 7 + y) as u8]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

#[test]
fn crc_matches_the_png_specification_example() {
    // The IEND chunk's CRC is fixed by the specification.
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
}

#[test]
fn a_header_declaring_ten_gigapixels_is_refused_without_allocating() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    set_decode_limits(DecodeLimits::default());
    let png = png_declaring(100_000, 100_000);
    LARGEST_ALLOCATION.store(0, Ordering::Relaxed);
    let err = decode_luma_bytes(Path::new("/data/huge.png"), &png).unwrap_err();
    let largest = LARGEST_ALLOCATION.load(Ordering::Relaxed);
    assert!(matches!(err, DataError::ImageTooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "/data/huge.png: declares 100000 x 100000 pixels, above the limit of 67108864 (data.max_image_pixels)"
    );
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");
}

#[test]
fn the_limit_is_settable_and_applies_to_png_and_jpeg() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for (format, name) in [
        (image::ImageFormat::Png, "small.png"),
        (image::ImageFormat::Jpeg, "small.jpg"),
    ] {
        let bytes = encoded(format, 20, 10);
        set_decode_limits(DecodeLimits { max_pixels: 199 });
        assert_eq!(decode_limits().max_pixels, 199);
        let err = decode_luma_bytes(Path::new(name), &bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{name}: declares 20 x 10 pixels, above the limit of 199 (data.max_image_pixels)"
            )
        );
        set_decode_limits(DecodeLimits { max_pixels: 200 });
        let image = decode_luma_bytes(Path::new(name), &bytes).unwrap();
        assert_eq!(
            (image.width, image.height, image.pixels.len()),
            (20, 10, 200)
        );
    }
    set_decode_limits(DecodeLimits::default());
}
