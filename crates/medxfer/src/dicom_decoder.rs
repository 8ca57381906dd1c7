//! Lets datasets contain DICOM files: the data crate decodes images through a per-extension
//! registry, and this binary registers medxfer-dicom's decoder for `.dcm` (default window:
//! the file's VOI LUT or window, else robust percentiles; MONOCHROME1 already inverted).

use std::path::Path;

use medxfer_data::DataError;
use medxfer_data::decode::{LumaImage, register_decoder};
use medxfer_dicom::{WindowSpec, decode_for_training};

pub fn register() {
    register_decoder("dcm", decode_dicom_luma);
}

fn decode_dicom_luma(path: &Path, _bytes: &[u8]) -> Result<LumaImage, DataError> {
    let image = decode_for_training(path, &WindowSpec::Auto).map_err(|e| DataError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let pixels = match image.channels {
        1 => image.pixels,
        // ITU-R 601-2 luma, as for RGB PNGs.
        _ => image
            .pixels
            .chunks_exact(image.channels as usize)
            .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
            .collect(),
    };
    Ok(LumaImage {
        width: image.width,
        height: image.height,
        pixels,
    })
}
