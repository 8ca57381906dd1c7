//! Reading binary segmentation masks from PNG files (8- or 16-bit, gray or colour): a pixel is
//! foreground when any channel is non-zero. Shape is [rows, columns].

use std::path::{Path, PathBuf};

use crate::EvalError;
use crate::segmentation::{
    SegmentationMetrics, SegmentationSummary, segmentation_metrics, summarize,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub shape: [usize; 2],
    pub data: Vec<bool>,
}

pub fn read_mask_png(path: &Path) -> Result<Mask, EvalError> {
    let image = image::ImageReader::open(path)
        .map_err(|e| EvalError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| EvalError::io(path, e))?
        .decode()
        .map_err(|e| EvalError::bad_file(path, format!("cannot decode the mask image: {e}")))?;
    let rgba = image.to_rgba16();
    let (width, height) = rgba.dimensions();
    let data = rgba
        .pixels()
        .map(|p| p.0[..3].iter().any(|&c| c != 0))
        .collect();
    Ok(Mask {
        shape: [height as usize, width as usize],
        data,
    })
}

/// Metrics of one predicted mask file against one truth mask file.
pub fn compare_mask_files(
    pred: &Path,
    truth: &Path,
    spacing: [f64; 2],
) -> Result<SegmentationMetrics, EvalError> {
    let p = read_mask_png(pred)?;
    let t = read_mask_png(truth)?;
    if p.shape != t.shape {
        return Err(EvalError::bad_file(
            pred,
            format!(
                "mask is {}x{} but the truth {} is {}x{}",
                p.shape[0],
                p.shape[1],
                truth.display(),
                t.shape[0],
                t.shape[1]
            ),
        ));
    }
    segmentation_metrics(&p.data, &t.data, &p.shape, &spacing)
        .map_err(|e| EvalError::bad_file(pred, e.to_string()))
}

/// Per-image metrics for every `*.png` in `pred_dir` that has a namesake in `truth_dir`, and
/// their summary. A prediction without a truth file is an error naming it.
pub fn compare_mask_folders(
    pred_dir: &Path,
    truth_dir: &Path,
    spacing: [f64; 2],
) -> Result<(Vec<(PathBuf, SegmentationMetrics)>, SegmentationSummary), EvalError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pred_dir)
        .map_err(|e| EvalError::io(pred_dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(EvalError::bad_file(
            pred_dir,
            "no .png masks in this folder",
        ));
    }
    let mut per_image = Vec::with_capacity(files.len());
    for pred in files {
        let Some(name) = pred.file_name() else {
            continue;
        };
        let truth = truth_dir.join(name);
        if !truth.exists() {
            return Err(EvalError::bad_file(
                &pred,
                format!("no truth mask {}", truth.display()),
            ));
        }
        let metrics = compare_mask_files(&pred, &truth, spacing)?;
        per_image.push((pred, metrics));
    }
    let metrics: Vec<SegmentationMetrics> = per_image.iter().map(|(_, m)| *m).collect();
    let summary = summarize(&metrics)?;
    Ok((per_image, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(path: &Path, width: u32, height: u32, on: impl Fn(u32, u32) -> bool) {
        let img = image::GrayImage::from_fn(width, height, |x, y| {
            image::Luma([if on(x, y) { 255 } else { 0 }])
        });
        img.save(path).unwrap();
    }

    #[test]
    fn folder_comparison_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (pred_dir, truth_dir) = (dir.path().join("pred"), dir.path().join("truth"));
        std::fs::create_dir_all(&pred_dir).unwrap();
        std::fs::create_dir_all(&truth_dir).unwrap();
        save(&truth_dir.join("a.png"), 10, 8, |x, y| {
            (2..6).contains(&x) && (2..6).contains(&y)
        });
        save(&pred_dir.join("a.png"), 10, 8, |x, y| {
            (3..7).contains(&x) && (2..6).contains(&y)
        });
        save(&truth_dir.join("b.png"), 10, 8, |_, _| false);
        save(&pred_dir.join("b.png"), 10, 8, |_, _| false);
        let (per_image, summary) = compare_mask_folders(&pred_dir, &truth_dir, [1.0, 1.0]).unwrap();
        assert_eq!(per_image.len(), 2);
        assert!((per_image[0].1.dice - 0.75).abs() < 1e-15);
        assert_eq!(per_image[0].1.hausdorff, 1.0);
        assert_eq!(per_image[1].1.dice, 1.0);
        assert!((summary.mean.dice - 0.875).abs() < 1e-15);
        save(&pred_dir.join("c.png"), 10, 8, |_, _| true);
        let msg = compare_mask_folders(&pred_dir, &truth_dir, [1.0, 1.0])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("c.png") && msg.contains("no truth mask"),
            "{msg}"
        );
        save(&truth_dir.join("c.png"), 9, 8, |_, _| true);
        let msg = compare_mask_folders(&pred_dir, &truth_dir, [1.0, 1.0])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("8x10") && msg.contains("8x9"), "{msg}");
        std::fs::write(pred_dir.join("d.png"), b"not a png").unwrap();
        let msg = read_mask_png(&pred_dir.join("d.png"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("d.png") && msg.contains("decode"), "{msg}");
    }
}
