//! A NIfTI header declaring a volume far larger than the file is an error before anything is
//! allocated (found by fuzz/nifti: a 300-byte .nii.gz whose header declared 2.3 GB made the
//! nifti crate reserve all of it).

use std::io::Write;
use std::path::Path;

use medxfer_dicom::nifti_volume::NiftiVolume;

/// A NIfTI-1 single-file header (348 bytes + 4 of extension flags) declaring `dim` float32
/// voxels, followed by `data_bytes` zero bytes.
fn nifti_bytes(dim: [u16; 3], data_bytes: usize) -> Vec<u8> {
    let mut header = vec![0u8; 352];
    header[0..4].copy_from_slice(&348i32.to_le_bytes());
    let dims: [i16; 8] = [3, dim[0] as i16, dim[1] as i16, dim[2] as i16, 1, 1, 1, 1];
    for (k, d) in dims.iter().enumerate() {
        header[40 + 2 * k..42 + 2 * k].copy_from_slice(&d.to_le_bytes());
    }
    header[70..72].copy_from_slice(&16i16.to_le_bytes()); // DT_FLOAT32
    header[72..74].copy_from_slice(&32i16.to_le_bytes()); // bitpix
    for k in 0..8 {
        header[76 + 4 * k..80 + 4 * k].copy_from_slice(&1f32.to_le_bytes()); // pixdim
    }
    header[108..112].copy_from_slice(&352f32.to_le_bytes()); // vox_offset
    header[112..116].copy_from_slice(&1f32.to_le_bytes()); // scl_slope
    header[344..348].copy_from_slice(b"n+1\0");
    header.extend(std::iter::repeat_n(0u8, data_bytes));
    header
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn open_error(path: &Path) -> String {
    match NiftiVolume::open(path) {
        Ok(volume) => panic!("opened a forged volume of shape {:?}", volume.shape()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_header_declaring_more_than_the_file_holds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // 1000 x 1000 x 100 float32 = 400 MB declared, 1 KB present.
    let forged = nifti_bytes([1000, 1000, 100], 1024);
    let plain = dir.path().join("forged.nii");
    std::fs::write(&plain, &forged).unwrap();
    let message = open_error(&plain);
    assert!(
        message.contains("forged.nii")
            && message.contains("400000352 bytes")
            && message.contains("holds 1376"),
        "{message}"
    );
    let zipped = dir.path().join("forged.nii.gz");
    std::fs::write(&zipped, gzip(&forged)).unwrap();
    let message = open_error(&zipped);
    assert!(
        message.contains("forged.nii.gz") && message.contains("forged header"),
        "{message}"
    );
}

#[test]
fn a_complete_volume_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = nifti_bytes([4, 3, 2], 4 * 3 * 2 * 4);
    for (name, content) in [("ok.nii", bytes.clone()), ("ok.nii.gz", gzip(&bytes))] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let volume = NiftiVolume::open(&path).unwrap();
        assert_eq!(volume.shape(), [4, 3, 2], "{name}");
    }
}

#[test]
fn a_volume_above_the_memory_limit_is_refused_before_it_is_inflated() {
    let dir = tempfile::tempdir().unwrap();
    // 2000 x 2000 x 150 float32 = 2.4 GB, whatever the file holds.
    let path = dir.path().join("huge.nii.gz");
    std::fs::write(&path, gzip(&nifti_bytes([2000, 2000, 150], 1024))).unwrap();
    let message = open_error(&path);
    assert!(
        message.contains("huge.nii.gz") && message.contains("above the 1024 MiB"),
        "{message}"
    );
}

/// A 2 x 2 x 1 volume behind one extension of `extension_size` declared bytes (16 present).
fn nifti_with_extension(extension_size: i32) -> Vec<u8> {
    let mut bytes = nifti_bytes([2, 2, 1], 0);
    bytes[108..112].copy_from_slice(&368f32.to_le_bytes()); // vox_offset after 16 bytes
    bytes[348] = 1; // the extender: extensions follow
    bytes.extend(extension_size.to_le_bytes());
    bytes.extend(6i32.to_le_bytes()); // ecode: comment
    bytes.extend([0u8; 8]);
    bytes.extend([0u8; 16]); // the voxels
    bytes
}

#[test]
fn an_extension_declaring_more_than_lies_before_the_voxels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // fuzz/nifti: the nifti crate reserved an extension's declared 1.8 GB before reading it.
    for (name, size) in [("huge", 0x7000_0000), ("negative", -8), ("short", 4)] {
        let forged = nifti_with_extension(size);
        let zipped = dir.path().join(format!("{name}.nii.gz"));
        std::fs::write(&zipped, gzip(&forged)).unwrap();
        let message = open_error(&zipped);
        assert!(
            message.contains(&format!("{name}.nii.gz"))
                && message.contains(&format!("declares {size} bytes where 16 are left")),
            "{message}"
        );
    }
    let honest = dir.path().join("honest.nii");
    std::fs::write(&honest, nifti_with_extension(16)).unwrap();
    let volume = NiftiVolume::open(&honest).expect("a volume with a 16-byte extension opens");
    assert_eq!(volume.shape(), [2, 2, 1]);
}

#[test]
fn a_header_naming_a_separate_image_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = nifti_bytes([2, 2, 1], 16);
    bytes[344..348].copy_from_slice(b"ni1\0");
    let path = dir.path().join("pair.nii");
    std::fs::write(&path, bytes).unwrap();
    let message = open_error(&path);
    assert!(
        message.contains("pair.nii") && message.contains("n+1"),
        "{message}"
    );
}
