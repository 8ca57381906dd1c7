//! Decoding DICOM pixel data into stored sample values (via dicom-pixeldata), with the
//! colour-space fix-ups pydicom also makes (YBR to RGB, planar to interleaved), and the
//! lookup tables that turn stored values into modality values or display values.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::{PixelDecoder, Rescale, VoiLutFunction, WindowLevel};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::declared_lengths::check_declared_lengths;
use crate::error::DicomError;
use crate::jpeg2000_header::{check_jpeg_frames, check_jpeg2000_frames, is_jpeg, is_jpeg2000};
use crate::lut::{LookupTable, Palette};
use crate::photometric::Photometric;
use crate::rle_segments::{RLE_LOSSLESS, check_rle_segments};
use crate::samples::Samples;

/// Which frames of a multi-frame object to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSelection {
    All,
    One(u32),
}

/// A decoded DICOM image: stored values for the selected frames, interleaved
/// (`frames x rows x cols x samples_per_pixel`), colour already converted to RGB where the
/// file held YBR, plus everything needed to map stored values to modality or display values.
#[derive(Debug, Clone)]
pub struct DicomImage {
    pub path: PathBuf,
    pub rows: u32,
    pub cols: u32,
    /// Number of frames held in `samples` (1 when a single frame was selected).
    pub frames: u32,
    /// Number of frames in the file.
    pub frames_in_file: u32,
    /// Index in the file of the first frame held.
    pub first_frame: u32,
    /// 1 (grey or palette indices) or 3 (RGB).
    pub samples_per_pixel: u16,
    /// As stored in the file.
    pub photometric: Photometric,
    pub bits_stored: u16,
    pub signed: bool,
    pub transfer_syntax: String,
    pub samples: Samples,
    /// One entry, or one per frame of the file (enhanced multi-frame objects).
    pub rescale: Vec<Rescale>,
    pub modality_lut: Option<LookupTable>,
    /// The file's windows: alternatives, or one per frame of the file.
    pub windows: Vec<WindowLevel>,
    pub voi_function: VoiLutFunction,
    pub voi_lut: Option<LookupTable>,
    pub palette: Option<Palette>,
}

impl DicomImage {
    /// Opens and decodes a DICOM file.
    pub fn open(path: &Path, frames: FrameSelection) -> Result<Self, DicomError> {
        let object = open_object(path, false)?;
        Self::from_object(path, &object, frames)
    }

