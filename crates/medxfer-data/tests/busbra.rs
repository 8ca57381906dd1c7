//! The BUS-BRA source on small generated copies of its layout, its errors, and the official
//! folds through `predefined_kfold`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use medxfer_data::{Dataset, DatasetSource, Fold, ImageSource, Sample, predefined_kfold};

/// Six patients: 1-3 with `l`/`r` views, 4-6 with one `s` view. Patient p is in fold
/// `(p - 1) % 5 + 1` of the 5-fold file and fold p of the 10-fold one; odd patients are
/// malignant.
fn rows() -> Vec<(String, u32)> {
    let mut rows = Vec::new();
    for patient in 1..=6u32 {
        let views: &[&str] = if patient <= 3 { &["l", "r"] } else { &["s"] };
        for view in views {
            rows.push((format!("bus_{patient:04}-{view}"), patient));
        }
    }
    rows
}

fn fold_of(patient: u32) -> u32 {
    (patient - 1) % 5 + 1
}

/// Writes images (a bright square on black), masks (the same square), `bus_data.csv` and
/// both fold files.
fn write_busbra(root: &Path) {
    std::fs::create_dir_all(root.join("images")).unwrap();
    std::fs::create_dir_all(root.join("masks")).unwrap();
    let mut data =
        String::from("ID,Case,Histology,Pathology,BIRADS,Device,Width,Height,Side,BBOX\n");
    let mut five = String::from("ID,Pathology,kFold,valid_1,valid_2,valid_3,valid_4,valid_5\n");
    let mut ten = String::from("ID,Pathology,kFold\n");
    for (id, patient) in rows() {
        let square = |x: u32, y: u32| (4..10).contains(&x) && (3..7).contains(&y);
        common::gray8(&root.join(format!("images/{id}.png")), 20, 12, |x, y| {
            if square(x, y) { 255 } else { 0 }
        });
        let mask = root.join(format!("masks/mask_{}.png", &id[4..]));
        common::gray8(&mask, 20, 12, |x, y| if square(x, y) { 255 } else { 0 });
        let pathology = if patient % 2 == 1 {
            "malignant"
        } else {
            "benign"
        };
        let device = if patient <= 3 {
            "GE Logiq 7"
        } else {
            "Toshiba Aplio 300"
        };
        data.push_str(&format!(
            "{id},{patient},fibroadenoma,{pathology},4,{device},20,12,left,\"[4,3,6,4]\"\n"
        ));
        five.push_str(&format!(
            "{id},{pathology},{},1,1,NaN,1,1\n",
            fold_of(patient)
        ));
        ten.push_str(&format!("{id},{pathology},{patient}\n"));
    }
    std::fs::write(root.join("bus_data.csv"), data).unwrap();
    std::fs::write(root.join("5-fold-cv.csv"), five).unwrap();
    std::fs::write(root.join("10-fold-cv.csv"), ten).unwrap();
}

fn busbra(root: &Path, folds: Option<u32>) -> DatasetSource {
    DatasetSource::Busbra {
        root: root.to_path_buf(),
        folds,
    }
}

fn load_error(root: &Path) -> String {
    let err = Dataset::load(&busbra(root, None)).unwrap_err().to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    err
}

