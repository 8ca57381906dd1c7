//! Helpers shared by the CLI test files: the binary, a toy two-class image folder, and
//! success assertions that show the command's output.

use std::path::Path;
use std::process::{Command, Output};

pub fn medxfer() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_medxfer"));
    // Rayon reductions are deterministic for a fixed thread count; pin it for the comparison.
    cmd.env("RAYON_NUM_THREADS", "2");
    cmd
}

/// Two classes a tiny CNN can separate: bright disc on the left vs on the right, with noise.
#[allow(dead_code)]
pub fn write_toy_dataset(root: &Path, per_class: usize) {
    for (class, left) in [("left", true), ("right", false)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let mut img = image::GrayImage::new(40, 32);
            let cx = if left { 10.0 } else { 30.0 };
            let mut state = (i as u32 + 1) * if left { 7919 } else { 104_729 };
            for (x, y, p) in img.enumerate_pixels_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 24) as f32 / 8.0;
                let d = ((x as f32 - cx).powi(2) + (y as f32 - 16.0).powi(2)).sqrt();
                let v = if d < 7.0 { 200.0 } else { 40.0 } + noise;
                p.0 = [v.min(255.0) as u8];
            }
            img.save(dir.join(format!("{class} ({i}).png"))).unwrap();
        }
    }
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "medxfer failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The command failed with exactly one `error:` line, the last one (progress lines before it
/// are allowed), and no panic; returns that line.
#[allow(dead_code)]
pub fn one_line_error(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, got:\n{stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{stderr}");
    errors[0].to_string()
}

/// Two classes of 40 x 32 images, a bright disc left or right, with its mask beside it as
/// `NAME_mask.png` (the BUSI layout).
#[allow(dead_code)]
pub fn write_toy_segmentation_dataset(root: &Path, per_class: usize) {
    for (class, cx) in [("left", 10.0f32), ("right", 30.0)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let radius = 5.0 + (i % 3) as f32;
            let mut img = image::GrayImage::new(40, 32);
            let mut mask = image::GrayImage::new(40, 32);
            let mut state = (i as u32 + 1) * 7919 + cx as u32;
            for (x, y, p) in img.enumerate_pixels_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let inside = ((x as f32 - cx).powi(2) + (y as f32 - 16.0).powi(2)).sqrt() < radius;
                p.0 = [if inside { 190 } else { 50 } + (state >> 27) as u8];
                mask.put_pixel(x, y, image::Luma([if inside { 255 } else { 0 }]));
            }
            img.save(dir.join(format!("{class} ({i}).png"))).unwrap();
            mask.save(dir.join(format!("{class} ({i})_mask.png")))
                .unwrap();
        }
    }
}
