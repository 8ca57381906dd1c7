//! DICOM and NIfTI input for medxfer: decoding (via dicom-rs and the `nifti` crate),
//! windowing, conversion to PNG / npz, dataset manifests and de-identification.

pub mod error;
pub mod lut;
pub mod photometric;
pub mod pixels;
pub mod samples;
pub mod window;

pub use error::DicomError;
pub use pixels::{DicomImage, FrameSelection};
pub use window::WindowSpec;
