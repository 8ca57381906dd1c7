//! `medxfer baseline --features radiomics` on a small synthetic lesion dataset: round, smooth
//! lesions against elongated, textured ones, each image with a `_mask.png` beside it. Elastic
//! net on the IBSI features separates them; `baseline.json` records the discretisation and the
//! feature names; an image without a mask, or with a mask of another size, is a one-line error
//! naming the file.

mod support;

use std::path::Path;

use support::{assert_success, medxfer, one_line_error, write_toy_run_config};

/// `per_class` images of 48 x 40 per class: "right" lesions are elongated and textured (the
/// positive class of the toy run config), "left" ones round and smooth.
fn write_lesions(root: &Path, per_class: usize) {
    for (class, textured) in [("left", false), ("right", true)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let mut image = image::GrayImage::new(48, 40);
            let mut mask = image::GrayImage::new(48, 40);
            let mut state = (i as u32 + 1) * if textured { 104_729 } else { 7919 };
            let (rx, ry) = if textured {
                (14.0 + i as f32 % 4.0, 5.0 + i as f32 % 3.0)
            } else {
                (8.0 + i as f32 % 3.0, 8.0 + i as f32 % 3.0)
            };
            for (x, y, p) in image.enumerate_pixels_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 24) as f32 / 16.0;
                let (dx, dy) = ((x as f32 - 24.0) / rx, (y as f32 - 20.0) / ry);
                let inside = dx * dx + dy * dy <= 1.0;
                let texture = if textured && (x / 2 + y / 2) % 2 == 0 {
                    70.0
                } else {
                    0.0
                };
                let value = if inside { 120.0 + texture } else { 40.0 } + noise;
                p.0 = [value.min(255.0) as u8];
                mask.put_pixel(x, y, image::Luma([if inside { 255 } else { 0 }]));
            }
            image.save(dir.join(format!("{class} ({i}).png"))).unwrap();
            mask.save(dir.join(format!("{class} ({i})_mask.png")))
                .unwrap();
        }
    }
}

fn baseline(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    medxfer()
        .args([
            "baseline",
            "--no-progress",
            "--features",
            "radiomics",
            "--model",
            "elastic-net",
            "--config",
        ])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn radiomics_elastic_net_separates_lesion_shapes_and_records_its_features() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lesions(&data, 10);
    let config = write_toy_run_config(dir.path(), &data, false);

    let out = dir.path().join("radiomics-enet");
    assert_success(&baseline(&config, &out, &["--radiomics-bins", "16"]));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("baseline.json")).unwrap()).unwrap();
    assert_eq!(record["features"], "radiomics");
    assert_eq!(
        record["radiomics"]["discretisation"]["kind"],
        "fixed_bin_number"
    );
    assert_eq!(record["radiomics"]["discretisation"]["bins"], 16);
    assert_eq!(record["radiomics"]["aggregation"], "averaged2d");
    let names = record["feature_names"].as_array().unwrap();
    assert_eq!(names.len(), record["n_features"].as_u64().unwrap() as usize);
    assert!(names.iter().any(|n| n == "glcm.joint_entropy"));
    assert!(names.iter().any(|n| n == "morphology.elongation"));
    assert!(record.get("pixel_size").is_none());

    let evaluated = medxfer()
        .args(["evaluate", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert_success(&evaluated);
    let metrics: serde_json::Value = serde_json::from_slice(&evaluated.stdout).unwrap();
    let auc = metrics["pooled"]["auc"].as_f64().unwrap();
    assert!(auc > 0.9, "pooled AUC {auc}");

    // Fixed bin size and merged directions are recorded as chosen.
    let fbs = dir.path().join("radiomics-fbs");
    assert_success(&baseline(
        &config,
        &fbs,
        &[
            "--radiomics-bin-width",
            "16",
            "--radiomics-aggregation",
            "merged",
        ],
    ));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fbs.join("baseline.json")).unwrap()).unwrap();
    assert_eq!(
        record["radiomics"]["discretisation"]["kind"],
        "fixed_bin_size"
    );
    assert_eq!(record["radiomics"]["aggregation"], "slice_merged2d");

    // Without the outline's features: the morphology columns are gone, and recorded so.
    let texture = dir.path().join("radiomics-no-morphology");
    assert_success(&baseline(
        &config,
        &texture,
        &["--radiomics-without", "morphology"],
    ));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(texture.join("baseline.json")).unwrap())
            .unwrap();
    assert_eq!(
        record["radiomics_without"],
        serde_json::json!(["morphology"])
    );
    let kept = record["feature_names"].as_array().unwrap();
    assert_eq!(kept.len(), names.len() - 13);
    assert!(
        kept.iter()
            .all(|n| !n.as_str().unwrap().starts_with("morphology."))
    );
}

