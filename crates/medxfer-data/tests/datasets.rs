//! Loading datasets from class folders, npz files and CSV manifests, and their errors.

mod common;

use std::path::Path;

use medxfer_data::{DataError, Dataset, DatasetSource, ImageSource, SplitName};

fn folder(root: &Path) -> DatasetSource {
    DatasetSource::Folder {
        root: root.to_path_buf(),
        classes: None,
    }
}

/// b/ and a/ classes with masks, a stray text file and a hidden file.
fn write_class_tree(root: &Path) {
    for class in ["b_class", "a_class"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
    }
    common::gray8(&root.join("a_class/img (1).png"), 6, 4, |x, _| x as u8);
    common::gray8(&root.join("a_class/img (1)_mask.png"), 6, 4, |_, _| 0);
    common::gray8(&root.join("a_class/img (1)_mask_1.png"), 6, 4, |_, _| 255);
    common::rgb8(&root.join("a_class/img (2).png"), 4, 4, |_, _| [1, 2, 3]);
    common::gray8(&root.join("b_class/x.png"), 4, 4, |_, _| 9);
    std::fs::write(root.join("b_class/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("b_class/.hidden.png"), "junk").unwrap();
}

#[test]
fn folder_dataset_sorted_classes_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    write_class_tree(dir.path());
    let data = Dataset::load(&folder(dir.path())).unwrap();
    assert_eq!(data.class_names, vec!["a_class", "b_class"]);
    assert_eq!(
        data.len(),
        3,
        "masks, text and hidden files are not samples"
    );
    let ids: Vec<&str> = data.samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "a_class/img (1).png",
            "a_class/img (2).png",
            "b_class/x.png"
        ]
    );
    assert_eq!(data.labels(), vec![0, 0, 1]);
    let first = &data.samples[0];
    let mask_names: Vec<String> = first
        .mask_paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(mask_names, vec!["img (1)_mask.png", "img (1)_mask_1.png"]);
    assert!(data.samples[1].mask_paths.is_empty());
    assert_eq!(first.source, ImageSource::File(first.path.clone()));
    assert_eq!(data.class_counts(), vec![2, 1]);
}

#[test]
fn folder_classes_from_config_set_order_and_subset() {
    let dir = tempfile::tempdir().unwrap();
    write_class_tree(dir.path());
    let source = DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: Some(vec!["b_class".into(), "a_class".into()]),
    };
    let data = Dataset::load(&source).unwrap();
    assert_eq!(data.class_names, vec!["b_class", "a_class"]);
    // Samples follow the configured class order.
    assert_eq!(data.labels(), vec![0, 1, 1]);
    assert_eq!(data.samples[0].id, "b_class/x.png");

    let missing = DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: Some(vec!["nope".into()]),
    };
    let err = Dataset::load(&missing).unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn empty_class_folder_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_class_tree(dir.path());
    std::fs::create_dir(dir.path().join("c_empty")).unwrap();
    std::fs::write(dir.path().join("c_empty/readme.txt"), "x").unwrap();
    let err = Dataset::load(&folder(dir.path())).unwrap_err();
    assert!(matches!(err, DataError::EmptyClass { .. }), "{err:?}");
    assert!(err.to_string().contains("c_empty"), "{err}");

    let no_classes = tempfile::tempdir().unwrap();
    let err = Dataset::load(&folder(no_classes.path())).unwrap_err();
    assert!(matches!(err, DataError::NoClasses { .. }), "{err:?}");
    let err = Dataset::load(&folder(&no_classes.path().join("absent"))).unwrap_err();
    assert!(err.to_string().contains("absent"), "{err}");
}

#[test]
fn select_classes_relabels_in_given_order_and_positive_class() {
    let dir = tempfile::tempdir().unwrap();
    write_class_tree(dir.path());
    std::fs::create_dir(dir.path().join("c_class")).unwrap();
    common::gray8(&dir.path().join("c_class/z.png"), 2, 2, |_, _| 0);
    let data = Dataset::load(&folder(dir.path())).unwrap();
    assert_eq!(data.class_names.len(), 3);
    assert_eq!(data.positive_class(None).unwrap(), None);

    let picked = data
        .select_classes(&["c_class".to_string(), "a_class".to_string()])
        .unwrap();
    assert_eq!(picked.class_names, vec!["c_class", "a_class"]);
    let pairs: Vec<(&str, usize)> = picked
        .samples
        .iter()
        .map(|s| (s.id.as_str(), s.label))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("a_class/img (1).png", 1),
            ("a_class/img (2).png", 1),
            ("c_class/z.png", 0)
        ]
    );
    assert_eq!(picked.positive_class(Some("a_class")).unwrap(), Some(1));
    assert_eq!(picked.positive_class(None).unwrap(), Some(1));
    let err = picked
        .positive_class(Some("b_class"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b_class") && err.contains("c_class, a_class"),
        "{err}"
    );
    assert!(data.select_classes(&["zzz".to_string()]).is_err());
    assert!(
        data.select_classes(&["a_class".to_string(), "a_class".to_string()])
            .is_err()
    );
}

