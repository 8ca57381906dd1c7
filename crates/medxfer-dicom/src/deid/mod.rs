//! `medxfer deid`: writes DICOM with the PS3.15 Basic Application Level Confidentiality
//! Profile applied by allow-list (see [`profile`]): listed attributes removed or emptied,
//! instance UIDs replaced consistently (same salt, same new UID, so references between
//! files still match), known technical attributes kept, everything else removed: private
//! and unknown attributes, curves, overlays, at every depth of the kept sequences.
//! Pixels are not cleaned: files that declare or likely carry burned-in text are refused or
//! reported (see [`DeidOptions`]).

mod output_guard;
pub mod profile;

use std::path::{Path, PathBuf};

use dicom_core::header::Header;
use dicom_core::value::DataSetSequence;
use dicom_core::value::Value;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::atomic_write::write_atomically;
use crate::error::DicomError;
use crate::pixels::{error_chain, open_object, string_attr};
use crate::pseudonym::Pseudonymizer;
use output_guard::{InputFiles, check_output_folder};
use profile::{Action, action};

/// UIDs under this root are defined by the standard (SOP classes, transfer syntaxes,
/// coding schemes) and identify nobody: they are kept.
const STANDARD_UID_ROOT: &str = "1.2.840.10008.";

/// Value written to De-identification Method (0012,0063). No profile option is applied
/// (no Retain options, no Clean Pixel Data), so the code sequence holds the profile only.
pub const METHOD: &str =
    "medxfer: PS3.15 Basic Application Level Confidentiality Profile (allow-list)";

/// Modalities whose pixels usually show burned-in text (names, dates): ultrasound, secondary
/// capture, X-ray angiography, endoscopy.
const LIKELY_BURNED_IN: &[&str] = &["US", "SC", "XA", "ES"];

/// Secondary Capture SOP classes (1.2.840.10008.5.1.4.1.1.7 and .7.1 to .7.4).
const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";

#[derive(Debug, Clone)]
pub struct DeidOptions {
    pub pseudonyms: Pseudonymizer,
    /// Keep the input file names (mirrored folders); otherwise outputs are named by their new
    /// SOP Instance UID, since PACS export names often contain patient names.
    pub keep_names: bool,
    /// De-identify files that declare Burned In Annotation = YES (text in the pixels, which
    /// this profile does not remove); refused by default.
    pub allow_burned_in: bool,
    /// Refuse files of modalities that usually burn text into the pixels (US, SC, XA, ES)
    /// unless they declare Burned In Annotation = NO; otherwise they are only warned about.
    pub reject_likely_burned_in: bool,
}

#[derive(Debug, Default)]
pub struct DeidSummary {
    pub written: Vec<PathBuf>,
    pub skipped: Vec<DicomError>,
    /// One line per written file whose pixels likely show identifying text.
    pub warnings: Vec<String>,
}

/// De-identifies files or folders (recursively) into `out`: a folder, or a `.dcm` file path
/// when the only input is one file. Refuses an `out` inside an input folder, and skips any
/// output that would be one of the input files.
pub fn deidentify(
    inputs: &[PathBuf],
    out: &Path,
    options: &DeidOptions,
) -> Result<DeidSummary, DicomError> {
    check_output_folder(inputs, out)?;
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| DicomError::io(input, e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found).map_err(|e| DicomError::io(input, e))?;
            found.sort();
            files.extend(found.into_iter().map(|f| {
                let rel = f.strip_prefix(input).unwrap_or(&f).to_path_buf();
                (f, rel)
            }));
        } else {
            let name = input.file_name().map(PathBuf::from).unwrap_or_default();
            files.push((input.clone(), name));
        }
    }
    let single_file_out = inputs.len() == 1
        && files.len() == 1
        && !inputs[0].is_dir()
        && out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dcm"));
    let input_files = InputFiles::new(files.iter().map(|(file, _)| file));
    let mut summary = DeidSummary::default();
    for (file, relative) in files {
        let destination = |new_uid: &str| {
            let path = if single_file_out {
                out.to_path_buf()
            } else if options.keep_names {
                out.join(&relative)
            } else {
                out.join(format!("{new_uid}.dcm"))
            };
            input_files.check(&path).map(|()| path)
        };
        match deidentify_file(&file, destination, options) {
            Ok(written) => {
                summary.written.push(written.output);
                summary.warnings.extend(written.warning);
            }
            Err(err) => summary.skipped.push(err),
        }
    }
    Ok(summary)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// One de-identified file.
