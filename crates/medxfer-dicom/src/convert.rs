//! `medxfer convert`: DICOM / NIfTI files or folders to PNG, npz or a manifest of the DICOM
//! files themselves, plus a sidecar CSV of non-identifying metadata (`metadata.csv`) whose
//! columns `path,label,...,mask,patient_id` make it a data-crate CSV manifest.

use std::path::{Path, PathBuf};

use medxfer_events::{Reporter, Silent, TaskKind};

use crate::error::DicomError;
use crate::labels::LabelTable;
use crate::metadata::{ImageMetadata, METADATA_COLUMNS};
use crate::nifti_volume::{NiftiVolume, is_nifti_file, nifti_stem};
use crate::npz::{NpyF32, write_npz};
use crate::pixels::{DicomImage, FrameSelection, open_object};
use crate::png_out::{PngDepth, write_png};
use crate::pseudonym::Pseudonymizer;
use crate::training::{DecodedImage, decoded_frame};
use crate::window::{WindowSpec, apply_window, percentiles};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertFormat {
    /// Windowed PNG, one per frame / slice.
    Png(PngDepth),
    /// Modality values (after rescale), unwindowed, one `.npz` per input file.
    Npz,
    /// No image output: a manifest CSV pointing at the DICOM files themselves.
    Manifest,
}

/// Which frames of multi-frame DICOM files to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameChoice {
    All,
    One(u32),
}

#[derive(Debug, Clone)]
pub struct ConvertOptions {
    pub format: ConvertFormat,
    pub window: WindowSpec,
    pub frames: FrameChoice,
    /// NIfTI slicing axis (0, 1 or 2).
    pub nifti_axis: usize,
    /// A NIfTI file `<stem><suffix>.nii[.gz]` beside a volume is its label volume.
    pub mask_suffix: Option<String>,
    pub labels: Option<LabelTable>,
    pub pseudonyms: Pseudonymizer,
}

/// What a conversion did; `skipped` holds one error per input file that failed.
#[derive(Debug, Default)]
pub struct ConvertSummary {
    pub converted_files: usize,
    pub outputs: usize,
    pub unlabelled: usize,
    pub skipped: Vec<DicomError>,
    pub metadata_csv: PathBuf,
}

/// Name of the sidecar / manifest written into the output folder.
pub const SIDECAR_NAME: &str = "metadata.csv";

struct Row {
    path: String,
    label: String,
    frame: String,
    mask_path: String,
    metadata: ImageMetadata,
}

/// Converts every input (files, or folders searched recursively) into `out`.
/// For `ConvertFormat::Manifest`, `out` is the manifest CSV path; otherwise a folder.
pub fn convert(
    inputs: &[PathBuf],
    out: &Path,
    options: &ConvertOptions,
) -> Result<ConvertSummary, DicomError> {
    convert_reporting(inputs, out, options, &Silent)
}

/// [`convert`], reporting one task step per input file to `reporter` (large folders take
/// minutes, and the library must not print).
pub fn convert_reporting(
    inputs: &[PathBuf],
    out: &Path,
    options: &ConvertOptions,
    reporter: &dyn Reporter,
) -> Result<ConvertSummary, DicomError> {
    let files = collect_inputs(inputs, options.mask_suffix.as_deref())?;
    let (out_dir, csv_path) = match options.format {
        ConvertFormat::Manifest => (
            out.parent().unwrap_or(Path::new(".")).to_path_buf(),
            out.to_path_buf(),
        ),
        _ => (out.to_path_buf(), out.join(SIDECAR_NAME)),
    };
    let mut summary = ConvertSummary {
        metadata_csv: csv_path.clone(),
        ..ConvertSummary::default()
    };
    let mut rows = Vec::new();
    let task = reporter.task(
        format!("converting {} file(s)", files.len()),
        files.len(),
        TaskKind::Work,
    );
    for (file, relative) in &files {
        let result = if is_nifti_file(file) {
            convert_nifti(file, relative, &out_dir, options)
        } else {
            convert_dicom(file, relative, &out_dir, options)
        };
        match result {
            Ok(mut file_rows) => {
                summary.converted_files += 1;
                summary.outputs += file_rows.len();
                for row in &mut file_rows {
                    if options.labels.is_some() && row.label.is_empty() {
                        summary.unlabelled += 1;
                    }
                }
                rows.extend(file_rows);
            }
            Err(err) => summary.skipped.push(err),
        }
        task.step(None);
    }
    drop(task);
    write_rows(&csv_path, &rows)?;
    Ok(summary)
}

