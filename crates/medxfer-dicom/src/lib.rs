//! DICOM and NIfTI input for medxfer: decoding, windowing, conversion and de-identification.