#[derive(Debug)]
pub struct Deidentified {
    pub output: PathBuf,
    /// Set when the pixels likely show identifying text (see [`burned_in_check`]).
    pub warning: Option<String>,
}

/// De-identifies one file; `destination` maps the new SOP Instance UID to the output path,
/// or refuses it.
pub fn deidentify_file(
    input: &Path,
    destination: impl FnOnce(&str) -> Result<PathBuf, DicomError>,
    options: &DeidOptions,
) -> Result<Deidentified, DicomError> {
    let object = open_object(input, false)?;
    let warning = burned_in_check(input, &object, options)?;
    let mut meta = object.meta().clone();
    let cleaned = deidentify_object(object.into_inner(), &options.pseudonyms);
    let new_sop_uid = string_attr(&cleaned, tags::SOP_INSTANCE_UID);
    let new_sop_uid = if new_sop_uid.is_empty() {
        options
            .pseudonyms
            .replacement_uid(&meta.media_storage_sop_instance_uid)
    } else {
        new_sop_uid
    };
    meta.media_storage_sop_instance_uid = new_sop_uid.clone();
    meta.source_application_entity_title = None;
    meta.sending_application_entity_title = None;
    meta.receiving_application_entity_title = None;
    meta.private_information_creator_uid = None;
    meta.private_information = None;
    meta.update_information_group_length();
    let file_object = cleaned.with_exact_meta(meta);
    let output = destination(&new_sop_uid)?;
    write_atomically(&output, |w| {
        file_object.write_all(w).map_err(|e| error_chain(&e))
    })?;
    Ok(Deidentified { output, warning })
}

/// The profile does not clean pixels: refuses Burned In Annotation = YES (unless allowed),
/// and refuses or warns about modalities that usually burn text in when the file does not
/// declare Burned In Annotation at all.
pub fn burned_in_check(
    path: &Path,
    object: &InMemDicomObject,
    options: &DeidOptions,
) -> Result<Option<String>, DicomError> {
    let refuse = |message: String| {
        Err(DicomError::Deid {
            path: path.into(),
            message,
        })
    };
    let declared = string_attr(object, tags::BURNED_IN_ANNOTATION);
    if declared == "YES" && !options.allow_burned_in {
        return refuse(
            "Burned In Annotation is YES: the pixels may show identifying text \
             (pass --allow-burned-in to de-identify the attributes anyway)"
                .into(),
        );
    }
    let modality = string_attr(object, tags::MODALITY);
    let secondary_capture = string_attr(object, tags::SOP_CLASS_UID).starts_with(SECONDARY_CAPTURE);
    let likely = LIKELY_BURNED_IN.contains(&modality.as_str()) || secondary_capture;
    if !likely || declared == "NO" || (declared == "YES" && options.allow_burned_in) {
        return Ok(None);
    }
    let kind = if secondary_capture {
        "a secondary capture".to_string()
    } else {
        format!("modality {modality}")
    };
    if options.reject_likely_burned_in {
        return refuse(format!(
            "{kind} usually has text burned into the pixels and Burned In Annotation is \
             not NO (--reject-likely-burned-in)"
        ));
    }
    Ok(Some(format!(
        "{}: {kind} usually has text burned into the pixels and Burned In Annotation is \
         absent; the pixels were not cleaned: check them",
        path.display()
    )))
}

/// Applies the profile to a data set (recursing into sequences) and records the method.
pub fn deidentify_object(object: InMemDicomObject, pseudonyms: &Pseudonymizer) -> InMemDicomObject {
    let mut cleaned = clean_dataset(object, pseudonyms);
    cleaned.put(DataElement::new(
        tags::PATIENT_IDENTITY_REMOVED,
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    cleaned.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD,
        VR::LO,
        PrimitiveValue::from(METHOD),
    ));
    let code = InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from("113100")),
        DataElement::new(
            tags::CODING_SCHEME_DESIGNATOR,
            VR::SH,
            PrimitiveValue::from("DCM"),
        ),
        DataElement::new(
            tags::CODE_MEANING,
            VR::LO,
            PrimitiveValue::from("Basic Application Confidentiality Profile"),
        ),
    ]);
    cleaned.put(sequence(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        vec![code],
    ));
    cleaned
}

