//! Decode every image once (in parallel), keep the preprocessed pixels in memory, and
//! optionally persist them as one binary file keyed by the content of the inputs and the
//! preprocessing spec, so later runs skip decoding entirely.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::dataset::{Dataset, ImageSource, Sample};
use crate::decode::{LumaImage, decode_luma_bytes};
use crate::error::DataError;
use crate::npz::NpzImages;
use crate::preprocess::{PreparedImage, PreparedMask, PreprocessSpec, prepare_image, prepare_mask};

const MAGIC: &[u8; 8] = b"MXIMGC01";

pub type Sha256Digest = [u8; 32];

pub struct ImageCache {
    spec: PreprocessSpec,
    images: Vec<PreparedImage>,
    masks: Vec<Option<PreparedMask>>,
    /// sha256 of the original-resolution luma pixels (exact-duplicate detection).
    pixel_hashes: Vec<Sha256Digest>,
    /// Where the cache was loaded from or saved to, if persisted.
    cache_file: Option<PathBuf>,
    loaded_from_disk: bool,
}

/// Everything computed for one sample.
struct Entry {
    image: PreparedImage,
    mask: Option<PreparedMask>,
    pixel_hash: Sha256Digest,
}

impl ImageCache {
    /// Decodes and preprocesses every sample of `dataset` (in parallel). With `cache_dir`,
    /// reuses a previous result for the same inputs and spec, or saves this one.
    pub fn build(
        dataset: &Dataset,
        spec: &PreprocessSpec,
        cache_dir: Option<&Path>,
    ) -> Result<ImageCache, DataError> {
        validate_spec(spec)?;
        let npz_arrays = load_npz_arrays(dataset)?;
        let Some(cache_dir) = cache_dir else {
            let entries = decode_all(dataset, spec, &npz_arrays)?;
            return Ok(Self::from_entries(*spec, entries, None, false));
        };

        let content_hashes: Vec<Sha256Digest> = dataset
            .samples
            .par_iter()
            .map(|sample| content_hash(sample, &npz_arrays))
            .collect::<Result<_, _>>()?;
        let key = cache_key(spec, &content_hashes);
        let cache_file = cache_dir.join(format!("images-{key}.mxcache"));
        if cache_file.is_file()
            && let Ok(entries) = read_cache_file(&cache_file, spec, dataset.len())
        {
            return Ok(Self::from_entries(*spec, entries, Some(cache_file), true));
        }
        let entries = decode_all(dataset, spec, &npz_arrays)?;
        std::fs::create_dir_all(cache_dir).map_err(|e| DataError::io(cache_dir, e))?;
        write_cache_file(&cache_file, spec, &entries)?;
        Ok(Self::from_entries(*spec, entries, Some(cache_file), false))
    }

    /// A cache over images prepared elsewhere (no masks; pixel hashes of the given pixels).
    pub fn from_images(spec: PreprocessSpec, images: Vec<PreparedImage>) -> ImageCache {
        let entries = images
            .into_iter()
            .map(|image| Entry {
                pixel_hash: luma_hash(&LumaImage {
                    width: image.size,
                    height: image.size,
                    pixels: image.pixels.clone(),
                }),
                image,
                mask: None,
            })
            .collect();
        Self::from_entries(spec, entries, None, false)
    }

    fn from_entries(
        spec: PreprocessSpec,
        entries: Vec<Entry>,
        cache_file: Option<PathBuf>,
        loaded_from_disk: bool,
    ) -> ImageCache {
        let mut images = Vec::with_capacity(entries.len());
        let mut masks = Vec::with_capacity(entries.len());
        let mut pixel_hashes = Vec::with_capacity(entries.len());
        for entry in entries {
            images.push(entry.image);
            masks.push(entry.mask);
            pixel_hashes.push(entry.pixel_hash);
        }
        ImageCache {
            spec,
            images,
            masks,
            pixel_hashes,
            cache_file,
            loaded_from_disk,
        }
    }

    /// The preprocessed image of sample `index` (panics when out of range, like slice indexing).
    pub fn get(&self, index: usize) -> &PreparedImage {
        &self.images[index]
    }

