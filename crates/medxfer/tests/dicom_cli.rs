//! `medxfer convert` and `medxfer deid` from the command line on pydicom's test files
//! (fetched by `.ci/setup.d/30-dicom-test-files.sh`; SKIP when absent).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// Only the DICOM writer is used here; the other helpers serve other test files.
#[allow(dead_code)]
mod support;
use support::tiny_dicom;

/// (file, PatientName, PatientID) of pydicom test files used here.
const INPUTS: &[(&str, &str, &str)] = &[
    ("CT_small.dcm", "CompressedSamples^CT1", "1CT1"),
    ("MR_small.dcm", "CompressedSamples^MR1", "4MR1"),
];

fn cache_dir() -> PathBuf {
    match std::env::var_os("MEDXFER_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"),
    }
}

fn locations() -> Option<HashMap<String, PathBuf>> {
    let list = cache_dir().join("dicom-test-files.txt");
    let Ok(text) = std::fs::read_to_string(&list) else {
        eprintln!("SKIP: DICOM test files not found at {}", list.display());
        return None;
    };
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect(),
    )
}

fn medxfer(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medxfer"))
        .args(args)
        .env_remove("MEDXFER_SALT")
        .output()
        .expect("run medxfer")
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

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

/// Fails if any output file contains an original PatientName or PatientID.
fn assert_no_identifiers(dir: &Path, stdout_stderr: &[&Output]) {
    let mut texts: Vec<(String, Vec<u8>)> = all_files(dir)
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect();
    for (i, out) in stdout_stderr.iter().enumerate() {
        texts.push((format!("stdout {i}"), out.stdout.clone()));
        texts.push((format!("stderr {i}"), out.stderr.clone()));
    }
    for (name, bytes) in texts {
        for (_, patient_name, patient_id) in INPUTS {
            for needle in [*patient_name, *patient_id, "CompressedSamples"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{name} contains {needle}"
                );
            }
        }
    }
}

fn input_folder(pydicom: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("study");
    std::fs::create_dir_all(&nested).unwrap();
    for (name, _, _) in INPUTS {
        std::fs::copy(pydicom.join(name), nested.join(name)).unwrap();
    }
    std::fs::write(nested.join("notes.dcm"), "not DICOM").unwrap();
    dir
}

#[test]
fn convert_folder_to_png_and_npz_without_leaking_identifiers() {
    let Some(loc) = locations() else { return };
    let pydicom = &loc["pydicom_test_files"];
    let input = input_folder(pydicom);
    let out = tempfile::tempdir().unwrap();
    let png_dir = out.path().join("png");
    let png = medxfer(&[
        os("convert"),
        input.path().as_os_str(),
        os("--to"),
        os("png"),
        os("--bits"),
        os("16"),
        os("--out"),
        png_dir.as_os_str(),
    ]);
    assert!(
        png.status.success(),
        "{}",
        String::from_utf8_lossy(&png.stderr)
    );
    let stderr = String::from_utf8_lossy(&png.stderr);
    assert!(
        stderr.contains("notes.dcm") && stderr.contains("not a readable DICOM file"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&png.stdout);
    assert!(
        stdout.contains("converted 2 file(s)") && stdout.contains("skipped 1"),
        "{stdout}"
    );
    assert!(png_dir.join("study/CT_small.png").is_file());
    assert!(png_dir.join("metadata.csv").is_file());

    // --strict turns the skipped file into a failure exit.
    let strict = medxfer(&[
        os("convert"),
        input.path().as_os_str(),
        os("--to"),
        os("png"),
        os("--out"),
        out.path().join("strict").as_os_str(),
        os("--strict"),
    ]);
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("--strict"));

    let npz_dir = out.path().join("npz");
    let emri = loc["pydicom_data"].join("emri_small.dcm");
    let npz = medxfer(&[
        os("convert"),
        input.path().as_os_str(),
        emri.as_os_str(),
        os("--to"),
        os("npz"),
        os("--out"),
        npz_dir.as_os_str(),
        os("--salt"),
        os("cli-test"),
    ]);
    assert!(
        npz.status.success(),
        "{}",
        String::from_utf8_lossy(&npz.stderr)
    );
    // Multi-frame: one (frames, rows, cols) float32 array.
    let bytes = std::fs::read(npz_dir.join("emri_small.npz")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("pixels.npy"));
    let metadata = std::fs::read_to_string(npz_dir.join("metadata.csv")).unwrap();
    assert!(metadata.contains("emri_small.npz"), "{metadata}");
    assert_no_identifiers(out.path(), &[&png, &strict, &npz]);
}

#[test]
fn bad_single_file_gives_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.dcm");
    std::fs::write(&bad, [0u8; 200]).unwrap();
    let out = medxfer(&[
        os("convert"),
        bad.as_os_str(),
        os("--to"),
        os("png"),
        os("--out"),
        dir.path().join("out").as_os_str(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.dcm"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    let bad_window = medxfer(&[
        os("convert"),
        bad.as_os_str(),
        os("--to"),
        os("png"),
        os("--window"),
        os("wide"),
        os("--out"),
        dir.path().join("out").as_os_str(),
    ]);
    assert!(!bad_window.status.success());
    assert!(String::from_utf8_lossy(&bad_window.stderr).contains("window `wide`"));
}