fn clean_dataset(object: InMemDicomObject, pseudonyms: &Pseudonymizer) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(
        object
            .into_iter()
            .filter_map(|element| clean_element(element, pseudonyms)),
    )
}

fn clean_element(element: InMemElement, pseudonyms: &Pseudonymizer) -> Option<InMemElement> {
    let tag = element.tag();
    let vr = element.vr();
    let action = action(tag, vr);
    match action {
        Action::Remove => None,
        Action::Empty if vr == VR::SQ => Some(sequence(tag, Vec::new())),
        Action::Empty => Some(DataElement::new(tag, vr, PrimitiveValue::Empty)),
        Action::ReplaceUid | Action::Keep => match element.into_value() {
            // Items of kept sequences are filtered like the data set itself.
            Value::Sequence(items) => Some(sequence(
                tag,
                items
                    .into_items()
                    .into_iter()
                    .map(|item| clean_dataset(item, pseudonyms))
                    .collect(),
            )),
            Value::Primitive(value) if vr == VR::UI || action == Action::ReplaceUid => {
                Some(replace_uids(tag, &value, pseudonyms))
            }
            value => Some(DataElement::new(tag, vr, value)),
        },
    }
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(
        tag,
        VR::SQ,
        Value::Sequence(DataSetSequence::new(items, Length::UNDEFINED)),
    )
}

/// Each UID of the value replaced consistently, except well-formed standard UIDs.
fn replace_uids(tag: Tag, value: &PrimitiveValue, pseudonyms: &Pseudonymizer) -> InMemElement {
    let replaced: Vec<String> = value
        .to_str()
        .split('\\')
        .map(|uid| uid.trim_matches(|c: char| c == '\0' || c.is_whitespace()))
        .filter(|uid| !uid.is_empty())
        .map(|uid| {
            // Checked character by character: a malformed "standard" UID may hold text.
            let standard = uid.starts_with(STANDARD_UID_ROOT)
                && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if standard {
                uid.to_string()
            } else {
                pseudonyms.replacement_uid(uid)
            }
        })
        .collect();
    DataElement::new(tag, VR::UI, PrimitiveValue::Strs(replaced.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_removes_empties_and_replaces() {
        let object = InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from("Doe^Jane")),
            DataElement::new(tags::PATIENT_AGE, VR::AS, PrimitiveValue::from("042Y")),
            DataElement::new(
                tags::STUDY_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from("1.2.3.4"),
            ),
            DataElement::new(
                tags::SOP_CLASS_UID,
                VR::UI,
                PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.2"),
            ),
            DataElement::new(Tag(0x0009, 0x0010), VR::LO, PrimitiveValue::from("ACME")),
            DataElement::new(
                Tag(0x6000, 0x3000),
                VR::OW,
                PrimitiveValue::U16(vec![1].into()),
            ),
            DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(8_u16)),
        ]);
        let pseudonyms = Pseudonymizer::new("test");
        let out = deidentify_object(object, &pseudonyms);
        assert_eq!(string_attr(&out, tags::PATIENT_NAME), "");
        assert!(out.get(tags::PATIENT_NAME).is_some(), "type 2: kept empty");
        assert!(out.get(tags::PATIENT_AGE).is_none());
        assert_eq!(
            string_attr(&out, tags::STUDY_INSTANCE_UID),
            pseudonyms.replacement_uid("1.2.3.4")
        );
        assert_eq!(
            string_attr(&out, tags::SOP_CLASS_UID),
            "1.2.840.10008.5.1.4.1.1.2"
        );
        assert!(out.get(Tag(0x0009, 0x0010)).is_none());
        assert!(out.get(Tag(0x6000, 0x3000)).is_none());
        assert_eq!(string_attr(&out, tags::ROWS), "8");
        assert_eq!(string_attr(&out, tags::PATIENT_IDENTITY_REMOVED), "YES");
    }
}
