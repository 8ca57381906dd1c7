//! DICOM and NIfTI input for medxfer: decoding (via dicom-rs and the `nifti` crate),
//! windowing, conversion to PNG / npz, dataset manifests and de-identification.
//!
//! The data crate decodes a `.dcm` file for training with [`decode_for_training`].

pub mod atomic_write;
pub mod convert;
pub mod declared_lengths;
pub mod deid;
pub mod error;
mod jpeg2000_header;
pub mod labels;
pub mod lut;
pub mod metadata;
pub mod nifti_volume;
pub mod npz;
pub mod photometric;
pub mod pixels;
pub mod png_out;
pub mod pseudonym;
mod rle_segments;
pub mod samples;
pub mod training;
pub mod window;

pub use error::DicomError;
pub use pixels::{DicomImage, FrameSelection};
pub use pseudonym::Pseudonymizer;
pub use training::{
    DecodedImage, decode_for_training, decode_frame_for_training, frame_count, is_dicom_file,
};
pub use window::WindowSpec;
