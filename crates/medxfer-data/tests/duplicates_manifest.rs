//! Exact-duplicate detection across encodings and classes, and the data manifest hash.

mod common;

use std::path::Path;

use medxfer_data::duplicates::find_exact_duplicates_decoding;
use medxfer_data::{
    Dataset, DatasetSource, ImageCache, PreprocessSpec, find_exact_duplicates, manifest_hash,
};

fn pattern(x: u32, y: u32) -> u8 {
    ((x * 31 + y * 17) % 251) as u8
}

fn write_tree(root: &Path) {
    for class in ["benign", "malignant"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
    }
    common::gray8(&root.join("benign/b1.png"), 20, 10, pattern);
    // Same pixels stored as RGB with R = G = B: an exact duplicate after luma conversion.
    common::rgb8(&root.join("malignant/m1.png"), 20, 10, |x, y| {
        [pattern(x, y); 3]
    });
    common::gray8(&root.join("benign/b2.png"), 20, 10, |x, y| {
        pattern(x, y) / 2
    });
    common::gray8(&root.join("benign/b3.png"), 20, 10, |x, y| {
        pattern(x, y) / 2
    });
    // Same pixels but different geometry: not a duplicate.
    common::gray8(&root.join("benign/b4.png"), 10, 20, |x, y| {
        pattern(y, x) / 2
    });
    common::gray8(&root.join("malignant/m2.png"), 20, 10, |_, _| 3);
}

fn load(root: &Path) -> Dataset {
    Dataset::load(&DatasetSource::Folder {
        root: root.to_path_buf(),
        classes: None,
    })
    .unwrap()
}

#[test]
fn finds_cross_encoding_and_same_class_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let data = load(dir.path());
    let cache = ImageCache::build(
        &data,
        &PreprocessSpec {
            size: 8,
            channels: 1,
        },
        None,
    )
    .unwrap();
    let groups = find_exact_duplicates(&data, &cache).unwrap();
    assert_eq!(groups, find_exact_duplicates_decoding(&data).unwrap());
    let ids: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.members.iter().map(|m| m.id.as_str()).collect())
        .collect();
    assert_eq!(
        ids,
        vec![
            vec!["benign/b1.png", "malignant/m1.png"],
            vec!["benign/b2.png", "benign/b3.png"]
        ]
    );
    assert!(groups[0].labels_differ());
    assert!(!groups[1].labels_differ());
    let warning = groups[0].warning().unwrap();
    assert!(
        warning.contains("conflicting labels") && warning.contains("malignant/m1.png [malignant]"),
        "{warning}"
    );
    assert!(groups[1].warning().is_none());
    // Fold assignment per sample: b2 (index 1) and b3 (index 2) in different folds.
    let mut part = vec![0; data.len()];
    part[groups[1].members[1].index] = 1;
    assert!(groups[1].crosses_parts(&part));
    assert!(!groups[0].crosses_parts(&part));
}

#[test]
fn manifest_hash_tracks_content_labels_and_selection() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let data = load(dir.path());
    let hash = manifest_hash(&data).unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(hash, manifest_hash(&data).unwrap());

    let mut reordered = data.clone();
    reordered.samples.reverse();
    assert_eq!(
        manifest_hash(&reordered).unwrap(),
        hash,
        "order of samples does not matter"
    );

    let mut relabelled = data.clone();
    relabelled.samples[0].label = 1;
    assert_ne!(manifest_hash(&relabelled).unwrap(), hash);

    let mut fewer = data.clone();
    fewer.samples.pop();
    assert_ne!(manifest_hash(&fewer).unwrap(), hash);

    common::gray8(&dir.path().join("malignant/m2.png"), 20, 10, |_, _| 4);
    assert_ne!(manifest_hash(&data).unwrap(), hash, "file content matters");

    std::fs::remove_file(dir.path().join("malignant/m2.png")).unwrap();
    let err = manifest_hash(&data).unwrap_err().to_string();
    assert!(err.contains("m2.png"), "{err}");
}

#[test]
fn npz_manifest_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    let mut train = vec![7u8; 3 * 4];
    train[4..8].copy_from_slice(&[1, 2, 3, 4]);
    common::npz(
        &path,
        2,
        &[
            ("train", train, vec![0, 1, 0], false),
            ("test", vec![7; 4], vec![0], true),
        ],
    );
    let data = Dataset::load(&DatasetSource::Npz {
        path,
        classes: None,
    })
    .unwrap();
    let groups = find_exact_duplicates_decoding(&data).unwrap();
    assert_eq!(groups.len(), 1);
    let ids: Vec<&str> = groups[0].members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, vec!["train/0", "train/2", "test/0"]);
    assert!(groups[0].splits_differ());
    assert!(groups[0].warning().unwrap().contains("spans splits"));
    assert_eq!(manifest_hash(&data).unwrap().len(), 64);
}