    pub fn mask(&self, index: usize) -> Option<&PreparedMask> {
        self.masks[index].as_ref()
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    pub fn spec(&self) -> &PreprocessSpec {
        &self.spec
    }

    pub fn pixel_hash(&self, index: usize) -> &Sha256Digest {
        &self.pixel_hashes[index]
    }

    pub fn cache_file(&self) -> Option<&Path> {
        self.cache_file.as_deref()
    }

    /// True when this cache was read from a file written by an earlier run.
    pub fn loaded_from_disk(&self) -> bool {
        self.loaded_from_disk
    }
}

fn validate_spec(spec: &PreprocessSpec) -> Result<(), DataError> {
    if spec.size == 0 || spec.size > 4096 {
        return Err(DataError::Config(format!(
            "image size {} must be between 1 and 4096",
            spec.size
        )));
    }
    if spec.channels != 1 && spec.channels != 3 {
        return Err(DataError::Config(format!(
            "channels must be 1 or 3, not {}",
            spec.channels
        )));
    }
    Ok(())
}

pub(crate) type NpzArrays = HashMap<(PathBuf, String), NpzImages>;

pub(crate) fn load_npz_arrays(dataset: &Dataset) -> Result<NpzArrays, DataError> {
    let mut arrays = NpzArrays::new();
    for sample in &dataset.samples {
        if let ImageSource::Npz { file, key, .. } = &sample.source
            && let std::collections::hash_map::Entry::Vacant(slot) =
                arrays.entry((file.clone(), key.clone()))
        {
            slot.insert(NpzImages::read(file, key)?);
        }
    }
    Ok(arrays)
}

fn npz_images<'a>(
    arrays: &'a NpzArrays,
    file: &Path,
    key: &str,
) -> Result<&'a NpzImages, DataError> {
    arrays
        .get(&(file.to_path_buf(), key.to_string()))
        .ok_or_else(|| DataError::Npz {
            path: file.to_path_buf(),
            message: format!("array '{key}' was not loaded"),
        })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// sha256 over the bytes that determine the sample's pixels (image file and mask files).
pub(crate) fn content_hash(
    sample: &Sample,
    npz_arrays: &NpzArrays,
) -> Result<Sha256Digest, DataError> {
    let mut hasher = Sha256::new();
    match &sample.source {
        ImageSource::File(path) => {
            hasher.update(b"file");
            hasher.update(sha256(&read_bytes(path)?));
        }
        ImageSource::Npz { file, key, index } => {
            let images = npz_images(npz_arrays, file, key)?;
            hasher.update(b"npz");
            for dim in [images.height, images.width, images.channels] {
                hasher.update((dim as u64).to_le_bytes());
            }
            hasher.update(images.raw(*index)?);
        }
    }
    for mask in &sample.mask_paths {
        hasher.update(b"mask");
        hasher.update(sha256(&read_bytes(mask)?));
    }
    Ok(hasher.finalize().into())
}

pub(crate) fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256::digest(bytes).into()
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn cache_key(spec: &PreprocessSpec, content_hashes: &[Sha256Digest]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(spec.cache_key_text().as_bytes());
    hasher.update((content_hashes.len() as u64).to_le_bytes());
    for hash in content_hashes {
        hasher.update(hash);
    }
    hex(&hasher.finalize())
}