    pub fn from_object(
        path: &Path,
        object: &DefaultDicomObject,
        selection: FrameSelection,
    ) -> Result<Self, DicomError> {
        if object.get(tags::PIXEL_DATA).is_none() {
            return Err(DicomError::NoPixelData { path: path.into() });
        }
        let syntax_uid = object
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        let syntax = check_transfer_syntax(path, &syntax_uid)?;
        let photometric =
            Photometric::parse(&string_attr(object, tags::PHOTOMETRIC_INTERPRETATION));
        let decode_error = |err: dicom_pixeldata::Error| DicomError::Decode {
            path: path.into(),
            syntax: format!("{syntax_uid} {syntax}"),
            message: err.to_string(),
        };
        if !syntax_is_native(&syntax_uid) {
            check_decoded_size(path, object, selection)?;
        }
        if syntax_uid == RLE_LOSSLESS {
            check_rle_segments(path, object)?;
        }
        if is_jpeg2000(&syntax_uid) {
            check_jpeg2000_frames(path, object)?;
        }
        if is_jpeg(&syntax_uid) {
            check_jpeg_frames(path, object)?;
        }
        let decoded = match selection {
            FrameSelection::All => object.decode_pixel_data().map_err(decode_error)?,
            FrameSelection::One(frame) => {
                let in_file = frames_in_object(object);
                if frame >= in_file {
                    return Err(DicomError::FrameOutOfRange {
                        path: path.into(),
                        frame,
                        frames: in_file,
                    });
                }
                object
                    .decode_pixel_data_frame(frame)
                    .map_err(decode_error)?
            }
        };
        let rows = decoded.rows();
        let cols = decoded.columns();
        let spp = decoded.samples_per_pixel();
        let frames_in_file = frames_in_object(object);
        let (frames, first_frame) = match selection {
            FrameSelection::All => (decoded.number_of_frames(), 0),
            FrameSelection::One(frame) => (1, frame),
        };
        let invalid = |message: String| DicomError::InvalidAttribute {
            path: path.into(),
            message,
        };
        if !(spp == 1 || spp == 3) {
            return Err(invalid(format!(
                "Samples per Pixel {spp} (expected 1 or 3)"
            )));
        }
        let signed = decoded.pixel_representation() == dicom_pixeldata::PixelRepresentation::Signed;
        let bits_allocated = decoded.bits_allocated();
        let bits_stored = decoded.bits_stored();
        let is_native = syntax_is_native(&syntax_uid);
        let pixels_per_frame = rows as usize * cols as usize;
        // Native YBR_FULL_422 stores two luma samples per chroma pair: 2 samples per pixel.
        let subsampled = is_native && photometric == Photometric::YbrFull422 && spp == 3;
        let stored_spp = if subsampled { 2 } else { spp as usize };
        // Forged Number of Frames must not overflow (native data is bounded by the file).
        let expected = (pixels_per_frame * stored_spp)
            .checked_mul(frames as usize)
            .ok_or_else(|| invalid(format!("Number of Frames {frames} is too large")))?;
        let big_endian = syntax_uid == BIG_ENDIAN;
        let data = decoded.data();
        let mut samples = if bits_allocated == 1 {
            // dicom-rs expands 1-bit samples to 0/255 bytes; pydicom gives 0/1.
            if data.len() < expected {
                return Err(DicomError::Decode {
                    path: path.into(),
                    syntax: format!("{syntax_uid} {syntax}"),
                    message: format!(
                        "pixel data is truncated: {} samples, expected {expected}",
                        data.len()
                    ),
                });
            }
            Samples::U8(data[..expected].iter().map(|&b| u8::from(b != 0)).collect())
        } else {
            let data = if big_endian && bits_allocated == 32 && pixel_data_is_words(object) {
                swap_word_halves(data)
            } else {
                std::borrow::Cow::Borrowed(data)
            };
            Samples::from_bytes(&data, bits_allocated, signed, bits_stored, expected).map_err(
                |message| DicomError::Decode {
                    path: path.into(),
                    syntax: format!("{syntax_uid} {syntax}"),
                    message,
                },
            )?
        };
        if spp == 3 {
            if is_native
                && decoded.planar_configuration()
                    == dicom_pixeldata::PlanarConfiguration::PixelFirst
                && !subsampled
            {
                samples = samples.planar_to_interleaved(frames as usize, pixels_per_frame);
            }
            if subsampled {
                samples = samples.expand_ybr422(frames as usize * pixels_per_frame);
            }
            // dicom-rs converts YBR to RGB for JPEG; native and RLE data stay YBR.
            let converts_itself = !is_native && !syntax_uid.ends_with(".1.2.5");
            if photometric.is_ybr_full() && !converts_itself {
                samples
                    .ybr_full_to_rgb()
                    .map_err(|message| invalid(message.to_string()))?;
            }
        }
        let palette = if photometric == Photometric::PaletteColor {
            Some(Palette::from_object(path, object, big_endian)?)
        } else {
            None
        };
        let modality_lut = LookupTable::modality_from_object(path, object, big_endian)?;
        let voi_lut = LookupTable::voi_from_object(path, object, big_endian)?;
        let windows = decoded
            .window()
            .ok()
            .flatten()
            .map(|w| w.iter().copied().filter(|w| w.width > 0.0).collect())
            .unwrap_or_default();
        let voi_function = decoded
            .voi_lut_function()
            .ok()
            .flatten()
            .and_then(|f| f.first().copied())
            .unwrap_or_default();
        let rescale = decoded.rescale().map(|r| r.to_vec()).unwrap_or_default();
        Ok(DicomImage {
            path: path.into(),
            rows,
            cols,
            frames,
            frames_in_file,
            first_frame,
            samples_per_pixel: spp,
            photometric,
            bits_stored,
            signed,
            transfer_syntax: syntax_uid,
            samples,
            rescale,
            modality_lut,
            windows,
            voi_function,
            voi_lut,
            palette,
        })
    }

    /// Number of samples in one frame.
    pub fn frame_len(&self) -> usize {
        self.rows as usize * self.cols as usize * self.samples_per_pixel as usize
    }

    pub fn is_monochrome(&self) -> bool {
        self.photometric.is_monochrome() && self.samples_per_pixel == 1
    }

    /// Rescale of the given held frame (per-frame for enhanced objects).
    pub fn rescale_for(&self, frame: usize) -> Rescale {
        let file_frame = self.first_frame as usize + frame;
        match self.rescale.len() {
            0 => Rescale::new(1.0, 0.0),
            n if n == self.frames_in_file as usize && n > 1 => self.rescale[file_frame],
            _ => self.rescale[0],
        }
    }

    /// The file's window for the given held frame, if any.
    pub fn window_for(&self, frame: usize) -> Option<WindowLevel> {
        let file_frame = self.first_frame as usize + frame;
        match self.windows.len() {
            0 => None,
            n if n == self.frames_in_file as usize && n > 1 => Some(self.windows[file_frame]),
            _ => Some(self.windows[0]),
        }
    }

    /// Modality values of one held frame: Modality LUT or Rescale Slope/Intercept for
    /// monochrome images, the stored values otherwise (RGB, palette indices).
    pub fn modality_frame(&self, frame: usize) -> Vec<f64> {
        let len = self.frame_len();
        let start = frame * len;
        let stored = (start..start + len).map(|i| self.samples.get(i));
        if !self.is_monochrome() {
            return stored.map(|v| v as f64).collect();
        }
        if let Some(lut) = &self.modality_lut {
            return stored.map(|v| lut.lookup(v) as f64).collect();
        }
        let rescale = self.rescale_for(frame);
        stored
            .map(|v| v as f64 * rescale.slope + rescale.intercept)
            .collect()
    }
}