#[test]
fn missing_or_misshapen_masks_are_one_line_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lesions(&data, 4);
    let config = write_toy_run_config(dir.path(), &data, false);

    std::fs::remove_file(data.join("right").join("right (2)_mask.png")).unwrap();
    let out = dir.path().join("no-mask");
    let error = one_line_error(&baseline(&config, &out, &[]));
    assert!(
        error.contains("right (2).png") && error.contains("no lesion mask"),
        "{error}"
    );
    assert!(!out.exists(), "a failed start leaves no folder");

    image::GrayImage::new(10, 10)
        .save(data.join("right").join("right (2)_mask.png"))
        .unwrap();
    let error = one_line_error(&baseline(&config, &out, &[]));
    assert!(
        error.contains("right (2)_mask.png") && error.contains("10 x 10"),
        "{error}"
    );

    let error = one_line_error(&baseline(&config, &out, &["--radiomics-bins", "0"]));
    assert!(error.contains("fixed bin number"), "{error}");

    let every_family = [
        "morphology",
        "statistics",
        "histogram",
        "glcm",
        "glrlm",
        "glszm",
        "gldzm",
        "ngtdm",
        "ngldm",
    ]
    .map(|family| ["--radiomics-without", family])
    .concat();
    let error = one_line_error(&baseline(&config, &out, &every_family));
    assert!(error.contains("no radiomics feature family"), "{error}");
}

/// `--radiomics-masks-from SEG_RUN`: the features come from a segmentation run's out-of-fold
/// predicted masks (recorded in `baseline.json`); a folder that is no segmentation run, or a
/// run that did not test an image, is a one-line error.
#[test]
fn predicted_masks_of_a_segmentation_run_replace_the_expert_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lesions(&data, 8);
    let seg_dir = dir.path().join("seg");
    std::fs::create_dir_all(&seg_dir).unwrap();
    support::train_to_the_end(&write_toy_run_config(&seg_dir, &data, true));
    let seg_run = seg_dir.join("run");
    let config = write_toy_run_config(dir.path(), &data, false);

    let out = dir.path().join("predicted");
    let seg = seg_run.to_string_lossy().into_owned();
    let result = baseline(&config, &out, &["--radiomics-masks-from", &seg]);
    assert_success(&result);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("baseline.json")).unwrap()).unwrap();
    let recorded = record["radiomics_masks_from"].as_str().unwrap();
    assert!(recorded.ends_with("seg/run"), "{recorded}");
    assert!(out.join("predictions.csv").is_file());

    let not_a_run = baseline(
        &config,
        &dir.path().join("x"),
        &["--radiomics-masks-from", &data.to_string_lossy()],
    );
    assert!(one_line_error(&not_a_run).contains("segmentations.csv"));

    // A segmentation run that tested only some images: the others are refused by id.
    let partial = dir.path().join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    let text = std::fs::read_to_string(seg_run.join("segmentations.csv")).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("right/")).collect();
    std::fs::write(partial.join("segmentations.csv"), kept.join("\n") + "\n").unwrap();
    std::os::unix::fs::symlink(seg_run.join("segmentation"), partial.join("segmentation")).unwrap();
    let partial_run = baseline(
        &config,
        &dir.path().join("y"),
        &["--radiomics-masks-from", &partial.to_string_lossy()],
    );
    let message = one_line_error(&partial_run);
    assert!(
        message.contains("right/") && message.contains("not a test image"),
        "{message}"
    );
}
