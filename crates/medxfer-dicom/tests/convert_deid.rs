//! Conversion and de-identification end to end on pydicom's test files: outputs are checked
//! for shapes and values, and every output byte is searched for the original Patient's Name
//! and Patient ID. The de-identified files are also checked by pydicom
//! (`tests/reference/check_deid.py`) when the venv is there.

mod common;

use std::path::{Path, PathBuf};

use medxfer_dicom::convert::{ConvertFormat, ConvertOptions, FrameChoice, convert};
use medxfer_dicom::deid::{DeidOptions, deidentify};
use medxfer_dicom::labels::LabelTable;
use medxfer_dicom::png_out::PngDepth;
use medxfer_dicom::{DicomImage, FrameSelection, Pseudonymizer, WindowSpec};

/// (file name, PatientName, PatientID) of the inputs used.
const INPUTS: &[(&str, &str, &str)] = &[
    ("CT_small.dcm", "CompressedSamples^CT1", "1CT1"),
    ("MR_small.dcm", "CompressedSamples^MR1", "4MR1"),
];

fn options(format: ConvertFormat) -> ConvertOptions {
    ConvertOptions {
        format,
        window: WindowSpec::Auto,
        frames: FrameChoice::All,
        nifti_axis: 2,
        mask_suffix: None,
        labels: None,
        pseudonyms: Pseudonymizer::new("test-salt"),
    }
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn assert_no_identifiers(dir: &Path) {
    let files = all_files(dir);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for (_, name, id) in INPUTS {
            for needle in [*name, *id, "CompressedSamples"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{} contains {needle}",
                    file.display()
                );
            }
        }
    }
}

fn pydicom_folder() -> Option<PathBuf> {
    Some(
        common::test_file_locations()?
            .get("pydicom_test_files")?
            .clone(),
    )
}

#[test]
fn png_and_npz_conversions_hold_the_right_values_and_no_identifiers() {
    let Some(pyd) = pydicom_folder() else {
        return;
    };
    let input = tempfile::tempdir().unwrap();
    let nested = input.path().join("export/series1");
    std::fs::create_dir_all(&nested).unwrap();
    for (name, _, _) in INPUTS {
        // No extension, nested folders: as PACS exports look.
        std::fs::copy(pyd.join(name), nested.join(name.trim_end_matches(".dcm"))).unwrap();
    }
    std::fs::write(nested.join("README.txt"), "not an image").unwrap();
    let labels_csv = input.path().join("labels.csv");
    std::fs::write(
        &labels_csv,
        "sop_instance_uid,label\n1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322,ct\n",
    )
    .unwrap();

    let out = tempfile::tempdir().unwrap();
    let mut png_options = options(ConvertFormat::Png(PngDepth::Sixteen));
    png_options.labels = Some(LabelTable::read_csv(&labels_csv).unwrap());
    let summary = convert(&[input.path().to_path_buf()], out.path(), &png_options).unwrap();
    assert_eq!(summary.converted_files, 2);
    assert_eq!(
        summary.skipped.len(),
        2,
        "labels.csv and README.txt are not DICOM"
    );
    let png = image::open(out.path().join("export/series1/CT_small.png")).unwrap();
    assert_eq!((png.width(), png.height()), (128, 128));
    assert!(matches!(png, image::DynamicImage::ImageLuma16(_)));
    let csv = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with(
            "path,label,frame,mask,patient_id,study_uid,series_uid,modality,body_part"
        )
    );
    assert!(csv.contains("export/series1/CT_small.png,ct,0,"), "{csv}");

    let npz_dir = out.path().join("npz");
    convert(
        &[pyd.join("CT_small.dcm")],
        &npz_dir,
        &options(ConvertFormat::Npz),
    )
    .unwrap();
    let npz = std::fs::read(npz_dir.join("CT_small.npz")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(npz)).unwrap();
    let mut npy = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("pixels.npy").unwrap(), &mut npy).unwrap();
    let scratch = npz_dir.join("pixels.npy.check");
    std::fs::write(&scratch, &npy).unwrap();
    let array = common::read_npy(&scratch).unwrap();
    std::fs::remove_file(&scratch).unwrap();
    assert_eq!(array.shape, vec![128, 128]);
    let image = DicomImage::open(&pyd.join("CT_small.dcm"), FrameSelection::All).unwrap();
    let hu = image.modality_frame(0);
    for (i, value) in hu.iter().enumerate() {
        assert_eq!(array.get(i), *value, "npz holds HU (stored - 1024)");
    }
    assert_no_identifiers(out.path());
}

