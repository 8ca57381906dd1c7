//! What an upload is, from its first bytes: clients' file names and Content-Type headers are
//! not trusted (a client may say `image/png` about anything).

use serde::Serialize;

/// The upload formats the server decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    Png,
    Jpeg,
    Dicom,
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Start of image marker followed by the first marker's 0xFF.
const JPEG_SIGNATURE: &[u8] = &[0xFF, 0xD8, 0xFF];
/// DICOM Part 10 files: a 128-byte preamble, then `DICM`.
const DICOM_PREAMBLE: usize = 128;
const DICOM_MAGIC: &[u8] = b"DICM";

impl ImageKind {
    /// The format `bytes` start with, or `None` for anything else.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(PNG_SIGNATURE) {
            Some(ImageKind::Png)
        } else if bytes.starts_with(JPEG_SIGNATURE) {
            Some(ImageKind::Jpeg)
        } else if bytes.get(DICOM_PREAMBLE..DICOM_PREAMBLE + DICOM_MAGIC.len()) == Some(DICOM_MAGIC)
        {
            Some(ImageKind::Dicom)
        } else {
            None
        }
    }

    /// The file extension the decoders dispatch on.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpg",
            ImageKind::Dicom => "dcm",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_the_format() {
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        let mut dicom = vec![0u8; 128];
        dicom.extend(b"DICM\x02\x00");
        assert_eq!(ImageKind::sniff(&dicom), Some(ImageKind::Dicom));
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(ImageKind::sniff(b""), None);
        assert_eq!(ImageKind::sniff(b"GIF89a"), None);
        assert_eq!(ImageKind::sniff(b"<html><body>"), None);
        // A PNG signature cut short, and DICM one byte off its place.
        assert_eq!(ImageKind::sniff(b"\x89PNG\r\n"), None);
        let mut shifted = vec![0u8; 129];
        shifted.extend(b"DICM");
        assert_eq!(ImageKind::sniff(&shifted), None);
        // A file path is not an image either: clients send bytes, never paths.
        assert_eq!(ImageKind::sniff(b"/etc/passwd"), None);
    }
}
