//! Segmentation data on the shared BUS-BRA and BUSI copies (skipped with a message when
//! absent). Expected figures come from their PROVENANCE.md files.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use medxfer_data::{
    Dataset, DatasetSource, ImageCache, MissingMask, PreprocessSpec, predefined_kfold,
    validate_masks,
};

#[test]
fn busbra_counts_official_folds_and_valid_masks() {
    let Some(root) = common::shared_data_dir("busbra") else {
        return;
    };
    let data = Dataset::load(&DatasetSource::Busbra { root, folds: None }).unwrap();
    assert_eq!(data.len(), 1875);
    assert_eq!(data.class_counts(), vec![1268, 607]);
    let patients: BTreeSet<&str> = data
        .samples
        .iter()
        .map(|s| s.patient_id.as_deref().unwrap())
        .collect();
    assert_eq!(patients.len(), 1064);
    let mut devices: HashMap<&str, usize> = HashMap::new();
    for sample in &data.samples {
        *devices
            .entry(sample.center.as_deref().unwrap())
            .or_default() += 1;
        assert_eq!(sample.mask_paths.len(), 1, "{}", sample.id);
    }
    assert_eq!(devices.len(), 4, "{devices:?}");

    let folds = predefined_kfold(&data).unwrap();
    assert_eq!(folds.len(), 5);
    let mut fold_of_patient: HashMap<&str, usize> = HashMap::new();
    let mut tested = vec![0usize; data.len()];
    for (f, fold) in folds.iter().enumerate() {
        assert_eq!(fold.train.len() + fold.test.len(), data.len());
        for &i in &fold.test {
            tested[i] += 1;
            let patient = data.samples[i].patient_id.as_deref().unwrap();
            assert_eq!(*fold_of_patient.entry(patient).or_insert(f), f, "{patient}");
        }
    }
    assert!(tested.iter().all(|&n| n == 1), "every image tested once");
    let ten = Dataset::load(&DatasetSource::Busbra {
        root: data.samples[0]
            .path
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .into(),
        folds: Some(10),
    })
    .unwrap();
    assert_eq!(predefined_kfold(&ten).unwrap().len(), 10);

    let start = Instant::now();
    let report = validate_masks(&data, MissingMask::Error).unwrap();
    eprintln!(
        "BUS-BRA: validate_masks on {} images took {:.2?}",
        data.len(),
        start.elapsed()
    );
    assert_eq!(report.masks_checked, 1875);
    assert!(report.missing.is_empty() && report.all_background.is_empty());

    // 1-bit masks reach the cache as 0/1 lesions, as folder masks do.
    let subset = Dataset {
        class_names: data.class_names.clone(),
        samples: data.samples[..4].to_vec(),
    };
    let spec = PreprocessSpec {
        size: 64,
        channels: 1,
    };
    let cache = ImageCache::build(&subset, &spec, None).unwrap();
    for i in 0..subset.len() {
        let mask = cache.mask(i).unwrap();
        assert!(mask.pixels.iter().all(|&v| v <= 1));
        let lesion = mask.pixels.iter().filter(|&&v| v == 1).count();
        assert!(
            lesion > 0 && lesion < 64 * 64,
            "{}: {lesion}",
            subset.samples[i].id
        );
    }
}

#[test]
fn busi_masks_validate() {
    let Some(root) = common::shared_data_dir("busi") else {
        return;
    };
    let data = Dataset::load(&DatasetSource::Folder {
        root,
        classes: None,
    })
    .unwrap();
    let lesions = data
        .select_classes(&["benign".to_string(), "malignant".to_string()])
        .unwrap();
    let start = Instant::now();
    let report = validate_masks(&lesions, MissingMask::Error).unwrap();
    eprintln!(
        "BUSI benign+malignant: validate_masks on {} images took {:.2?}",
        lesions.len(),
        start.elapsed()
    );
    assert_eq!(lesions.len(), 647);
    assert!(report.missing.is_empty());
    assert!(
        report.all_background.is_empty(),
        "{:?}",
        report.all_background
    );
    // Normal images have all-black masks: valid, and listed as background only.
    let normal = data.select_classes(&["normal".to_string()]).unwrap();
    let report = validate_masks(&normal, MissingMask::Error).unwrap();
    assert_eq!(report.all_background.len(), normal.len());
}
