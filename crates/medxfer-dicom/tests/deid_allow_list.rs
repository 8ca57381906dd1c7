//! De-identification by allow-list: a generated file carries `Doe^John` in every kind of
//! attribute (profile-listed, unknown public, private, private creator, malformed UID,
//! inside items of removed and kept sequences, two levels deep); none of it may reach the
//! output, while the pixels still decode identically.

mod common;

use std::path::{Path, PathBuf};

use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use medxfer_dicom::deid::{DeidOptions, deidentify};
use medxfer_dicom::{DicomImage, FrameSelection, Pseudonymizer, WindowSpec, decode_for_training};

const NAME: &str = "Doe^John";

fn text(tag: Tag, vr: VR) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(NAME))
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(
        tag,
        VR::SQ,
        Value::Sequence(DataSetSequence::new(items, Length::UNDEFINED)),
    )
}

/// Identifying text in every tag class, plus safe nested values that must survive.
fn identifying_attributes() -> Vec<InMemElement> {
    let pixel_measures = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::PIXEL_SPACING,
            VR::DS,
            PrimitiveValue::from("0.5\\0.5"),
        ),
        text(tags::OPERATORS_NAME, VR::PN),
        text(Tag(0x0010, 0x00E4), VR::PN),
        sequence(
            Tag(0x0020, 0x4012),
            vec![InMemDicomObject::from_element_iter([text(
                tags::PERSON_NAME,
                VR::PN,
            )])],
        ),
    ]);
    let shared_groups = InMemDicomObject::from_element_iter([
        sequence(tags::PIXEL_MEASURES_SEQUENCE, vec![pixel_measures]),
        text(Tag(0x0020, 0x4010), VR::SH),
        text(Tag(0x0009, 0x0010), VR::LO),
    ]);
    let referenced_image = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.2"),
        ),
        DataElement::new(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.826.0.1.3680043.9.7777.1.2"),
        ),
        text(tags::PATIENT_NAME, VR::PN),
        text(tags::PERSON_NAME, VR::PN),
    ]);
    let procedure_code = InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from("X1")),
        text(tags::CODE_MEANING, VR::LO),
    ]);
    vec![
        text(tags::PATIENT_NAME, VR::PN),
        text(tags::OPERATORS_NAME, VR::PN),
        text(tags::INSTITUTION_NAME, VR::LO),
        text(Tag(0x0020, 0x4010), VR::SH),
        text(Tag(0x0010, 0x00E4), VR::PN),
        text(Tag(0x00B6, 0x0010), VR::LO),
        text(Tag(0x0009, 0x0010), VR::LO),
        text(Tag(0x0009, 0x1001), VR::PN),
        text(tags::WINDOW_CENTER_WIDTH_EXPLANATION, VR::LO),
        // A malformed UID under the standard root must not pass as a standard UID.
        DataElement::new(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.840.10008.Doe^John"),
        ),
        DataElement::new(
            tags::BURNED_IN_ANNOTATION,
            VR::CS,
            PrimitiveValue::from("NO"),
        ),
        sequence(tags::REFERENCED_IMAGE_SEQUENCE, vec![referenced_image]),
        sequence(tags::PROCEDURE_CODE_SEQUENCE, vec![procedure_code]),
        sequence(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared_groups]),
    ]
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn options(reject_likely_burned_in: bool) -> DeidOptions {
    DeidOptions {
        pseudonyms: Pseudonymizer::new("salt"),
        keep_names: false,
        allow_burned_in: false,
        reject_likely_burned_in,
    }
}

fn deid_one(input: &Path, out: &Path) -> PathBuf {
    let summary = deidentify(&[input.to_path_buf()], out, &options(false)).unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(summary.written.len(), 1);
    summary.written[0].clone()
}