#[test]
fn busbra_layout_loads_with_labels_patients_devices_and_folds() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let data = Dataset::load(&busbra(dir.path(), None)).unwrap();
    assert_eq!(data.class_names, vec!["benign", "malignant"]);
    assert_eq!(data.len(), 9);
    assert_eq!(data.class_counts(), vec![4, 5]);
    let first = &data.samples[0];
    assert_eq!(first.id, "images/bus_0001-l.png");
    assert_eq!(first.path, dir.path().join("images/bus_0001-l.png"));
    assert_eq!(first.source, ImageSource::File(first.path.clone()));
    assert_eq!(first.label, 1);
    assert_eq!(first.patient_id.as_deref(), Some("1"));
    assert_eq!(first.center.as_deref(), Some("GE Logiq 7"));
    assert_eq!(
        first.mask_paths,
        vec![dir.path().join("masks/mask_0001-l.png")]
    );
    let expected: BTreeMap<String, String> = [
        ("bbox", "[4,3,6,4]"),
        ("birads", "4"),
        ("fold", "1"),
        ("histology", "fibroadenoma"),
        ("side", "left"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(first.metadata, expected);
    assert_eq!(
        data.samples[8].metadata["fold"], "1",
        "patient 6 wraps to fold 1"
    );

    let folds = predefined_kfold(&data).unwrap();
    assert_eq!(folds.len(), 5);
    // Fold 1 tests patients 1 and 6 (indices 0, 1 and 8); the rest train.
    assert_eq!(
        folds[0],
        Fold {
            train: (2..8).collect(),
            test: vec![0, 1, 8],
        }
    );
    assert_eq!(folds[4].test, vec![7], "patient 5 alone in fold 5");

    let ten = Dataset::load(&busbra(dir.path(), Some(10))).unwrap();
    let folds = predefined_kfold(&ten).unwrap();
    assert_eq!(
        folds.len(),
        6,
        "patient p sits in fold p of the 10-fold file"
    );
    assert_eq!(folds[0].test, vec![0, 1]);
}

#[test]
fn busbra_source_from_toml() {
    // The form used inside a `[data]` table.
    let parse = |text: &str| {
        toml::from_str::<BTreeMap<String, DatasetSource>>(text).map(|mut t| t.remove("source"))
    };
    let plain = parse(r#"source = { kind = "busbra", root = "../shared/data/busbra" }"#).unwrap();
    assert_eq!(
        plain,
        Some(busbra(Path::new("../shared/data/busbra"), None))
    );
    let ten = parse(r#"source = { kind = "busbra", root = "b", folds = 10 }"#).unwrap();
    let ten = ten.unwrap();
    assert_eq!(ten, busbra(Path::new("b"), Some(10)));
    assert_eq!(ten.location(), Path::new("b"));
    let err = parse(r#"source = { kind = "busbra", root = "b", fold = 5 }"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `fold`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let err = Dataset::load(&busbra(dir.path(), Some(7)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("folds = 7"), "{err}");
}

#[test]
fn image_without_its_mask_is_an_error_naming_the_mask() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    std::fs::remove_file(dir.path().join("masks/mask_0002-r.png")).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("mask_0002-r.png: file not found") && err.contains("bus_0002-r.png"),
        "{err}"
    );
}

#[test]
fn csv_row_without_image_is_an_error_naming_the_image() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    std::fs::remove_file(dir.path().join("images/bus_0004-s.png")).unwrap();
    std::fs::remove_file(dir.path().join("masks/mask_0004-s.png")).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("bus_0004-s.png: file not found") && err.contains("bus_data.csv line 8"),
        "{err}"
    );
}

#[test]
fn image_or_mask_without_csv_row_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let extra = dir.path().join("images/bus_0099-s.png");
    common::gray8(&extra, 4, 4, |_, _| 0);
    let err = load_error(dir.path());
    assert!(
        err.contains("bus_0099-s.png: image has no row in") && err.contains("bus_data.csv"),
        "{err}"
    );
    std::fs::remove_file(&extra).unwrap();
    common::gray8(&dir.path().join("masks/mask_0098-l.png"), 4, 4, |_, _| 0);
    let err = load_error(dir.path());
    assert!(err.contains("mask_0098-l.png: mask has no row in"), "{err}");
}

#[test]
fn fold_file_must_match_the_data_csv() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let path = dir.path().join("5-fold-cv.csv");
    let original = std::fs::read_to_string(&path).unwrap();

    let without_row: String = original
        .lines()
        .filter(|l| !l.starts_with("bus_0003-l"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, without_row).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("5-fold-cv.csv: no row for bus_0003-l (bus_data.csv line 6)"),
        "{err}"
    );

    std::fs::write(&path, format!("{original}bus_0077-s,benign,2,1,1,1,1,1\n")).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("line 11: bus_0077-s has no row in bus_data.csv"),
        "{err}"
    );

    std::fs::write(
        &path,
        original.replacen("bus_0001-l,malignant,1", "bus_0001-l,malignant,6", 1),
    )
    .unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("5-fold-cv.csv: line 2: kFold '6' is not a fold 1..5"),
        "{err}"
    );
}