#[test]
fn deid_folder_round_trips_through_pydicom() {
    let Some(loc) = locations() else { return };
    let pydicom = &loc["pydicom_test_files"];
    let input = input_folder(pydicom);
    let out = tempfile::tempdir().unwrap();
    let deid_dir = out.path().join("deid");
    let run = medxfer(&[
        os("deid"),
        input.path().as_os_str(),
        deid_dir.as_os_str(),
        os("--keep-names"),
        os("--salt"),
        os("cli-test"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("de-identified 2 file(s)"));
    assert!(String::from_utf8_lossy(&run.stderr).contains("notes.dcm"));
    let outputs: Vec<PathBuf> = INPUTS
        .iter()
        .map(|(n, _, _)| deid_dir.join("study").join(n))
        .collect();
    assert!(outputs.iter().all(|p| p.is_file()));

    // Converting the de-identified files leaks nothing either.
    let png = medxfer(&[
        os("convert"),
        deid_dir.as_os_str(),
        os("--to"),
        os("png"),
        os("--out"),
        out.path().join("png").as_os_str(),
    ]);
    assert!(
        png.status.success(),
        "{}",
        String::from_utf8_lossy(&png.stderr)
    );
    assert_no_identifiers(out.path(), &[&run, &png]);

    let Some(python) = loc.get("python").filter(|p| p.is_file()) else {
        eprintln!("SKIP: pydicom venv not found; deid not checked with pydicom");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../medxfer-dicom/tests/reference/check_deid.py");
    let mut check = Command::new(python);
    check.arg(script);
    for ((name, _, _), deid) in INPUTS.iter().zip(&outputs) {
        check.arg(input.path().join("study").join(name)).arg(deid);
    }
    let checked = check.output().unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "pydicom deid check failed:\n{stdout}"
    );
    assert!(
        stdout.contains("deid check: 2 passed, 0 failed"),
        "{stdout}"
    );
}

fn error_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect()
}

/// medxfer under `ulimit -v` (KiB): an allocation of the declared 4 GB cannot happen.
fn medxfer_limited(kib: u32, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_medxfer"))
        .args(args)
        .env_remove("MEDXFER_SALT")
        .output()
        .expect("run bash")
}

#[test]
fn forged_pixel_data_length_fails_in_one_line_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let forged = dir.path().join("forged.dcm");
    std::fs::write(&forged, tiny_dicom(200, 200, "CT", Some(0xFFFF_FFF0))).unwrap();
    assert_eq!(std::fs::metadata(&forged).unwrap().len() / 1024, 39);
    let (png, deid_out) = (dir.path().join("png"), dir.path().join("deid"));
    let convert = [
        os("convert"),
        forged.as_os_str(),
        os("--to"),
        os("png"),
        os("--out"),
        png.as_os_str(),
    ];
    let deid = [
        os("deid"),
        forged.as_os_str(),
        deid_out.as_os_str(),
        os("--salt"),
        os("s"),
    ];
    for args in [&convert[..], &deid[..]] {
        let out = medxfer_limited(2_000_000, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("forged.dcm: PixelData (7FE0,0010) declares 4294967280 bytes")
                && stderr.contains("the file has 39 KB"),
            "{stderr}"
        );
        assert_eq!(error_lines(&out).len(), 1, "{stderr}");
    }
}

#[test]
fn deid_refuses_to_write_over_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let file = input.join("a.dcm");
    let bytes = tiny_dicom(8, 8, "CT", None);
    std::fs::write(&file, &bytes).unwrap();
    let same_folder = medxfer(&[os("deid"), input.as_os_str(), input.join(".").as_os_str()]);
    let same_file = medxfer(&[
        os("deid"),
        file.as_os_str(),
        input.join("./a.dcm").as_os_str(),
    ]);
    for out in [&same_folder, &same_file] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert_eq!(error_lines(out).len(), 1, "{stderr}");
        assert!(stderr.contains(&input.display().to_string()), "{stderr}");
    }
    assert!(String::from_utf8_lossy(&same_folder.stderr).contains("input folder"));
    assert!(String::from_utf8_lossy(&same_file.stderr).contains("same file"));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!(std::fs::read_dir(&input).unwrap().count(), 1);
}

#[test]
fn deid_warns_about_likely_burned_in_ultrasound_and_can_refuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let us = dir.path().join("us.dcm");
    std::fs::write(&us, tiny_dicom(8, 8, "US", None)).unwrap();
    let warned = medxfer(&[os("deid"), us.as_os_str(), dir.path().join("a").as_os_str()]);
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(warned.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("us.dcm") && stderr.contains("modality US"),
        "{stderr}"
    );
    let refused = medxfer(&[
        os("deid"),
        us.as_os_str(),
        dir.path().join("b").as_os_str(),
        os("--reject-likely-burned-in"),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--reject-likely-burned-in"));
    for output in all_files(&dir.path().join("a")) {
        let bytes = std::fs::read(&output).unwrap();
        assert!(
            !bytes.windows(3).any(|w| w == b"Doe"),
            "{}",
            output.display()
        );
    }
}