/// The little-endian bytes of `values` (zero-copy on little-endian machines).
fn f32_bytes(values: &[f32]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        std::borrow::Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        std::borrow::Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

/// sha256 of decoded luma pixels with their dimensions.
pub(crate) fn luma_hash(image: &LumaImage) -> Sha256Digest {
    let mut hasher = Sha256::new();
    hasher.update(image.width.to_le_bytes());
    hasher.update(image.height.to_le_bytes());
    hasher.update(f32_bytes(&image.pixels));
    hasher.finalize().into()
}

/// Decodes the original image of a sample to luma (no resizing).
pub(crate) fn decode_sample(
    sample: &Sample,
    npz_arrays: &NpzArrays,
) -> Result<LumaImage, DataError> {
    match &sample.source {
        ImageSource::File(path) => decode_luma_bytes(path, &read_bytes(path)?),
        ImageSource::Npz { file, key, index } => npz_images(npz_arrays, file, key)?.luma(*index),
    }
}

fn decode_entry(
    sample: &Sample,
    spec: &PreprocessSpec,
    npz_arrays: &NpzArrays,
) -> Result<Entry, DataError> {
    let luma = decode_sample(sample, npz_arrays)?;
    let mut mask_images = Vec::with_capacity(sample.mask_paths.len());
    for mask_path in &sample.mask_paths {
        let mask = decode_luma_bytes(mask_path, &read_bytes(mask_path)?)?;
        if (mask.width, mask.height) != (luma.width, luma.height) {
            return Err(DataError::MaskSizeMismatch {
                path: mask_path.clone(),
                mask_width: mask.width,
                mask_height: mask.height,
                image_width: luma.width,
                image_height: luma.height,
            });
        }
        mask_images.push(mask);
    }
    Ok(Entry {
        image: prepare_image(&luma, spec),
        mask: prepare_mask(&mask_images, spec),
        pixel_hash: luma_hash(&luma),
    })
}

fn decode_all(
    dataset: &Dataset,
    spec: &PreprocessSpec,
    npz_arrays: &NpzArrays,
) -> Result<Vec<Entry>, DataError> {
    dataset
        .samples
        .par_iter()
        .map(|sample| decode_entry(sample, spec, npz_arrays))
        .collect()
}

fn write_cache_file(
    path: &Path,
    spec: &PreprocessSpec,
    entries: &[Entry],
) -> Result<(), DataError> {
    let pixels_per_image = (spec.size * spec.size) as usize;
    let mut bytes = Vec::with_capacity(24 + entries.len() * (33 + pixels_per_image * 5));
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&spec.size.to_le_bytes());
    bytes.extend_from_slice(&[spec.channels, 0, 0, 0]);
    bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for entry in entries {
        bytes.extend_from_slice(&entry.pixel_hash);
        bytes.extend_from_slice(&f32_bytes(&entry.image.pixels));
        match &entry.mask {
            Some(mask) => {
                bytes.push(1);
                bytes.extend_from_slice(&mask.pixels);
            }
            None => bytes.push(0),
        }
    }
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` atomically (see `medxfer_atomic`).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    medxfer_atomic::write_atomic(path, bytes).map_err(|e| DataError::io(path, e))
}

fn read_cache_file(
    path: &Path,
    spec: &PreprocessSpec,
    expected_count: usize,
) -> Result<Vec<Entry>, DataError> {
    let bytes = read_bytes(path)?;
    let corrupt = |message: &str| DataError::Cache {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let mut reader = ByteReader {
        bytes: &bytes,
        at: 0,
    };
    if reader.take(8).ok_or_else(|| corrupt("truncated"))? != MAGIC {
        return Err(corrupt("not a medxfer image cache"));
    }
    let size = reader.u32().ok_or_else(|| corrupt("truncated"))?;
    let channels = reader.take(4).ok_or_else(|| corrupt("truncated"))?[0];
    let count = reader.u64().ok_or_else(|| corrupt("truncated"))? as usize;
    if size != spec.size || channels != spec.channels || count != expected_count {
        return Err(corrupt("cache was written for another spec or dataset"));
    }
    let pixels_per_image = (size * size) as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let pixel_hash: Sha256Digest = reader
            .take(32)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| corrupt("truncated"))?;
        let mut pixels = vec![0.0f32; pixels_per_image];
        bytemuck::cast_slice_mut::<f32, u8>(&mut pixels).copy_from_slice(
            reader
                .take(pixels_per_image * 4)
                .ok_or_else(|| corrupt("truncated"))?,
        );
        if cfg!(target_endian = "big") {
            for v in &mut pixels {
                *v = f32::from_bits(v.to_bits().swap_bytes());
            }
        }
        let has_mask = reader.take(1).ok_or_else(|| corrupt("truncated"))?[0];
        let mask = match has_mask {
            0 => None,
            1 => Some(PreparedMask {
                size,
                pixels: reader
                    .take(pixels_per_image)
                    .ok_or_else(|| corrupt("truncated"))?
                    .to_vec(),
            }),
            _ => return Err(corrupt("bad mask flag")),
        };
        entries.push(Entry {
            image: PreparedImage { size, pixels },
            mask,
            pixel_hash,
        });
    }
    if reader.at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(entries)
}

struct ByteReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ByteReader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}
