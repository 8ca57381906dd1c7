//! NIfTI volumes (`.nii`, `.nii.gz`) as 2-D slices along a chosen axis, with an optional
//! label volume of the same grid giving one mask per slice.

use std::path::Path;

use ndarray::{ArrayD, Axis, Ix3};
use std::io::Read as _;

use nifti::{IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};

use crate::error::DicomError;

/// A 3-D volume of values after the NIfTI scaling (scl_slope / scl_inter); 4-D and higher
/// volumes keep their first 3-D volume.
#[derive(Debug, Clone)]
pub struct NiftiVolume {
    pub data: ndarray::Array3<f32>,
}

/// One slice: `width x height` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub width: u32,
    pub height: u32,
    pub values: Vec<f32>,
}

/// Whether the path names a NIfTI file by its extension.
pub fn is_nifti_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

/// The file name without `.nii` / `.nii.gz`.
pub fn nifti_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("volume");
    let lower = name.to_ascii_lowercase();
    let cut = if lower.ends_with(".nii.gz") {
        7
    } else if lower.ends_with(".nii") {
        4
    } else {
        0
    };
    name[..name.len() - cut].to_string()
}

/// Largest voxel data (with the header) read into memory: 1 GiB, over three times a
/// 512 x 512 x 600 CT at 16 bits.
const MAX_VOLUME_BYTES: u64 = 1 << 30;

/// The bytes the header's dimensions and data type need, from the start of the file.
fn declared_bytes(header: &NiftiHeader) -> Option<u64> {
    let ndim = usize::from(header.dim[0]).clamp(1, 7);
    let voxels = header.dim[1..=ndim]
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d.max(1))))?;
    // The nifti crate reads by the datatype's size; bitpix must agree (checked by the caller).
    let bytes_per_voxel = header.data_type().ok()?.size_of() as u64;
    let offset = if header.vox_offset.is_finite() && header.vox_offset > 0.0 {
        header.vox_offset as u64
    } else {
        0
    };
    voxels.checked_mul(bytes_per_voxel)?.checked_add(offset)
}

/// The nifti crate reserves what the header declares before reading: a 1 KB file declaring
/// a 2 GB volume would take 2 GB. Refuse a header that declares more data than the file
/// holds (for `.nii.gz`, than it inflates to: counted without keeping it).
fn check_declared_size(path: &Path) -> Result<(), DicomError> {
    let fail = |message: String| DicomError::Nifti {
        path: path.into(),
        message,
    };
    let header = NiftiHeader::from_file(path)
        .map_err(|e| fail(format!("not a readable NIfTI file: {e}")))?;
    // The nifti crate shapes the volume by `dim` and reads voxels by `datatype`: a zero
    // dimension or a bitpix that disagrees with the datatype made it panic (fuzz/nifti).
    let ndim = usize::from(header.dim[0]).clamp(1, 7);
    if header.dim[1..=ndim].contains(&0) {
        return Err(fail(format!(
            "its header declares an empty dimension {:?}",
            &header.dim[1..=ndim]
        )));
    }
    let datatype = header
        .data_type()
        .map_err(|e| fail(format!("unsupported datatype {}: {e}", header.datatype)))?;
    // bitpix is signed: the nifti crate casts it to usize, so a negative one would size the
    // volume in exabytes (fuzz/nifti: 1.8 GB from 91 bytes with a zero-size datatype).
    if header.bitpix <= 0
        || datatype.size_of() == 0
        || datatype.size_of() * 8 != header.bitpix as usize
    {
        return Err(fail(format!(
            "its datatype {datatype:?} takes {} bits per voxel but bitpix says {}",
            datatype.size_of() * 8,
            header.bitpix
        )));
    }
    let declared = declared_bytes(&header).ok_or_else(|| {
        fail(format!(
            "its header declares dimensions {:?} whose size overflows",
            &header.dim
        ))
    })?;
    // A small .nii.gz can inflate to gigabytes (a real volume, or a compression bomb): the
    // nifti crate would hold all of it at once, so volumes above this are refused.
    if declared > MAX_VOLUME_BYTES {
        return Err(fail(format!(
            "its header declares {declared} bytes of voxel data, above the {} MiB a volume may take here",
            MAX_VOLUME_BYTES >> 20
        )));
    }
    if &header.magic != b"n+1\0" {
        // "ni1" means header and voxels in separate .hdr/.img files: the nifti crate would
        // go looking for another file, which a single .nii must not make it do.
        return Err(fail(
            "its header is not a single-file NIfTI-1 header (magic \"n+1\")".into(),
        ));
    }
    check_extensions(path, &header).map_err(fail)?;
    let file = std::fs::File::open(path).map_err(|e| DicomError::io(path, e))?;
    let available = if is_gzipped(path) {
        // Inflate at most one byte more than declared: enough to know it is all there.
        let inflated = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
        std::io::copy(
            &mut inflated.take(declared.saturating_add(1)),
            &mut std::io::sink(),
        )
        .map_err(|e| fail(format!("cannot inflate: {e}")))?
    } else {
        file.metadata().map_err(|e| DicomError::io(path, e))?.len()
    };
    if declared > available {
        return Err(fail(format!(
            "its header declares dimensions {:?} of {} bit(s) per voxel ({declared} bytes with the header) but the file holds {available}: truncated, or a forged header",
            &header.dim[1..=usize::from(header.dim[0]).clamp(1, 7)],
            header.bitpix
        )));
    }
    Ok(())
}

