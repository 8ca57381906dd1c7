//! Checks on the shared BUSI and MedMNIST copies (skipped with a message when absent).
//! Expected figures come from their PROVENANCE.md files.

mod common;

use medxfer_data::duplicates::{DuplicateGroup, find_exact_duplicates_decoding};
use medxfer_data::{
    Dataset, DatasetSource, ImageCache, PreprocessSpec, SplitName, find_exact_duplicates,
};

fn member_splits(group: &DuplicateGroup) -> Vec<Option<SplitName>> {
    group.members.iter().map(|m| m.split).collect()
}

#[test]
fn busi_counts_masks_and_the_known_duplicate() {
    let Some(root) = common::shared_data_dir("busi") else {
        return;
    };
    let data = Dataset::load(&DatasetSource::Folder {
        root,
        classes: None,
    })
    .unwrap();
    assert_eq!(data.class_names, vec!["benign", "malignant", "normal"]);
    assert_eq!(data.class_counts(), vec![437, 210, 133]);
    assert!(
        data.samples.iter().all(|s| !s.mask_paths.is_empty()),
        "every image has a mask"
    );
    let masks: usize = data.samples.iter().map(|s| s.mask_paths.len()).sum();
    assert_eq!(masks, 798);
    let b195 = data
        .samples
        .iter()
        .find(|s| s.id == "benign/benign (195).png")
        .unwrap();
    assert_eq!(b195.mask_paths.len(), 3);

    // Duplicates compare original-resolution pixels (decoding only: quick even unoptimised).
    let groups = find_exact_duplicates_decoding(&data).unwrap();
    for group in &groups {
        eprintln!("BUSI duplicate: {group}");
    }
    let conflicting: Vec<&DuplicateGroup> = groups.iter().filter(|g| g.labels_differ()).collect();
    assert_eq!(conflicting.len(), 1, "{groups:?}");
    let ids: Vec<&str> = conflicting[0]
        .members
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["benign/benign (433).png", "malignant/malignant (145).png"]
    );

    // Masks through the cache on a few samples: normal masks are all zero (RGB files), a
    // benign lesion mask is not, and the three masks of benign (195) merge.
    let pick = [
        "benign/benign (195).png",
        "benign/benign (4).png",
        "normal/normal (1).png",
    ];
    let subset = Dataset {
        class_names: data.class_names.clone(),
        samples: data
            .samples
            .iter()
            .filter(|s| pick.contains(&s.id.as_str()))
            .cloned()
            .collect(),
    };
    assert_eq!(subset.len(), 3);
    let cache = ImageCache::build(
        &subset,
        &PreprocessSpec {
            size: 64,
            channels: 3,
        },
        None,
    )
    .unwrap();
    for (i, sample) in subset.samples.iter().enumerate() {
        let mask = cache.mask(i).unwrap();
        let lesion = mask.pixels.iter().filter(|&&v| v == 1).count();
        if sample.label == 2 {
            assert_eq!(lesion, 0, "{}", sample.id);
        } else {
            assert!(lesion > 0 && lesion < 64 * 64, "{}: {lesion}", sample.id);
        }
        let image = cache.get(i);
        assert!(image.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

#[test]
fn breastmnist_splits_and_train_test_overlap() {
    let Some(dir) = common::shared_data_dir("medmnist") else {
        return;
    };
    let data = Dataset::load(&DatasetSource::Npz {
        path: dir.join("breastmnist.npz"),
        classes: Some(vec!["malignant".into(), "normal_or_benign".into()]),
    })
    .unwrap();
    let counts = |split| data.filter_split(split).class_counts();
    assert_eq!(counts(SplitName::Train), vec![147, 399]);
    assert_eq!(counts(SplitName::Val), vec![21, 57]);
    assert_eq!(counts(SplitName::Test), vec![42, 114]);

    let cache = ImageCache::build(
        &data,
        &PreprocessSpec {
            size: 28,
            channels: 1,
        },
        None,
    )
    .unwrap();
    let groups = find_exact_duplicates(&data, &cache).unwrap();
    let train_test = groups
        .iter()
        .filter(|g| {
            let splits = member_splits(g);
            splits.contains(&Some(SplitName::Train)) && splits.contains(&Some(SplitName::Test))
        })
        .count();
    assert_eq!(
        train_test, 1,
        "PROVENANCE: 1 test image also appears in train"
    );
}

#[test]
fn pneumoniamnist_subset_splits_and_duplicates() {
    let Some(dir) = common::shared_data_dir("medmnist") else {
        return;
    };
    let data = Dataset::load(&DatasetSource::Npz {
        path: dir.join("pneumoniamnist.npz"),
        classes: None,
    })
    .unwrap();
    assert_eq!(
        data.filter_split(SplitName::Train).class_counts(),
        vec![1214, 1214]
    );
    assert_eq!(
        data.filter_split(SplitName::Val).class_counts(),
        vec![135, 135]
    );
    assert_eq!(
        data.filter_split(SplitName::Test).class_counts(),
        vec![234, 234]
    );
    let groups = find_exact_duplicates_decoding(&data).unwrap();
    assert_eq!(groups.len(), 7, "PROVENANCE: 7 hashes repeat");
    let val_in_train: usize = groups
        .iter()
        .filter(|g| member_splits(g).contains(&Some(SplitName::Train)))
        .map(|g| {
            member_splits(g)
                .iter()
                .filter(|&&s| s == Some(SplitName::Val))
                .count()
        })
        .sum();
    assert_eq!(
        val_in_train, 3,
        "PROVENANCE: 3 val images also appear in train"
    );
    assert!(!groups.iter().any(|g| {
        let s = member_splits(g);
        s.contains(&Some(SplitName::Val)) && s.contains(&Some(SplitName::Test))
    }));
}
