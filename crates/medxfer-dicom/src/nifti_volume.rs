//! NIfTI volumes (`.nii`, `.nii.gz`) as 2-D slices along a chosen axis, with an optional
//! label volume of the same grid giving one mask per slice.

use std::path::Path;

use ndarray::{ArrayD, Axis, Ix3};
use nifti::{IntoNdArray, NiftiObject, ReaderOptions};

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

impl NiftiVolume {
    pub fn open(path: &Path) -> Result<NiftiVolume, DicomError> {
        let fail = |message: String| DicomError::Nifti {
            path: path.into(),
            message,
        };
        std::fs::metadata(path).map_err(|e| DicomError::io(path, e))?;
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