#[test]
fn dataset_source_toml_and_unknown_keys() {
    let parsed: DatasetSource =
        toml::from_str("kind = \"folder\"\nroot = \"data/busi\"\n").unwrap();
    assert_eq!(
        parsed,
        DatasetSource::Folder {
            root: "data/busi".into(),
            classes: None
        }
    );
    let parsed: DatasetSource =
        toml::from_str("kind = \"npz\"\npath = \"b.npz\"\nclasses = [\"malignant\", \"benign\"]\n")
            .unwrap();
    assert!(matches!(parsed, DatasetSource::Npz { classes: Some(ref c), .. } if c.len() == 2));
    let parsed: DatasetSource = toml::from_str("kind = \"csv\"\npath = \"m.csv\"\n").unwrap();
    assert!(matches!(parsed, DatasetSource::Csv { .. }));

    let err = toml::from_str::<DatasetSource>("kind = \"folder\"\nroot = \"x\"\nrooot = \"y\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("rooot"), "{err}");
    assert!(toml::from_str::<DatasetSource>("kind = \"dicomdir\"\nroot = \"x\"\n").is_err());
}

fn images(n: usize, side: usize, base: u8) -> Vec<u8> {
    (0..n * side * side)
        .map(|i| base.wrapping_add(i as u8))
        .collect()
}

#[test]
fn npz_with_flat_and_column_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mini.npz");
    common::npz(
        &path,
        3,
        &[
            ("train", images(4, 3, 0), vec![0, 1, 1, 0], false),
            ("val", images(2, 3, 50), vec![1, 0], true),
            ("test", images(3, 3, 100), vec![2, 0, 1], true),
        ],
    );
    let data = Dataset::load(&DatasetSource::Npz {
        path: path.clone(),
        classes: None,
    })
    .unwrap();
    assert_eq!(data.class_names, vec!["0", "1", "2"]);
    assert_eq!(data.len(), 9);
    assert_eq!(data.labels(), vec![0, 1, 1, 0, 1, 0, 2, 0, 1]);
    assert_eq!(data.split_indices(SplitName::Train), vec![0, 1, 2, 3]);
    assert_eq!(data.split_indices(SplitName::Val), vec![4, 5]);
    assert_eq!(data.filter_split(SplitName::Test).len(), 3);
    assert_eq!(data.samples[5].id, "val/1");
    assert_eq!(
        data.samples[5].source,
        ImageSource::Npz {
            file: path.clone(),
            key: "val_images".into(),
            index: 1
        }
    );

    let named = Dataset::load(&DatasetSource::Npz {
        path: path.clone(),
        classes: Some(vec!["x".into(), "y".into(), "z".into()]),
    })
    .unwrap();
    assert_eq!(named.class_names, vec!["x", "y", "z"]);
    let err = Dataset::load(&DatasetSource::Npz {
        path: path.clone(),
        classes: Some(vec!["x".into(), "y".into()]),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mini.npz") && err.contains("test_labels"),
        "{err}"
    );
}

#[test]
fn npz_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mismatched = dir.path().join("mismatch.npz");
    common::npz(
        &mismatched,
        2,
        &[("train", images(3, 2, 0), vec![0, 1, 0], false)],
    );
    // Rewrite with a label count that does not match the images.
    let file = std::fs::File::create(&mismatched).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    use std::io::Write;
    zip.start_file("train_images.npy", options).unwrap();
    zip.write_all(&medxfer_data::npy::write_npy(
        "|u1",
        &[3, 2, 2],
        &images(3, 2, 0),
    ))
    .unwrap();
    zip.start_file("train_labels.npy", options).unwrap();
    zip.write_all(&medxfer_data::npy::write_npy("|u1", &[2], &[0, 1]))
        .unwrap();
    zip.finish().unwrap();
    let err = Dataset::load(&DatasetSource::Npz {
        path: mismatched,
        classes: None,
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mismatch.npz") && err.contains("train_labels"),
        "{err}"
    );

    let not_zip = dir.path().join("text.npz");
    std::fs::write(&not_zip, "hello").unwrap();
    let err = Dataset::load(&DatasetSource::Npz {
        path: not_zip,
        classes: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("text.npz"), "{err}");

    let missing = dir.path().join("absent.npz");
    let err = Dataset::load(&DatasetSource::Npz {
        path: missing,
        classes: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("absent.npz"), "{err}");
}

fn write_csv_fixture(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("img")).unwrap();
    for name in ["a.png", "b.png", "c.png", "m.png", "m2.png"] {
        common::gray8(&dir.join("img").join(name), 4, 4, |_, _| 1);
    }
    let csv = dir.join("manifest.csv");
    std::fs::write(
        &csv,
        "path,label,patient_id,center,split,mask,scanner\n\
         img/a.png,tumour,p1,c1,train,img/m.png;img/m2.png,GE\n\
         img/b.png,healthy,p2,,val,,Siemens\n\
         img/c.png,tumour,p1,c2,test,,\n",
    )
    .unwrap();
    csv
}

#[test]
fn csv_manifest_with_optional_and_extra_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv_fixture(dir.path());
    let data = Dataset::load(&DatasetSource::Csv {
        path: csv.clone(),
        classes: None,
    })
    .unwrap();
    assert_eq!(data.class_names, vec!["healthy", "tumour"]);
    assert_eq!(data.labels(), vec![1, 0, 1]);
    let a = &data.samples[0];
    assert_eq!(a.id, "img/a.png");
    assert_eq!(a.path, dir.path().join("img/a.png"));
    assert_eq!(a.patient_id.as_deref(), Some("p1"));
    assert_eq!(a.center.as_deref(), Some("c1"));
    assert_eq!(a.split, Some(SplitName::Train));
    assert_eq!(a.mask_paths.len(), 2);
    assert_eq!(a.metadata.get("scanner").map(String::as_str), Some("GE"));
    assert_eq!(data.samples[1].center, None);
    assert_eq!(data.samples[1].split, Some(SplitName::Val));
    assert_eq!(
        data.groups(),
        Some(vec!["p1".to_string(), "p2".into(), "p1".into()])
    );

    // Integer labels index configured classes.
    std::fs::write(
        dir.path().join("ints.csv"),
        "path,label\nimg/a.png,1\nimg/b.png,0\n",
    )
    .unwrap();
    let data = Dataset::load(&DatasetSource::Csv {
        path: dir.path().join("ints.csv"),
        classes: Some(vec!["neg".into(), "pos".into()]),
    })
    .unwrap();
    assert_eq!(data.labels(), vec![1, 0]);
    // Numeric labels without configured classes sort numerically.
    std::fs::write(
        dir.path().join("nums.csv"),
        "path,label\nimg/a.png,10\nimg/b.png,2\n",
    )
    .unwrap();
    let data = Dataset::load(&DatasetSource::Csv {
        path: dir.path().join("nums.csv"),
        classes: None,
    })
    .unwrap();
    assert_eq!(data.class_names, vec!["2", "10"]);
}

#[test]
fn csv_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_csv_fixture(dir.path());
    let load = |name: &str, text: &str, classes: Option<Vec<String>>| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Dataset::load(&DatasetSource::Csv { path, classes })
            .unwrap_err()
            .to_string()
    };
    let err = load(
        "missing.csv",
        "path,label\nimg/a.png,x\nimg/nothere.png,y\n",
        None,
    );
    assert!(
        err.contains("nothere.png") && err.contains("missing.csv line 3"),
        "{err}"
    );
    let err = load(
        "badlabel.csv",
        "path,label\nimg/a.png,cat\n",
        Some(vec!["dog".into()]),
    );
    assert!(
        err.contains("badlabel.csv") && err.contains("line 2") && err.contains("cat"),
        "{err}"
    );
    let err = load("nolabel.csv", "path,label\nimg/a.png,\n", None);
    assert!(
        err.contains("nolabel.csv") && err.contains("label"),
        "{err}"
    );
    let err = load("header.csv", "file,class\nimg/a.png,x\n", None);
    assert!(
        err.contains("header.csv") && err.contains("'path'"),
        "{err}"
    );
    let err = load("split.csv", "path,label,split\nimg/a.png,x,holdout\n", None);
    assert!(
        err.contains("split.csv") && err.contains("holdout"),
        "{err}"
    );
    let err = load(
        "mask.csv",
        "path,label,mask\nimg/a.png,x,img/nomask.png\n",
        None,
    );
    assert!(err.contains("nomask.png"), "{err}");
    let err = load("ragged.csv", "path,label\nimg/a.png,x,extra\n", None);
    assert!(err.contains("ragged.csv"), "{err}");
}