#[test]
fn bad_pathology_and_duplicate_ids_are_csv_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let path = dir.path().join("bus_data.csv");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, original.replacen("benign", "normal", 1)).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("bus_data.csv: line 4: Pathology 'normal' is not benign or malignant"),
        "{err}"
    );
    let first_row = original.lines().nth(1).unwrap();
    std::fs::write(&path, format!("{original}{first_row}\n")).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("line 11: ID 'bus_0001-l' repeats line 2"),
        "{err}"
    );
}

#[test]
fn patient_spanning_two_folds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let path = dir.path().join("5-fold-cv.csv");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        original.replacen("bus_0002-r,benign,2", "bus_0002-r,benign,4", 1),
    )
    .unwrap();
    let data = Dataset::load(&busbra(dir.path(), None)).unwrap();
    let err = predefined_kfold(&data).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot split: patient '2' spans folds 2 (images/bus_0002-l.png) and 4 (images/bus_0002-r.png)"
    );
}

fn sample(id: &str, fold: Option<&str>, patient: Option<&str>) -> Sample {
    Sample {
        id: id.into(),
        path: id.into(),
        source: ImageSource::File(id.into()),
        label: 0,
        patient_id: patient.map(str::to_string),
        center: None,
        origin: None,
        split: None,
        mask_paths: Vec::new(),
        metadata: fold
            .map(|f| [("fold".to_string(), f.to_string())].into_iter().collect())
            .unwrap_or_default(),
    }
}

fn dataset(samples: Vec<Sample>) -> Dataset {
    Dataset {
        class_names: vec!["a".into()],
        samples,
    }
}

#[test]
fn predefined_folds_need_a_consecutive_fold_number_on_every_sample() {
    let zero_based = dataset(vec![
        sample("a", Some("1"), None),
        sample("b", Some("0"), None),
        sample("c", Some("1"), Some("p")),
    ]);
    let folds = predefined_kfold(&zero_based).unwrap();
    assert_eq!(
        folds[0],
        Fold {
            train: vec![0, 2],
            test: vec![1]
        }
    );
    assert_eq!(
        folds[1],
        Fold {
            train: vec![1],
            test: vec![0, 2]
        }
    );

    let missing = dataset(vec![sample("a", Some("1"), None), sample("b", None, None)]);
    let err = predefined_kfold(&missing).unwrap_err().to_string();
    assert!(err.contains("sample b has no predefined fold"), "{err}");
    let garbage = dataset(vec![
        sample("a", Some("1"), None),
        sample("b", Some("x"), None),
    ]);
    let err = predefined_kfold(&garbage).unwrap_err().to_string();
    assert!(err.contains("sample b: fold 'x'"), "{err}");
    let gap = dataset(vec![
        sample("a", Some("1"), None),
        sample("b", Some("3"), None),
    ]);
    let err = predefined_kfold(&gap).unwrap_err().to_string();
    assert!(err.contains("[1, 3] must be consecutive"), "{err}");
    let single = dataset(vec![sample("a", Some("1"), None)]);
    assert!(predefined_kfold(&single).is_err());
    assert!(predefined_kfold(&dataset(Vec::new())).is_err());
}

#[test]
fn cache_keeps_busbra_masks_binary_and_aligned() {
    let dir = tempfile::tempdir().unwrap();
    write_busbra(dir.path());
    let data = Dataset::load(&busbra(dir.path(), None)).unwrap();
    let spec = medxfer_data::PreprocessSpec {
        size: 16,
        channels: 1,
    };
    let cache = medxfer_data::ImageCache::build(&data, &spec, None).unwrap();
    for i in 0..data.len() {
        let mask = cache.mask(i).expect("every BUS-BRA sample has a mask");
        let image = cache.get(i);
        // Image and mask hold the same square, so the thresholded image is the mask.
        let expected: Vec<u8> = image.pixels.iter().map(|&v| u8::from(v >= 0.5)).collect();
        assert_eq!(mask.pixels, expected, "{}", data.samples[i].id);
        let lesion = mask.pixels.iter().filter(|&&v| v == 1).count();
        assert!(lesion > 4 && lesion < 40, "{lesion}");
    }
}
