//! An image (a 2-D picture, or a 3-D volume seen as a stack of 2-D slices along z) with its
//! region of interest (ROI).

use crate::error::RadiomicsError;

/// Intensities and ROI mask, x fastest: the value at (x, y, z) is at `x + nx * (y + ny * z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiVolume {
    dims: [usize; 3],
    spacing: [f64; 3],
    intensities: Vec<f64>,
    mask: Vec<bool>,
}

impl RoiVolume {
    /// A volume of `dims = [nx, ny, nz]` voxels of `spacing` (x, y, z; e.g. mm). Intensities
    /// outside the mask are kept but never used.
    pub fn new(
        dims: [usize; 3],
        spacing: [f64; 3],
        intensities: Vec<f64>,
        mask: Vec<bool>,
    ) -> Result<RoiVolume, RadiomicsError> {
        let expected = dims[0] * dims[1] * dims[2];
        if intensities.len() != expected || mask.len() != expected {
            return Err(RadiomicsError::SizeMismatch {
                width: dims[0],
                height: dims[1],
                depth: dims[2],
                expected,
                intensities: intensities.len(),
                mask: mask.len(),
            });
        }
        if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(RadiomicsError::InvalidSpacing(spacing));
        }
        if !mask.iter().any(|&m| m) {
            return Err(RadiomicsError::EmptyRoi);
        }
        if let Some((index, &value)) = intensities
            .iter()
            .enumerate()
            .find(|(i, v)| mask[*i] && !v.is_finite())
        {
            return Err(RadiomicsError::NonFiniteIntensity { index, value });
        }
        Ok(RoiVolume {
            dims,
            spacing,
            intensities,
            mask,
        })
    }

    /// A single 2-D image, row-major `width * height`, with pixel spacing (x, y).
    pub fn image_2d(
        width: usize,
        height: usize,
        pixel_spacing: [f64; 2],
        intensities: Vec<f64>,
        mask: Vec<bool>,
    ) -> Result<RoiVolume, RadiomicsError> {
        RoiVolume::new(
            [width, height, 1],
            [pixel_spacing[0], pixel_spacing[1], 1.0],
            intensities,
            mask,
        )
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    pub fn spacing(&self) -> [f64; 3] {
        self.spacing
    }

    pub fn is_2d(&self) -> bool {
        self.dims[2] == 1
    }

    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        x + self.dims[0] * (y + self.dims[1] * z)
    }

    pub fn in_roi(&self, index: usize) -> bool {
        self.mask[index]
    }

    pub fn intensity(&self, index: usize) -> f64 {
        self.intensities[index]
    }

    pub fn mask(&self) -> &[bool] {
        &self.mask
    }

    /// The intensities of the ROI voxels, in storage order.
    pub fn roi_intensities(&self) -> Vec<f64> {
        self.intensities
            .iter()
            .zip(&self.mask)
            .filter(|(_, m)| **m)
            .map(|(v, _)| *v)
            .collect()
    }

    /// Voxel centre of storage index `index`, in world units (spacing times grid position).
    pub fn centre(&self, index: usize) -> [f64; 3] {
        let x = index % self.dims[0];
        let y = (index / self.dims[0]) % self.dims[1];
        let z = index / (self.dims[0] * self.dims[1]);
        [
            x as f64 * self.spacing[0],
            y as f64 * self.spacing[1],
            z as f64 * self.spacing[2],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(matches!(
            RoiVolume::image_2d(2, 2, [1.0, 1.0], vec![0.0; 3], vec![true; 4]),
            Err(RadiomicsError::SizeMismatch { .. })
        ));
        assert_eq!(
            RoiVolume::image_2d(2, 1, [1.0, 1.0], vec![0.0; 2], vec![false; 2]),
            Err(RadiomicsError::EmptyRoi)
        );
        assert!(matches!(
            RoiVolume::image_2d(2, 1, [0.0, 1.0], vec![0.0; 2], vec![true; 2]),
            Err(RadiomicsError::InvalidSpacing(_))
        ));
        assert!(matches!(
            RoiVolume::image_2d(2, 1, [1.0, 1.0], vec![f64::NAN, 0.0], vec![true, true]),
            Err(RadiomicsError::NonFiniteIntensity { index: 0, .. })
        ));
        // A NaN outside the ROI is never read.
        assert!(
            RoiVolume::image_2d(2, 1, [1.0, 1.0], vec![f64::NAN, 0.0], vec![false, true]).is_ok()
        );
    }

    #[test]
    fn centres_follow_the_x_fastest_layout() {
        let v = RoiVolume::new([2, 3, 2], [1.0, 2.0, 3.0], vec![0.0; 12], vec![true; 12]).unwrap();
        assert_eq!(v.index(1, 2, 1), 11);
        assert_eq!(v.centre(11), [1.0, 4.0, 3.0]);
    }
}
