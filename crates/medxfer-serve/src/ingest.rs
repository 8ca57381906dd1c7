//! An upload's bytes to a luma image. PNG and JPEG are decoded in memory; DICOM is written to
//! a private temporary folder, de-identified there (PS3.15 basic profile, `medxfer-dicom`),
//! and only the de-identified copy is decoded. Both files are gone when this returns.

use std::path::{Path, PathBuf};

use medxfer_data::decode::{LumaImage, decode_luma_bytes, decode_luma_file};
use medxfer_dicom::Pseudonymizer;
use medxfer_dicom::deid::{DeidOptions, deidentify_file};
use serde::Serialize;

use crate::error::UploadError;
use crate::sniff::ImageKind;

/// A decoded upload and what the client is told about its ingestion.
#[derive(Debug)]
pub struct Upload {
    pub image: LumaImage,
    pub info: UploadInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadInfo {
    pub format: ImageKind,
    pub width: u32,
    pub height: u32,
    /// DICOM only: the attributes were de-identified before decoding (always true then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deidentified: Option<bool>,
    /// DICOM only: the modality usually burns text (names, dates) into the pixels and the file
    /// does not declare otherwise; pixels are never cleaned, so the overlay may show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixels_may_show_text: Option<bool>,
}

/// The name decoders and messages see: never anything the client sent.
fn upload_name(kind: ImageKind) -> PathBuf {
    PathBuf::from(format!("upload.{}", kind.extension()))
}

/// Sniffs, decodes (de-identifying DICOM first) and describes an upload.
pub fn ingest(bytes: &[u8]) -> Result<Upload, UploadError> {
    let kind = ImageKind::sniff(bytes).ok_or(UploadError::NotAnImage)?;
    let (image, deidentified, pixels_may_show_text) = match kind {
        ImageKind::Png | ImageKind::Jpeg => {
            let image = decode_luma_bytes(&upload_name(kind), bytes).map_err(|e| {
                UploadError::Undecodable {
                    kind: kind.extension(),
                    message: e.to_string(),
                }
            })?;
            (image, None, None)
        }
        ImageKind::Dicom => {
            let (image, warned) = ingest_dicom(bytes)?;
            (image, Some(true), Some(warned))
        }
    };
    Ok(Upload {
        info: UploadInfo {
            format: kind,
            width: image.width,
            height: image.height,
            deidentified,
            pixels_may_show_text,
        },
        image,
    })
}

/// De-identifies the DICOM upload into a second file of the same private folder and decodes
/// that copy; returns the image and whether the pixels may show burned-in text.
fn ingest_dicom(bytes: &[u8]) -> Result<(LumaImage, bool), UploadError> {
    let folder = tempfile::Builder::new()
        .prefix("medxfer-serve-")
        .tempdir()
        .map_err(|e| UploadError::Internal(format!("temporary folder: {e}")))?;
    let raw = folder.path().join("upload-raw.dcm");
    let clean = folder.path().join("upload.dcm");
    std::fs::write(&raw, bytes)
        .map_err(|e| UploadError::Internal(format!("temporary file: {e}")))?;
    let options = DeidOptions {
        // A fresh salt per upload: replaced UIDs link nothing across requests.
        pseudonyms: Pseudonymizer::new(Pseudonymizer::random_salt()),
        keep_names: false,
        allow_burned_in: false,
        reject_likely_burned_in: false,
    };
    let outcome = deidentify_file(&raw, |_| Ok(clean.clone()), &options);
    // The identifiable copy goes first, whatever happened.
    let _ = std::fs::remove_file(&raw);
    let deidentified = outcome.map_err(|e| {
        UploadError::Deidentification(without_folder(&e.to_string(), folder.path()))
    })?;
    let image = decode_luma_file(&clean).map_err(|e| UploadError::Undecodable {
        kind: ImageKind::Dicom.extension(),
        message: without_folder(&e.to_string(), folder.path()),
    })?;
    Ok((image, deidentified.warning.is_some()))
}

/// Library messages name the file they read: the server's temporary folder is not the
/// client's business, the file name alone (`upload-raw.dcm`, `upload.dcm`) is enough.
fn without_folder(message: &str, folder: &Path) -> String {
    message.replace(&format!("{}/", folder.display()), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let image =
            image::GrayImage::from_fn(width, height, |x, y| image::Luma([(x * 7 + y) as u8]));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_png_upload_is_decoded_in_memory() {
        let upload = ingest(&png_bytes(6, 4)).unwrap();
        assert_eq!((upload.image.width, upload.image.height), (6, 4));
        assert_eq!(upload.info.format, ImageKind::Png);
        assert!(upload.info.deidentified.is_none());
        // Pixel (x=5, y=3) is 38/255 in luma.
        let value = upload.image.pixels[3 * 6 + 5];
        assert!((value - 38.0 / 255.0).abs() < 1e-6, "{value}");
    }

    #[test]
    fn text_and_truncated_images_are_refused() {
        assert!(matches!(ingest(b"hello"), Err(UploadError::NotAnImage)));
        let png = png_bytes(6, 4);
        let cut = &png[..20];
        match ingest(cut) {
            Err(UploadError::Undecodable { kind, message }) => {
                assert_eq!(kind, "png");
                assert!(message.starts_with("upload.png"), "{message}");
            }
            other => panic!("expected undecodable, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_dicom_names_no_server_folder() {
        let mut bytes = vec![0u8; 128];
        bytes.extend(b"DICM");
        bytes.extend([0xFF; 40]);
        let Err(err) = ingest(&bytes) else {
            panic!("a broken DICOM was accepted");
        };
        let message = err.to_string();
        assert!(!message.contains("medxfer-serve-"), "{message}");
        assert!(
            !message.contains(&std::env::temp_dir().display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn messages_lose_the_temporary_folder() {
        let folder = Path::new("/tmp/medxfer-serve-abc");
        let message = "/tmp/medxfer-serve-abc/upload.dcm: no pixel data";
        assert_eq!(without_folder(message, folder), "upload.dcm: no pixel data");
    }
}
