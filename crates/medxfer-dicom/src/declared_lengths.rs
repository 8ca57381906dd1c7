//! Declared value lengths checked against the file size before dicom-rs reads a file: its
//! parser reserves and zero-fills each value's declared length before reading the value, so
//! a 39 KB file whose Pixel Data declares 4 GB would take 4 GB of memory. This walk reads
//! the file meta group's headers, then the data set through dicom-rs's own token reader, and
//! refuses any value, sequence or item longer than the bytes left in the file, before it is
//! read. Anything it cannot parse is left to dicom-rs, which reports it.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::{HasLength, Header};
use dicom_core::{Length, Tag};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::decode::DecodeFrom;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_parser::dataset::{DataSetReader, DataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::cell::Cell;
use std::rc::Rc;

use crate::error::DicomError;

/// The file meta group is always Explicit VR Little Endian.
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const TRANSFER_SYNTAX_UID: Tag = Tag(0x0002, 0x0010);
const ITEM: Tag = Tag(0xFFFE, 0xE000);

type Reader = BufReader<File>;
type Decoder = Box<dyn DecodeFrom<Reader>>;

/// Why the walk stopped early.
enum Stop {
    /// Not parseable here: dicom-rs reads the file and reports what is wrong.
    Unreadable,
    TooLong {
        tag: Tag,
        declared: u64,
        remaining: u64,
    },
}

impl From<std::io::Error> for Stop {
    fn from(_: std::io::Error) -> Self {
        Stop::Unreadable
    }
}

impl From<dicom_encoding::decode::Error> for Stop {
    fn from(_: dicom_encoding::decode::Error) -> Self {
        Stop::Unreadable
    }
}

/// Refuses a DICOM file in which some element declares a value longer than the rest of the
/// file (file meta group, data set, sequence items and pixel data fragments).
pub fn check_declared_lengths(path: &Path) -> Result<(), DicomError> {
    let file = File::open(path).map_err(|e| DicomError::io(path, e))?;
    let file_size = file.metadata().map_err(|e| DicomError::io(path, e))?.len();
    match walk_file(BufReader::new(file), file_size) {
        Ok(()) => Ok(()),
        // What the walk cannot follow, dicom-rs must not be handed either: its parser would
        // reserve whatever a misread length says (fuzz/dicom: 3.7 GB from a 3.6 KB file).
        Err(Stop::Unreadable) => Err(DicomError::NotDicom {
            path: path.into(),
            message: "its element structure cannot be followed to the end of the file (truncated or corrupt)".into(),
        }),
        Err(Stop::TooLong {
            tag,
            declared,
            remaining,
        }) => Err(DicomError::DeclaredLength {
            path: path.into(),
            element: element_name(tag),
            declared,
            file_size: human_size(file_size),
            remaining,
        }),
    }
}

fn walk_file(mut reader: Reader, file_size: u64) -> Result<(), Stop> {
    let (data_set_start, syntax_uid) = walk_meta(&mut reader, file_size)?;
    let syntax = TransferSyntaxRegistry
        .get(&syntax_uid)
        .ok_or(Stop::Unreadable)?;
    reader.seek(SeekFrom::Start(data_set_start))?;
    if !matches!(syntax.codec(), Codec::Dataset(_)) {
        return walk_data_set(reader, syntax, data_set_start, file_size);
    }
    // A deflated data set declares the lengths of the inflated stream: measure that stream
    // (counting, not keeping it), then check it as explicit VR little endian.
    let inflated_size = std::io::copy(
        &mut flate2::read::DeflateDecoder::new(&mut reader),
        &mut std::io::sink(),
    )?;
    reader.seek(SeekFrom::Start(data_set_start))?;
    let inner = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .ok_or(Stop::Unreadable)?;
    walk_data_set(
        flate2::read::DeflateDecoder::new(reader),
        inner,
        0,
        inflated_size,
    )
}

/// Walks the file meta group as dicom-object reads it (magic, group length first, then
/// elements up to that length); returns where the data set starts and its transfer syntax.
fn walk_meta(reader: &mut Reader, file_size: u64) -> Result<(u64, String), Stop> {
    let mut head = [0u8; 132];
    let got = read_up_to(reader, &mut head)?;
    let start = if got >= 132 && &head[128..132] == b"DICM" {
        132
    } else if got >= 4 && &head[..4] == b"DICM" {
        4
    } else {
        return Err(Stop::Unreadable);
    };
    reader.seek(SeekFrom::Start(start))?;
    let explicit: Decoder = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .and_then(|ts| ts.decoder_for::<Reader>())
        .ok_or(Stop::Unreadable)?;
    let (group_length, _) = explicit.decode_header(reader)?;
    if group_length.tag() != Tag(0x0002, 0x0000) || group_length.length() != Length(4) {
        return Err(Stop::Unreadable);
    }
    let mut word = [0u8; 4];
    reader.read_exact(&mut word)?;
    let meta_end = reader.stream_position()? + u64::from(u32::from_le_bytes(word));
    let mut syntax = String::new();
    while reader.stream_position()? < meta_end {
        let (header, _) = explicit.decode_header(reader)?;
        let len = value_within_file(reader, file_size, header.tag(), header.length())?;
        if header.tag() == TRANSFER_SYNTAX_UID {
            let mut value = vec![0u8; len as usize];
            reader.read_exact(&mut value)?;
            syntax = String::from_utf8_lossy(&value)
                .trim_end_matches(['\0', ' '])
                .to_string();
        } else {
            reader.seek_relative(i64::from(len))?;
        }
    }
    // dicom-object reads whole elements until the group length is reached and starts the
    // data set where the last one ends, which is past `meta_end` when that element overruns
    // the declared group length.
    Ok((reader.stream_position()?, syntax))
}

/// Follows the data set with dicom-rs's own token reader, so it parses exactly as dicom-rs
/// will (implicit VR inside UN sequences, fragments, delimiters), and stops at the first
/// header whose defined length exceeds the bytes left: before the reader would allocate it.
fn walk_data_set(
    reader: impl Read,
    syntax: &dicom_encoding::TransferSyntax,
    data_set_start: u64,
    file_size: u64,
) -> Result<(), Stop> {
    let consumed = Rc::new(Cell::new(0u64));
    let counting = CountingReader {
        inner: reader,
        consumed: Rc::clone(&consumed),
    };
    let tokens = DataSetReader::new_with_ts(counting, syntax).map_err(|_| Stop::Unreadable)?;
    for token in tokens {
        let Ok(token) = token else {
            // A broken stream: dicom-rs reports it, having allocated no more than was read.
            return Ok(());
        };
        let (tag, len) = match token {
            DataToken::ElementHeader(header) => (header.tag(), header.length()),
            DataToken::SequenceStart { tag, len } => (tag, len),
            DataToken::ItemStart { len } => (ITEM, len),
            _ => continue,
        };
        let Some(len) = len.get() else { continue };
        let remaining = file_size.saturating_sub(data_set_start + consumed.get());
        if u64::from(len) > remaining {
            return Err(Stop::TooLong {
                tag,
                declared: len.into(),
                remaining,
            });
        }
    }
    Ok(())
}

/// Counts the bytes the token reader has taken from the (buffered) file.
struct CountingReader<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// The defined length of a value that starts at the reader's position, if the file holds it.
fn value_within_file(
    reader: &mut Reader,
    file_size: u64,
    tag: Tag,
    len: Length,
) -> Result<u32, Stop> {
    let len = len.get().ok_or(Stop::Unreadable)?;
    let remaining = file_size.saturating_sub(reader.stream_position()?);
    if u64::from(len) > remaining {
        return Err(Stop::TooLong {
            tag,
            declared: len.into(),
            remaining,
        });
    }
    Ok(len)
}

fn read_up_to(reader: &mut Reader, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// "PixelData (7FE0,0010)", or the bare tag for private / unknown attributes.
fn element_name(tag: Tag) -> String {
    match StandardDataDictionary.by_tag(tag) {
        Some(entry) => format!("{} {tag}", entry.alias()),
        None => format!("element {tag}"),
    }
}

/// File sizes as people read them: bytes, KB or MB (1024-based, like `ls -h`).
fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{} KB", bytes / 1024),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_ls() {
        assert_eq!(human_size(900), "900 bytes");
        assert_eq!(human_size(39 * 1024 + 10), "39 KB");
        assert_eq!(human_size(3 * 1_048_576 / 2), "1.5 MB");
        assert_eq!(element_name(Tag(0x7FE0, 0x0010)), "PixelData (7FE0,0010)");
        assert_eq!(element_name(Tag(0x0009, 0x1001)), "element (0009,1001)");
    }
}