/// Opens a DICOM file (with its preamble and file meta group). `metadata_only` stops
/// before the Pixel Data, for folder scans.
pub fn open_object(path: &Path, metadata_only: bool) -> Result<DefaultDicomObject, DicomError> {
    // dicom-rs allocates each value's declared length before reading it.
    check_declared_lengths(path)?;
    let options = OpenFileOptions::new();
    let options = if metadata_only {
        options.read_until(tags::PIXEL_DATA)
    } else {
        options
    };
    options.open_file(path).map_err(|err| DicomError::NotDicom {
        path: path.into(),
        message: error_chain(&err),
    })
}

/// Most decoded bytes one read may allocate for compressed pixel data, whose decoders size
/// their output from Rows x Columns x Samples x Bits x Frames: attributes a small file can
/// forge. Native pixel data needs no limit: it is never larger than the file.
pub const MAX_DECODED_BYTES: u64 = 2 << 30;

/// Refuses compressed pixel data whose selected frames would decode to more than
/// [`MAX_DECODED_BYTES`], before any decoder allocates.
fn check_decoded_size(
    path: &Path,
    object: &InMemDicomObject,
    selection: FrameSelection,
) -> Result<(), DicomError> {
    let number = |tag, default: u64| string_attr(object, tag).parse::<u64>().unwrap_or(default);
    let frames = match selection {
        FrameSelection::All => u64::from(frames_in_object(object)),
        FrameSelection::One(_) => 1,
    };
    let bytes = [
        number(tags::ROWS, 0),
        number(tags::COLUMNS, 0),
        number(tags::SAMPLES_PER_PIXEL, 1),
        number(tags::BITS_ALLOCATED, 8).div_ceil(8),
        frames,
    ]
    .into_iter()
    .fold(1_u64, u64::saturating_mul);
    if bytes <= MAX_DECODED_BYTES {
        return Ok(());
    }
    Err(DicomError::InvalidAttribute {
        path: path.into(),
        message: format!(
            "Rows x Columns x Samples per Pixel x bytes per sample x {frames} frame(s) = \
             {bytes} bytes of decoded pixels, above the limit of {MAX_DECODED_BYTES} \
             (forged dimensions? a large multi-frame file can be read one frame at a time)"
        ),
    })
}

/// The error and its sources joined, so "truncated" causes are visible on one line.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Checks that this build can decode the transfer syntax; returns its name.
fn check_transfer_syntax(path: &Path, uid: &str) -> Result<String, DicomError> {
    let Some(syntax) = TransferSyntaxRegistry.get(uid) else {
        return Err(DicomError::UnsupportedTransferSyntax {
            path: path.into(),
            uid: uid.into(),
            name: "unknown".into(),
            reason: "not a known transfer syntax".into(),
        });
    };
    if !syntax.can_decode_all() {
        let reason = if uid.starts_with("1.2.840.10008.1.2.4.8") {
            "JPEG-LS needs the `jpeg-ls` feature (CharLS, built with cmake); see crates/medxfer-dicom/README.md"
        } else {
            "no pixel data decoder for it in this build; see crates/medxfer-dicom/README.md"
        };
        return Err(DicomError::UnsupportedTransferSyntax {
            path: path.into(),
            uid: uid.into(),
            name: syntax.name().to_string(),
            reason: reason.into(),
        });
    }
    Ok(syntax.name().to_string())
}

const BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";

/// Whether dicom-rs holds the Pixel Data as 16-bit words (OW), already byte-swapped per word.
fn pixel_data_is_words(object: &InMemDicomObject) -> bool {
    matches!(
        object
            .get(tags::PIXEL_DATA)
            .and_then(|e| e.value().primitive()),
        Some(dicom_core::PrimitiveValue::U16(_))
    )
}

/// 32-bit big-endian samples read as two byte-swapped 16-bit words come out with their
/// halves in big-endian order; swapping the halves gives native little-endian samples.
fn swap_word_halves(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut out = data.to_vec();
    for c in out.chunks_exact_mut(4) {
        c.swap(0, 2);
        c.swap(1, 3);
    }
    std::borrow::Cow::Owned(out)
}

/// Native (uncompressed) encodings, whose pixel data dicom-rs hands over unchanged.
fn syntax_is_native(uid: &str) -> bool {
    matches!(
        uid,
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    ) || uid == "1.2.840.10008.1.2.1.98" // encapsulated uncompressed
}

pub(crate) fn frames_in_object(object: &InMemDicomObject) -> u32 {
    object
        .get(tags::NUMBER_OF_FRAMES)
        .and_then(|e| e.to_str().ok())
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// A string attribute, trimmed; empty when absent or unreadable.
pub(crate) fn string_attr(object: &InMemDicomObject, tag: dicom_core::Tag) -> String {
    object
        .get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| {
            s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string()
        })
        .unwrap_or_default()
}
