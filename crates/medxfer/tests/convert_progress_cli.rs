//! `medxfer convert` reports its progress on stderr (one step per file): with stderr not a
//! terminal, a plain summary line of the conversion task, and stdout stays the result line.

use std::path::Path;
use std::process::{Command, Output};

// Only the DICOM writer is used here; the other helpers serve other test files.
#[allow(dead_code)]
mod support;
use support::tiny_dicom;

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
        std::fs::write(
            input.join(format!("series/im{k}.dcm")),
            tiny_dicom(6, 5, "CT", None),
        )
        .unwrap();
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
