//! `deid` must never write over its inputs: an output folder that is an input folder or
//! inside one (however spelled, also through symlinks), or an output file that is an input
//! file (same device and inode), is refused and the originals stay byte-for-byte the same.

mod common;

use std::path::{Path, PathBuf};

use medxfer_dicom::Pseudonymizer;
use medxfer_dicom::deid::{DeidOptions, DeidSummary, deidentify};

fn options(keep_names: bool) -> DeidOptions {
    DeidOptions {
        pseudonyms: Pseudonymizer::new("salt"),
        keep_names,
        allow_burned_in: false,
        reject_likely_burned_in: false,
    }
}

/// A folder `in/` holding `in/a.dcm`; returns (temp dir, in, a.dcm, a.dcm's bytes).
fn input_folder() -> (tempfile::TempDir, PathBuf, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let file = input.join("a.dcm");
    let bytes = common::synthetic_dicom(8, 8, vec![]);
    std::fs::write(&file, &bytes).unwrap();
    (dir, input, file, bytes)
}

fn file_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn refused(result: Result<DeidSummary, medxfer_dicom::DicomError>, named: &Path) -> String {
    let message = match result {
        Err(err) => err.to_string(),
        Ok(summary) => {
            assert!(summary.written.is_empty(), "wrote {:?}", summary.written);
            assert_eq!(summary.skipped.len(), 1, "{:?}", summary.skipped);
            summary.skipped[0].to_string()
        }
    };
    assert!(message.contains(&named.display().to_string()), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    message
}

#[test]
fn output_folder_equal_to_or_inside_an_input_folder_is_refused() {
    let (dir, input, file, bytes) = input_folder();
    let spellings = [
        input.clone(),
        input.join("."),
        dir.path().join("in/../in"),
        input.join("deid"),
        input.join("new/../deid"),
    ];
    for out in spellings {
        for keep_names in [false, true] {
            let result = deidentify(std::slice::from_ref(&input), &out, &options(keep_names));
            let message = refused(result, &out);
            assert!(message.contains("input folder"), "{message}");
        }
    }
    // Through a symlink to the input folder, either side.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let out = input.join("out");
    let result = deidentify(std::slice::from_ref(&link), &out, &options(false));
    refused(result, &out);
    let out = link.join("out");
    let result = deidentify(std::slice::from_ref(&input), &out, &options(false));
    refused(result, &out);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!(
        file_count(&input),
        1,
        "nothing written into the input folder"
    );
}

#[test]
fn output_file_that_is_the_input_file_is_refused() {
    let (dir, input, file, bytes) = input_folder();
    let link = dir.path().join("link.dcm");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let hard = dir.path().join("hard.dcm");
    std::fs::hard_link(&file, &hard).unwrap();
    for out in [file.clone(), input.join("./a.dcm"), link, hard] {
        let result = deidentify(std::slice::from_ref(&file), &out, &options(false));
        let message = refused(result, &out);
        assert!(message.contains("same file"), "{message}");
        assert_eq!(std::fs::read(&file).unwrap(), bytes);
    }
    // --keep-names into the file's own folder would replace it under its own name.
    let result = deidentify(std::slice::from_ref(&file), &input, &options(true));
    refused(result, &file);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}

#[test]
fn separate_output_folder_still_works() {
    let (dir, input, file, bytes) = input_folder();
    let out = dir.path().join("in-deid");
    let summary = deidentify(std::slice::from_ref(&input), &out, &options(true)).unwrap();
    assert_eq!(summary.written, vec![out.join("a.dcm")]);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}