/// Files to convert with their output name stem (relative path inside a folder input).
fn collect_inputs(
    inputs: &[PathBuf],
    mask_suffix: Option<&str>,
) -> Result<Vec<(PathBuf, PathBuf)>, DicomError> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| DicomError::io(input, e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found).map_err(|e| DicomError::io(input, e))?;
            found.sort();
            for file in found {
                let relative = file.strip_prefix(input).unwrap_or(&file).to_path_buf();
                files.push((file, relative));
            }
        } else {
            let name = input.file_name().map(PathBuf::from).unwrap_or_default();
            files.push((input.clone(), name));
        }
    }
    // Label volumes are read with their image volume, not converted on their own.
    if let Some(suffix) = mask_suffix {
        files.retain(|(file, _)| !(is_nifti_file(file) && nifti_stem(file).ends_with(suffix)));
    }
    // Skip hidden files (e.g. .DS_Store) that PACS exports and OSes leave around.
    files.retain(|(file, _)| {
        !file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
    });
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Output stem: the relative path without its DICOM / NIfTI extension.
fn output_stem(out_dir: &Path, relative: &Path) -> PathBuf {
    let name = relative
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("image");
    let lower = name.to_ascii_lowercase();
    let stem = if is_nifti_file(relative) {
        nifti_stem(relative)
    } else if lower.ends_with(".dcm") || lower.ends_with(".dicom") {
        name[..name.rfind('.').unwrap_or(name.len())].to_string()
    } else {
        name.to_string()
    };
    out_dir.join(relative.with_file_name(stem))
}

fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Path written into the CSV: relative to the CSV's folder when inside it.
fn csv_path_of(path: &Path, csv_dir: &Path) -> String {
    let csv_dir = std::fs::canonicalize(csv_dir).unwrap_or_else(|_| csv_dir.to_path_buf());
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    full.strip_prefix(&csv_dir)
        .unwrap_or(&full)
        .to_string_lossy()
        .replace('\\', "/")
}

fn convert_dicom(
    file: &Path,
    relative: &Path,
    out_dir: &Path,
    options: &ConvertOptions,
) -> Result<Vec<Row>, DicomError> {
    let metadata_only = options.format == ConvertFormat::Manifest;
    let object = open_object(file, metadata_only)?;
    let metadata = ImageMetadata::from_object(
        &object,
        object.meta().transfer_syntax(),
        &options.pseudonyms,
    );
    let label = options
        .labels
        .as_ref()
        .and_then(|l| l.label_for(&metadata.sop_instance_uid, file))
        .unwrap_or("")
        .to_string();
    if metadata_only {
        // The scan stops before Pixel Data: an image has Rows; SR, RT plans etc. do not.
        if object.get(dicom_dictionary_std::tags::ROWS).is_none() {
            return Err(DicomError::NoPixelData { path: file.into() });
        }
        return Ok(vec![Row {
            path: csv_path_of(file, out_dir),
            label,
            frame: String::new(),
            mask_path: String::new(),
            metadata,
        }]);
    }
    let selection = match options.frames {
        FrameChoice::All => FrameSelection::All,
        FrameChoice::One(n) => FrameSelection::One(n),
    };
    let image = DicomImage::from_object(file, &object, selection)?;
    let stem = output_stem(out_dir, relative);
    let row = |path: &Path, frame: String| Row {
        path: csv_path_of(path, out_dir),
        label: label.clone(),
        frame,
        mask_path: String::new(),
        metadata: metadata.clone(),
    };
    match options.format {
        ConvertFormat::Png(depth) => {
            let mut rows = Vec::new();
            for held in 0..image.frames as usize {
                let file_frame = image.first_frame as usize + held;
                let path = if image.frames_in_file > 1 {
                    with_suffix(&stem, &format!("_f{file_frame:04}.png"))
                } else {
                    with_suffix(&stem, ".png")
                };
                write_png(&path, &decoded_frame(&image, held, &options.window), depth)?;
                rows.push(row(&path, file_frame.to_string()));
            }
            Ok(rows)
        }
        _ => {
            let path = with_suffix(&stem, ".npz");
            write_npz(&path, &[("pixels", &modality_array(&image))])?;
            Ok(vec![row(&path, String::new())])
        }
    }
}

/// Modality values (after Modality LUT / rescale) of all held frames; palette images as RGB.
/// Shape (frames, rows, cols[, channels]), or (rows, cols[, channels]) for one frame.
fn modality_array(image: &DicomImage) -> NpyF32 {
    let mut values = Vec::new();
    let mut channels = image.samples_per_pixel as usize;
    for frame in 0..image.frames as usize {
        if let Some(palette) = &image.palette {
            channels = 3;
            values.extend(
                crate::window::palette_rgb_frame(image, frame, palette)
                    .into_iter()
                    .map(f32::from),
            );
        } else {
            values.extend(image.modality_frame(frame).into_iter().map(|v| v as f32));
        }
    }
    let mut shape = Vec::new();
    if image.frames > 1 {
        shape.push(image.frames as usize);
    }
    shape.extend([image.rows as usize, image.cols as usize]);
    if channels > 1 {
        shape.push(channels);
    }
    NpyF32 { shape, values }
}