/// The header's size field and the extender that follows it, in bytes.
const EXTENSIONS_START: u64 = 352;

/// The extensions between the header and the voxels each declare their size, and the nifti
/// crate reserves it before reading (fuzz/nifti: 1.8 GB from a 91-byte .nii.gz). Each must
/// fit between the header and `vox_offset`, which the caller checks lies within the file.
fn check_extensions(path: &Path, header: &NiftiHeader) -> Result<(), String> {
    let extensions_end = header.vox_offset.max(0.0) as u64;
    if extensions_end <= EXTENSIONS_START {
        return Ok(());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut stream: Box<dyn std::io::Read> = if is_gzipped(path) {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let cannot_read = |e: std::io::Error| format!("cannot read its extensions: {e}");
    let mut head = [0u8; EXTENSIONS_START as usize];
    stream.read_exact(&mut head).map_err(cannot_read)?;
    if head[348] == 0 {
        return Ok(()); // the extender says there are none
    }
    let read_i32 = |bytes: [u8; 4]| match header.endianness {
        nifti::Endianness::Little => i32::from_le_bytes(bytes),
        nifti::Endianness::Big => i32::from_be_bytes(bytes),
    };
    let mut offset = EXTENSIONS_START;
    while offset < extensions_end {
        let mut size_and_code = [0u8; 8];
        stream.read_exact(&mut size_and_code).map_err(cannot_read)?;
        let size = read_i32(size_and_code[..4].try_into().expect("4 bytes"));
        let room = extensions_end - offset;
        if size < 8 || size as u64 > room {
            return Err(format!(
                "an extension at byte {offset} declares {size} bytes where {room} are left before the voxel data (vox_offset {extensions_end})"
            ));
        }
        let data = u64::from(size as u32 - 8);
        let skipped = std::io::copy(&mut (&mut stream).take(data), &mut std::io::sink())
            .map_err(cannot_read)?;
        if skipped != data {
            return Err(format!("an extension at byte {offset} is cut short"));
        }
        offset += size as u64;
    }
    Ok(())
}

/// As the nifti crate decides: a name ending in `.gz` is inflated.
fn is_gzipped(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

impl NiftiVolume {
    pub fn open(path: &Path) -> Result<NiftiVolume, DicomError> {
        let fail = |message: String| DicomError::Nifti {
            path: path.into(),
            message,
        };
        std::fs::metadata(path).map_err(|e| DicomError::io(path, e))?;
        check_declared_size(path)?;
        let object = ReaderOptions::new()
            .read_file(path)
            .map_err(|e| fail(format!("not a readable NIfTI file: {e}")))?;
        let array: ArrayD<f32> = object
            .into_volume()
            .into_ndarray::<f32>()
            .map_err(|e| fail(format!("cannot read the volume: {e}")))?;
        let mut array = array;
        while array.ndim() > 3 {
            let last = Axis(array.ndim() - 1);
            array = array.index_axis_move(last, 0);
        }
        while array.ndim() < 3 {
            array.insert_axis_inplace(Axis(array.ndim()));
        }
        let data = array
            .into_dimensionality::<Ix3>()
            .map_err(|e| fail(format!("unexpected volume shape: {e}")))?;
        Ok(NiftiVolume { data })
    }

    pub fn shape(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    /// Number of slices along `axis` (0, 1 or 2).
    pub fn slice_count(&self, axis: usize) -> usize {
        self.shape()[axis.min(2)]
    }

    /// Slice `index` along `axis`: columns follow the lower remaining axis, rows the higher
    /// one (for axis 2 of a RAS volume: x across, y down).
    pub fn slice(&self, axis: usize, index: usize) -> Slice {
        let plane = self.data.index_axis(Axis(axis.min(2)), index);
        let (width, height) = (plane.shape()[0], plane.shape()[1]);
        let mut values = Vec::with_capacity(width * height);
        for row in 0..height {
            for col in 0..width {
                values.push(plane[[col, row]]);
            }
        }
        Slice {
            width: width as u32,
            height: height as u32,
            values,
        }
    }
}
