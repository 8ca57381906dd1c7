//! Non-identifying metadata of a DICOM object, for manifests and conversion sidecars:
//! acquisition facts plus salted pseudonyms of the patient, study and series identifiers.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::pixels::{frames_in_object, string_attr};
use crate::pseudonym::Pseudonymizer;

/// Column names, in order, shared by manifests and sidecars after `path,label`.
pub const METADATA_COLUMNS: &[&str] = &[
    "patient_id",
    "study_uid",
    "series_uid",
    "modality",
    "body_part",
    "frames",
    "rows",
    "cols",
    "photometric",
    "bits_stored",
    "rescale_slope",
    "rescale_intercept",
    "window_center",
    "window_width",
    "pixel_spacing",
    "transfer_syntax",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageMetadata {
    /// Salted pseudonym of PatientID (never the raw value).
    pub patient_id: String,
    /// Salted pseudonyms of the Study / Series Instance UIDs.
    pub study_uid: String,
    pub series_uid: String,
    pub modality: String,
    pub body_part: String,
    pub frames: u32,
    pub rows: String,
    pub cols: String,
    pub photometric: String,
    pub bits_stored: String,
    pub rescale_slope: String,
    pub rescale_intercept: String,
    pub window_center: String,
    pub window_width: String,
    pub pixel_spacing: String,
    pub transfer_syntax: String,
    /// The raw SOP Instance UID, only for joining labels; never written out.
    pub sop_instance_uid: String,
}

impl ImageMetadata {
    pub fn from_object(
        object: &InMemDicomObject,
        transfer_syntax: &str,
        pseudonyms: &Pseudonymizer,
    ) -> ImageMetadata {
        let get = |tag| string_attr(object, tag);
        // Only the first value of multi-valued window attributes.
        let first = |tag| get(tag).split('\\').next().unwrap_or("").trim().to_string();
        ImageMetadata {
            patient_id: pseudonyms.pseudonym("patient", &get(tags::PATIENT_ID)),
            study_uid: pseudonyms.pseudonym("study", &get(tags::STUDY_INSTANCE_UID)),
            series_uid: pseudonyms.pseudonym("series", &get(tags::SERIES_INSTANCE_UID)),
            modality: get(tags::MODALITY),
            body_part: get(tags::BODY_PART_EXAMINED),
            frames: frames_in_object(object),
            rows: get(tags::ROWS),
            cols: get(tags::COLUMNS),
            photometric: get(tags::PHOTOMETRIC_INTERPRETATION),
            bits_stored: get(tags::BITS_STORED),
            rescale_slope: get(tags::RESCALE_SLOPE),
            rescale_intercept: get(tags::RESCALE_INTERCEPT),
            window_center: first(tags::WINDOW_CENTER),
            window_width: first(tags::WINDOW_WIDTH),
            pixel_spacing: get(tags::PIXEL_SPACING).replace('\\', "x"),
            transfer_syntax: transfer_syntax.trim_end_matches('\0').to_string(),
            sop_instance_uid: get(tags::SOP_INSTANCE_UID),
        }
    }

    /// Values in the order of [`METADATA_COLUMNS`].
    pub fn values(&self) -> Vec<String> {
        vec![
            self.patient_id.clone(),
            self.study_uid.clone(),
            self.series_uid.clone(),
            self.modality.clone(),
            self.body_part.clone(),
            self.frames.to_string(),
            self.rows.clone(),
            self.cols.clone(),
            self.photometric.clone(),
            self.bits_stored.clone(),
            self.rescale_slope.clone(),
            self.rescale_intercept.clone(),
            self.window_center.clone(),
            self.window_width.clone(),
            self.pixel_spacing.clone(),
            self.transfer_syntax.clone(),
        ]
    }
}