fn convert_nifti(
    file: &Path,
    relative: &Path,
    out_dir: &Path,
    options: &ConvertOptions,
) -> Result<Vec<Row>, DicomError> {
    let volume = NiftiVolume::open(file)?;
    let mask = match &options.mask_suffix {
        Some(suffix) => find_mask(file, suffix)
            .map(|m| NiftiVolume::open(&m))
            .transpose()?,
        None => None,
    };
    if let Some(mask) = &mask
        && mask.shape() != volume.shape()
    {
        return Err(DicomError::Nifti {
            path: file.into(),
            message: format!(
                "label volume shape {:?} differs from the image volume shape {:?}",
                mask.shape(),
                volume.shape()
            ),
        });
    }
    let label = options
        .labels
        .as_ref()
        .and_then(|l| l.label_for("", file))
        .unwrap_or("")
        .to_string();
    let stem = output_stem(out_dir, relative);
    let [nx, ny, nz] = volume.shape();
    let metadata = ImageMetadata {
        modality: "NIfTI".into(),
        frames: volume.slice_count(options.nifti_axis) as u32,
        ..ImageMetadata::default()
    };
    let row = |path: &Path, frame: String, mask_path: String| Row {
        path: csv_path_of(path, out_dir),
        label: label.clone(),
        frame,
        mask_path,
        metadata: metadata.clone(),
    };
    match options.format {
        ConvertFormat::Png(depth) => {
            let axis = options.nifti_axis.min(2);
            // One window for the whole volume, so slices stay comparable.
            let all: Vec<f64> = volume.data.iter().map(|&v| v as f64).collect();
            let (lo, hi) = match options.window {
                WindowSpec::MinMax => percentiles(&all, 0.0, 100.0),
                WindowSpec::Percentile { low, high } => percentiles(&all, low, high),
                _ => percentiles(&all, 0.5, 99.5),
            };
            let mut rows = Vec::new();
            for index in 0..volume.slice_count(axis) {
                let slice = volume.slice(axis, index);
                let values: Vec<f64> = slice.values.iter().map(|&v| v as f64).collect();
                let pixels = match options.window {
                    WindowSpec::Manual { center, width } => apply_window(
                        &values,
                        dicom_pixeldata::WindowLevel { center, width },
                        dicom_pixeldata::VoiLutFunction::Linear,
                    ),
                    _ => values
                        .iter()
                        .map(|&v| {
                            if hi > lo {
                                ((v - lo) / (hi - lo)).clamp(0.0, 1.0) as f32
                            } else {
                                0.0
                            }
                        })
                        .collect(),
                };
                let image = DecodedImage {
                    width: slice.width,
                    height: slice.height,
                    channels: 1,
                    pixels,
                };
                let path = with_suffix(&stem, &format!("_s{index:04}.png"));
                write_png(&path, &image, depth)?;
                let mut mask_path = String::new();
                if let Some(mask) = &mask {
                    let labels = mask.slice(axis, index);
                    let mask_image = DecodedImage {
                        width: labels.width,
                        height: labels.height,
                        channels: 1,
                        // Label values kept as integers 0..=255 in an 8-bit PNG.
                        pixels: labels
                            .values
                            .iter()
                            .map(|&v| v.round().clamp(0.0, 255.0) / 255.0)
                            .collect(),
                    };
                    let m = with_suffix(&stem, &format!("_s{index:04}_mask.png"));
                    write_png(&m, &mask_image, PngDepth::Eight)?;
                    mask_path = csv_path_of(&m, out_dir);
                }
                rows.push(row(&path, index.to_string(), mask_path));
            }
            Ok(rows)
        }
        ConvertFormat::Npz => {
            let path = with_suffix(&stem, ".npz");
            let pixels = NpyF32 {
                shape: vec![nx, ny, nz],
                values: volume.data.iter().copied().collect(),
            };
            let mut arrays = vec![("pixels", &pixels)];
            let mask_array;
            if let Some(mask) = &mask {
                mask_array = NpyF32 {
                    shape: vec![nx, ny, nz],
                    values: mask.data.iter().copied().collect(),
                };
                arrays.push(("mask", &mask_array));
            }
            write_npz(&path, &arrays)?;
            Ok(vec![row(&path, String::new(), String::new())])
        }
        ConvertFormat::Manifest => Ok(vec![row(file, String::new(), String::new())]),
    }
}

/// The label volume `<stem><suffix>.nii[.gz]` beside `file`, if it exists.
fn find_mask(file: &Path, suffix: &str) -> Option<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let stem = nifti_stem(file);
    [".nii.gz", ".nii"]
        .iter()
        .map(|ext| dir.join(format!("{stem}{suffix}{ext}")))
        .find(|p| p.is_file())
}

fn write_rows(path: &Path, rows: &[Row]) -> Result<(), DicomError> {
    let fail = |e: csv::Error| DicomError::Write {
        path: path.into(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["path", "label", "frame", "mask"];
    header.extend_from_slice(METADATA_COLUMNS);
    writer.write_record(&header).map_err(fail)?;
    for row in rows {
        let mut record = vec![
            row.path.clone(),
            row.label.clone(),
            row.frame.clone(),
            row.mask_path.clone(),
        ];
        record.extend(row.metadata.values());
        writer.write_record(&record).map_err(fail)?;
    }
    let bytes = writer.into_inner().map_err(|e| DicomError::Write {
        path: path.into(),
        message: e.to_string(),
    })?;
    crate::atomic_write::write_atomically(path, |w| w.write_all(&bytes).map_err(|e| e.to_string()))
}