#[test]
fn manifest_lists_dicom_files_with_pseudonymous_patient_ids() {
    let Some(pyd) = pydicom_folder() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let manifest = out.path().join("manifest.csv");
    let inputs: Vec<PathBuf> = INPUTS.iter().map(|(n, _, _)| pyd.join(n)).collect();
    let summary = convert(&inputs, &manifest, &options(ConvertFormat::Manifest)).unwrap();
    assert_eq!(summary.converted_files, 2);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let pseudonyms = Pseudonymizer::new("test-salt");
    assert_eq!(&rows[0][4], pseudonyms.pseudonym("patient", "1CT1"));
    assert_eq!(&rows[0][7], "CT");
    assert!(rows[0][0].ends_with("CT_small.dcm"));
    for (_, name, id) in INPUTS {
        assert!(!text.contains(name) && !text.contains(&format!(",{id},")));
    }
}

#[test]
fn nifti_volumes_become_slices_with_masks() {
    let Some(locations) = common::test_file_locations() else {
        return;
    };
    let source = locations["nibabel_test_data"].join("anatomical.nii");
    if !source.is_file() {
        eprintln!("SKIP: {} not found", source.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&source, dir.path().join("head.nii")).unwrap();
    // The same volume serves as its own "label volume" to check mask alignment.
    std::fs::copy(&source, dir.path().join("head_seg.nii")).unwrap();
    let volume = medxfer_dicom::nifti_volume::NiftiVolume::open(&source).unwrap();
    let [nx, ny, nz] = volume.shape();
    let out = dir.path().join("out");
    let mut opts = options(ConvertFormat::Png(PngDepth::Eight));
    opts.mask_suffix = Some("_seg".into());
    let summary = convert(&[dir.path().to_path_buf()], &out, &opts).unwrap();
    assert_eq!(summary.converted_files, 1, "{:?}", summary.skipped);
    assert_eq!(summary.outputs, nz);
    let first = image::open(out.join("head_s0000.png")).unwrap();
    assert_eq!((first.width() as usize, first.height() as usize), (nx, ny));
    // Masks line up with their slices: mask pixel (x, y) of slice k is the label volume's
    // value at (x, y, k) (here the image volume itself, clamped to 0..=255).
    let k = nz / 2;
    let mask = image::open(out.join(format!("head_s{k:04}_mask.png")))
        .unwrap()
        .to_luma8();
    let slice = volume.slice(2, k);
    for y in 0..ny {
        for x in 0..nx {
            let want = slice.values[y * nx + x].round().clamp(0.0, 255.0) as u8;
            assert_eq!(
                mask.get_pixel(x as u32, y as u32).0[0],
                want,
                "({x}, {y}, {k})"
            );
            assert_eq!(slice.values[y * nx + x], volume.data[[x, y, k]]);
        }
    }
    let csv = std::fs::read_to_string(out.join("metadata.csv")).unwrap();
    assert!(
        csv.contains("head_s0000.png,,0,head_s0000_mask.png"),
        "{csv}"
    );
}

#[test]
fn deid_removes_identifiers_keeps_pixels_and_replaces_uids_consistently() {
    let Some(pyd) = pydicom_folder() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = [
        "CT_small.dcm",
        "MR_small.dcm",
        "examples_overlay.dcm",
        "rtplan.dcm",
    ]
    .iter()
    .map(|n| pyd.join(n))
    .collect();
    let opts = DeidOptions {
        pseudonyms: Pseudonymizer::new("test-salt"),
        keep_names: false,
        allow_burned_in: false,
        reject_likely_burned_in: false,
    };
    let summary = deidentify(&inputs, out.path(), &opts).unwrap();
    assert_eq!(summary.written.len(), 4, "{:?}", summary.skipped);
    // Re-running with the same salt gives the same file names (new SOP UIDs).
    let again = tempfile::tempdir().unwrap();
    let summary2 = deidentify(&inputs, again.path(), &opts).unwrap();
    let names = |s: &medxfer_dicom::deid::DeidSummary| -> Vec<_> {
        s.written
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&summary), names(&summary2));
    for (original, deid) in inputs.iter().zip(&summary.written).take(2) {
        let a = DicomImage::open(original, FrameSelection::All).unwrap();
        let b = DicomImage::open(deid, FrameSelection::All).unwrap();
        assert_eq!(a.samples, b.samples, "pixels unchanged");
    }
    assert_no_identifiers(out.path());
    let Some(python) = common::test_file_locations().and_then(|l| l.get("python").cloned()) else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/check_deid.py");
    let mut command = std::process::Command::new(&python);
    command.arg(&script);
    for (original, deid) in inputs.iter().zip(&summary.written) {
        command.arg(original).arg(deid);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "pydicom deid check failed:\n{stdout}"
    );
    // The checker itself must reject a file that was not de-identified.
    let control = std::process::Command::new(&python)
        .arg(&script)
        .arg(&inputs[0])
        .arg(&inputs[0])
        .output()
        .unwrap();
    assert!(
        !control.status.success(),
        "check_deid.py accepted an identified file"
    );
}
