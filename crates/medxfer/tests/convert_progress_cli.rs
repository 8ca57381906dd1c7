//! `medxfer convert` reports its progress on stderr (one step per file): with stderr not a
//! terminal, a plain summary line of the conversion task, and stdout stays the result line.

use std::path::Path;
use std::process::{Command, Output};

/// One Explicit VR Little Endian element; values padded to even length.
fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
    }
    let mut out = [group.to_le_bytes(), elem.to_le_bytes()].concat();
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend([0, 0]);
        out.extend((value.len() as u32).to_le_bytes());
    } else {
        out.extend((value.len() as u16).to_le_bytes());
    }
    out.extend(value);
    out
}

/// A `rows` x `cols` 8-bit MONOCHROME2 CT image with Patient's Name `Doe^John`, written
/// byte by byte (the workspace has no DICOM writer).
fn tiny_dicom(rows: u16, cols: u16) -> Vec<u8> {
    let syntax = b"1.2.840.10008.1.2.1";
    let class = b"1.2.840.10008.5.1.4.1.1.2";
    let instance = b"1.2.826.0.1.3680043.9.7777.3.1";
    let meta = [
        element(0x0002, 0x0001, b"OB", &[0, 1]),
        element(0x0002, 0x0002, b"UI", class),
        element(0x0002, 0x0003, b"UI", instance),
        element(0x0002, 0x0010, b"UI", syntax),
    ]
    .concat();
    let mut bytes = vec![0u8; 128];
    bytes.extend(b"DICM");
    let meta_length = (meta.len() as u32).to_le_bytes();
    bytes.extend(element(0x0002, 0x0000, b"UL", &meta_length));
    bytes.extend(meta);
    let us = |v: u16| v.to_le_bytes();
    for part in [
        element(0x0008, 0x0016, b"UI", class),
        element(0x0008, 0x0018, b"UI", instance),
        element(0x0008, 0x0060, b"CS", b"CT"),
        element(0x0010, 0x0010, b"PN", b"Doe^John"),
        element(0x0028, 0x0002, b"US", &us(1)),
        element(0x0028, 0x0004, b"CS", b"MONOCHROME2"),
        element(0x0028, 0x0010, b"US", &us(rows)),
        element(0x0028, 0x0011, b"US", &us(cols)),
        element(0x0028, 0x0100, b"US", &us(8)),
        element(0x0028, 0x0101, b"US", &us(8)),
        element(0x0028, 0x0102, b"US", &us(7)),
        element(0x0028, 0x0103, b"US", &us(0)),
    ] {
        bytes.extend(part);
    }
    let pixels: Vec<u8> = (0..rows as usize * cols as usize)
        .map(|i| (i * 7) as u8)
        .collect();
    bytes.extend(element(0x7FE0, 0x0010, b"OB", &pixels));
    bytes
}

/// A single-file NIfTI-1 volume of `nx` x `ny` x `nz` unsigned bytes.
fn tiny_nifti(nx: i16, ny: i16, nz: i16) -> Vec<u8> {
    let mut header = vec![0u8; 348];
    let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    for (k, d) in [3, nx, ny, nz, 1, 1, 1, 1].iter().enumerate() {
        put(40 + 2 * k, &d.to_le_bytes());
    }
    put(70, &2i16.to_le_bytes()); // datatype: unsigned char
    put(72, &8i16.to_le_bytes()); // bits per voxel
    for k in 0..8 {
        put(76 + 4 * k, &1f32.to_le_bytes());
    }
    put(108, &352f32.to_le_bytes()); // data after the header and 4 extension bytes
    put(112, &1f32.to_le_bytes()); // scale slope
    put(344, b"n+1\0");
    let voxels = (nx as usize) * (ny as usize) * (nz as usize);
    header.extend([0u8; 4]);
    header.extend((0..voxels).map(|i| (i * 11) as u8));
    header
}

fn convert(input: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medxfer"))
        .arg("convert")
        .arg(input)
        .args(["--to", "png", "--salt", "progress-test", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run medxfer")
}

#[test]
fn converting_a_folder_reports_one_step_per_file_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("series")).unwrap();
    for k in 0..3 {
        std::fs::write(input.join(format!("series/im{k}.dcm")), tiny_dicom(6, 5)).unwrap();
    }
    std::fs::write(input.join("volume.nii"), tiny_nifti(4, 3, 2)).unwrap();

    for (name, extra) in [("plain", &[][..]), ("no-progress", &["--no-progress"][..])] {
        let out_dir = dir.path().join(name);
        let out = convert(&input, &out_dir, extra);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{name}: {stderr}");
        // Three DICOM images and the volume's two slices.
        let expected = format!(
            "converted 4 file(s) into 5 output row(s); skipped 0; wrote {}\n",
            out_dir.join("metadata.csv").display()
        );
        assert_eq!(stdout, expected, "{name}: stdout is the result only");
        let summary: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("converting 4 file(s): 4 step(s) in ") && l.ends_with('s'))
            .collect();
        assert_eq!(summary.len(), 1, "{name}: {stderr}");
        assert!(
            !stderr.contains('\r'),
            "{name}: a bar was drawn into a log: {stderr:?}"
        );
        assert!(out_dir.join("series/im2.png").is_file());
        assert!(out_dir.join("volume_s0001.png").is_file());
    }
}
