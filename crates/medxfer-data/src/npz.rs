//! MedMNIST-style `.npz` datasets: `{train,val,test}_images` (N x H x W or N x H x W x C, uint8)
//! and `{train,val,test}_labels` ((N,) or (N, 1)). The npz split becomes `Sample.split`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageSource, Sample, SplitName};
use crate::decode::LumaImage;
use crate::error::DataError;
use crate::npy::{self, NpyDtype, NpyHeader};

const SPLITS: [SplitName; 3] = [SplitName::Train, SplitName::Val, SplitName::Test];
/// Without a configured class list the classes are `"0"..="max label"`: a corrupt label must
/// not turn into billions of class names.
const MAX_IMPLICIT_CLASSES: usize = 1 << 16;

type Archive = zip::ZipArchive<BufReader<File>>;

fn npz_error(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Npz {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn open_archive(path: &Path) -> Result<Archive, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| npz_error(path, format!("not a readable .npz (zip) file: {e}")))
}

fn member_name(key: &str) -> String {
    format!("{key}.npy")
}

fn has_member(archive: &Archive, key: &str) -> bool {
    archive.index_for_name(&member_name(key)).is_some()
}

fn read_member_header(
    archive: &mut Archive,
    path: &Path,
    key: &str,
) -> Result<NpyHeader, DataError> {
    let mut member = archive
        .by_name(&member_name(key))
        .map_err(|e| npz_error(path, format!("array '{key}': {e}")))?;
    npy::read_header(&mut member).map_err(|e| npz_error(path, format!("array '{key}': {e}")))
}

fn read_member(archive: &mut Archive, path: &Path, key: &str) -> Result<npy::NpyArray, DataError> {
    let mut member = archive
        .by_name(&member_name(key))
        .map_err(|e| npz_error(path, format!("array '{key}': {e}")))?;
    npy::read_array(&mut member).map_err(|e| npz_error(path, format!("array '{key}': {e}")))
}

/// Image geometry from an images array header: (count, height, width, channels).
fn image_geometry(
    path: &Path,
    key: &str,
    header: &NpyHeader,
) -> Result<(usize, usize, usize, usize), DataError> {
    if header.dtype != NpyDtype::U8 {
        return Err(npz_error(
            path,
            format!("array '{key}' must be uint8, found {:?}", header.dtype),
        ));
    }
    match header.shape[..] {
        [n, h, w] => Ok((n, h, w, 1)),
        [n, h, w, c] if c == 1 || c == 3 => Ok((n, h, w, c)),
        _ => Err(npz_error(
            path,
            format!(
                "array '{key}' has shape {:?}; expected N x H x W or N x H x W x 1|3",
                header.shape
            ),
        )),
    }
}

/// Label `value` (element `index` of `labels_key`) as a class index, checked against the
/// configured classes or, without them, against `MAX_IMPLICIT_CLASSES`.
fn label_index(
    path: &Path,
    labels_key: &str,
    index: usize,
    value: i64,
    classes: Option<&[String]>,
) -> Result<usize, DataError> {
    let fail = |message: String| {
        Err(npz_error(
            path,
            format!("array '{labels_key}'[{index}] = {value} {message}"),
        ))
    };
    let Ok(label) = usize::try_from(value) else {
        return fail("is not a class index".into());
    };
    match classes {
        Some(names) if label >= names.len() => {
            fail(format!("but only {} classes are configured", names.len()))
        }
        None if label >= MAX_IMPLICIT_CLASSES => fail(format!(
            "is above {}, the largest class index accepted without a configured class list",
            MAX_IMPLICIT_CLASSES - 1
        )),
        _ => Ok(label),
    }
}

pub(crate) fn load_npz(path: &Path, classes: Option<&[String]>) -> Result<Dataset, DataError> {
    let mut archive = open_archive(path)?;
    let mut samples = Vec::new();
    let mut max_label = 0usize;
    let mut found_any = false;
    for split in SPLITS {
        let images_key = format!("{split}_images");
        let labels_key = format!("{split}_labels");
        if !has_member(&archive, &images_key) {
            continue;
        }
        found_any = true;
        if !has_member(&archive, &labels_key) {
            return Err(npz_error(
                path,
                format!("has '{images_key}' but no '{labels_key}'"),
            ));
        }
        let header = read_member_header(&mut archive, path, &images_key)?;
        let (count, ..) = image_geometry(path, &images_key, &header)?;
        let labels = read_member(&mut archive, path, &labels_key)?;
        let shape = &labels.header.shape;
        let shape_ok = matches!(shape[..], [n] | [n, 1] if n == count);
        if !shape_ok {
            return Err(npz_error(
                path,
                format!(
                    "array '{labels_key}' has shape {shape:?}; expected ({count},) or ({count}, 1) to match '{images_key}'"
                ),
            ));
        }
        let values = labels
            .to_i64()
            .map_err(|e| npz_error(path, format!("array '{labels_key}': {e}")))?;
        for (index, value) in values.into_iter().enumerate() {
            let label = label_index(path, &labels_key, index, value, classes)?;
            max_label = max_label.max(label);
            samples.push(Sample {
                id: format!("{split}/{index}"),
                path: path.to_path_buf(),
                source: ImageSource::Npz {
                    file: path.to_path_buf(),
                    key: images_key.clone(),
                    index,
                },
                label,
                patient_id: None,
                center: None,
                origin: None,
                split: Some(split),
                mask_paths: Vec::new(),
                metadata: BTreeMap::new(),
            });
        }
    }
    if !found_any {
        return Err(npz_error(
            path,
            "contains none of train_images, val_images, test_images",
        ));
    }
    let class_names = match classes {
        Some(names) => names.to_vec(),
        None => (0..=max_label).map(|l| l.to_string()).collect(),
    };
    Ok(Dataset {
        class_names,
        samples,
    })
}

/// One images array held in memory, for the image cache.
#[derive(Debug, Clone)]
pub struct NpzImages {
    pub file: PathBuf,
    pub key: String,
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub bytes: Vec<u8>,
}

impl NpzImages {
    pub fn read(file: &Path, key: &str) -> Result<NpzImages, DataError> {
        let mut archive = open_archive(file)?;
        let array = read_member(&mut archive, file, key)?;
        let (count, height, width, channels) = image_geometry(file, key, &array.header)?;
        Ok(NpzImages {
            file: file.to_path_buf(),
            key: key.to_string(),
            count,
            height,
            width,
            channels,
            bytes: array.bytes,
        })
    }

    /// The raw uint8 bytes of image `index` (H x W x C).
    pub fn raw(&self, index: usize) -> Result<&[u8], DataError> {
        if index >= self.count {
            return Err(npz_error(
                &self.file,
                format!(
                    "index {index} out of range for '{}' ({} images)",
                    self.key, self.count
                ),
            ));
        }
        let len = self.height * self.width * self.channels;
        Ok(&self.bytes[index * len..(index + 1) * len])
    }

    pub fn luma(&self, index: usize) -> Result<LumaImage, DataError> {
        let raw = self.raw(index)?;
        let pixels = if self.channels == 3 {
            let rgb =
                image::RgbImage::from_raw(self.width as u32, self.height as u32, raw.to_vec())
                    .ok_or_else(|| npz_error(&self.file, "image buffer size mismatch"))?;
            return Ok(crate::decode::to_luma(image::DynamicImage::ImageRgb8(rgb)));
        } else {
            raw.iter().map(|&v| v as f32 / 255.0).collect()
        };
        Ok(LumaImage {
            width: self.width as u32,
            height: self.height as u32,
            pixels,
        })
    }
}