#[test]
fn no_identifying_text_survives_in_any_tag_class_and_pixels_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("patient.dcm");
    std::fs::write(
        &input,
        common::synthetic_dicom(24, 20, identifying_attributes()),
    )
    .unwrap();
    assert!(contains(&std::fs::read(&input).unwrap(), "Doe"));

    let output = deid_one(&input, &dir.path().join("out"));
    let bytes = std::fs::read(&output).unwrap();
    assert!(
        !contains(&bytes, "Doe"),
        "`Doe` survives in {}",
        output.display()
    );

    let before = DicomImage::open(&input, FrameSelection::All).unwrap();
    let after = DicomImage::open(&output, FrameSelection::All).unwrap();
    assert_eq!((after.rows, after.cols), (24, 20));
    assert_eq!(before.samples, after.samples);
    assert_eq!(
        decode_for_training(&input, &WindowSpec::Auto).unwrap(),
        decode_for_training(&output, &WindowSpec::Auto).unwrap()
    );

    let object = dicom_object::open_file(&output).unwrap();
    let get = |tag| {
        object
            .get(tag)
            .map(|e| e.to_str().unwrap().trim().to_string())
    };
    assert_eq!(get(tags::PATIENT_IDENTITY_REMOVED).as_deref(), Some("YES"));
    assert_eq!(get(tags::BURNED_IN_ANNOTATION).as_deref(), Some("NO"));
    assert_eq!(
        get(tags::PATIENT_NAME).as_deref(),
        Some(""),
        "type 2: kept empty"
    );
    for removed in [
        tags::PROCEDURE_CODE_SEQUENCE,
        Tag(0x0020, 0x4010),
        Tag(0x0009, 0x0010),
    ] {
        assert!(object.get(removed).is_none(), "{removed} kept");
    }
    // Kept sequences keep their safe content, two levels deep, with UIDs replaced.
    let shared = object.get(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).unwrap();
    let measures = shared.items().unwrap()[0]
        .get(tags::PIXEL_MEASURES_SEQUENCE)
        .unwrap();
    let measures = &measures.items().unwrap()[0];
    assert_eq!(
        measures.get(tags::PIXEL_SPACING).unwrap().to_str().unwrap(),
        "0.5\\0.5"
    );
    assert!(measures.get(Tag(0x0020, 0x4012)).is_none());
    let referenced = &object
        .get(tags::REFERENCED_IMAGE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    let uid = referenced
        .get(tags::REFERENCED_SOP_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        uid,
        Pseudonymizer::new("salt").replacement_uid("1.2.826.0.1.3680043.9.7777.1.2")
    );
}

/// An ultrasound file with the given Burned In Annotation (None: absent).
fn ultrasound(dir: &Path, name: &str, burned_in: Option<&str>) -> PathBuf {
    let mut extra = vec![DataElement::new(
        tags::MODALITY,
        VR::CS,
        PrimitiveValue::from("US"),
    )];
    if let Some(value) = burned_in {
        extra.push(DataElement::new(
            tags::BURNED_IN_ANNOTATION,
            VR::CS,
            PrimitiveValue::from(value),
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, common::synthetic_dicom(8, 8, extra)).unwrap();
    path
}

#[test]
fn likely_burned_in_modalities_are_warned_about_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let undeclared = ultrasound(dir.path(), "undeclared.dcm", None);
    let clean = ultrasound(dir.path(), "clean.dcm", Some("NO"));
    let burned = ultrasound(dir.path(), "burned.dcm", Some("YES"));
    let inputs = [undeclared.clone(), clean.clone(), burned.clone()];

    let summary = deidentify(&inputs, &dir.path().join("warn"), &options(false)).unwrap();
    assert_eq!(summary.written.len(), 2);
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    assert!(summary.warnings[0].contains("undeclared.dcm"));
    assert!(summary.warnings[0].contains("modality US"));
    assert_eq!(summary.skipped.len(), 1);
    assert!(summary.skipped[0].to_string().contains("burned.dcm"));

    let summary = deidentify(&inputs, &dir.path().join("strict"), &options(true)).unwrap();
    assert_eq!(
        summary.written.len(),
        1,
        "only Burned In Annotation = NO passes"
    );
    assert!(summary.warnings.is_empty());
    let refused: Vec<String> = summary.skipped.iter().map(|e| e.to_string()).collect();
    assert!(
        refused
            .iter()
            .any(|m| m.contains("undeclared.dcm") && m.contains("--reject-likely-burned-in")),
        "{refused:?}"
    );
}
