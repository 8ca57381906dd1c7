//! Decoding (bit depths, colour types, corrupt files), preprocessing and the image cache.

mod common;

use std::path::Path;

use medxfer_data::decode::decode_luma_file;
use medxfer_data::{DataError, Dataset, DatasetSource, ImageCache, PreprocessSpec};

const TOLERANCE: f32 = 1e-6;

fn spec(size: u32) -> PreprocessSpec {
    PreprocessSpec { size, channels: 3 }
}

#[test]
fn decodes_every_png_flavour_to_luma() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    common::gray8(&p("g8.png"), 3, 2, |x, y| (x * 100 + y * 10) as u8);
    common::gray16(&p("g16.png"), 2, 2, |x, y| {
        if x == 1 { 65535 } else { y as u16 * 1000 }
    });
    common::gray_alpha8(&p("ga.png"), 2, 1, |x, _| [(x * 200) as u8, 7]);
    common::rgb8(&p("rgb.png"), 2, 1, |x, _| {
        if x == 0 { [255, 0, 0] } else { [10, 20, 30] }
    });
    common::rgba8(&p("rgba.png"), 1, 1, |_, _| [0, 255, 0, 0]);

    let g8 = decode_luma_file(&p("g8.png")).unwrap();
    assert_eq!((g8.width, g8.height), (3, 2));
    assert!((g8.pixels[5] - 210.0 / 255.0).abs() < TOLERANCE);
    let g16 = decode_luma_file(&p("g16.png")).unwrap();
    assert!(
        (g16.pixels[1] - 1.0).abs() < TOLERANCE,
        "16-bit scaled by 65535"
    );
    assert!((g16.pixels[2] - 1000.0 / 65535.0).abs() < TOLERANCE);
    let ga = decode_luma_file(&p("ga.png")).unwrap();
    assert!(
        (ga.pixels[1] - 200.0 / 255.0).abs() < TOLERANCE,
        "alpha ignored"
    );
    // PIL convert("L"): (255,0,0) -> 76, (10,20,30) -> 18, (0,255,0) -> 150.
    let rgb = decode_luma_file(&p("rgb.png")).unwrap();
    assert!((rgb.pixels[0] - 76.0 / 255.0).abs() < TOLERANCE);
    assert!((rgb.pixels[1] - 18.0 / 255.0).abs() < TOLERANCE);
    let rgba = decode_luma_file(&p("rgba.png")).unwrap();
    assert!((rgba.pixels[0] - 150.0 / 255.0).abs() < TOLERANCE);
}

#[test]
fn jpeg_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.jpg");
    image::GrayImage::from_fn(8, 8, |_, _| image::Luma([128]))
        .save(&path)
        .unwrap();
    let luma = decode_luma_file(&path).unwrap();
    assert_eq!(luma.pixels.len(), 64);
    assert!(
        luma.pixels
            .iter()
            .all(|&v| (v - 128.0 / 255.0).abs() < 3.0 / 255.0)
    );
}

#[test]
fn corrupt_png_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cls")).unwrap();
    common::gray8(&dir.path().join("cls/good.png"), 4, 4, |_, _| 1);
    common::truncated_png(&dir.path().join("cls/broken.png"));
    let err = decode_luma_file(&dir.path().join("cls/broken.png")).unwrap_err();
    assert!(matches!(err, DataError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.png"), "{err}");

    std::fs::write(dir.path().join("cls/text.png"), "this is not a png").unwrap();
    let err = decode_luma_file(&dir.path().join("cls/text.png"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("text.png"), "{err}");

    let data = Dataset::load(&DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: None,
    })
    .unwrap();
    let err = ImageCache::build(&data, &spec(8), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("broken.png") || err.contains("text.png"),
        "{err}"
    );
    assert!(!err.contains('\n'), "one line: {err}");
}

fn write_tree(root: &Path) {
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join("b")).unwrap();
    // 8 x 4 white image: padded to 8 x 8 with black rows above and below.
    common::gray8(&root.join("a/wide.png"), 8, 4, |_, _| 255);
    common::gray8(&root.join("a/wide_mask.png"), 8, 4, |x, _| {
        if x < 4 { 255 } else { 0 }
    });
    common::gray8(&root.join("a/wide_mask_1.png"), 8, 4, |x, y| {
        if x == 7 && y == 3 { 255 } else { 0 }
    });
    common::rgb8(&root.join("b/rgb.png"), 4, 4, |x, _| [x as u8 * 60, 0, 0]);
    common::gray16(&root.join("b/deep.png"), 4, 4, |_, _| 65535);
}

#[test]
fn cache_pads_resizes_and_merges_masks() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let data = Dataset::load(&DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: None,
    })
    .unwrap();
    let cache = ImageCache::build(&data, &spec(8), None).unwrap();
    assert_eq!(cache.len(), 3);
    let wide = cache.get(0);
    assert_eq!(wide.size, 8);
    for y in 0..8 {
        let expected = if (2..6).contains(&y) { 1.0 } else { 0.0 };
        for x in 0..8 {
            assert!(
                (wide.get(x, y) - expected).abs() < TOLERANCE,
                "({x},{y}) = {}",
                wide.get(x, y)
            );
        }
    }
    let mask = cache.mask(0).expect("mask merged from two files");
    assert_eq!(mask.size, 8);
    for y in 0..8u32 {
        for x in 0..8u32 {
            let inside = (2..6).contains(&y) && (x < 4 || (x == 7 && y == 5));
            assert_eq!(
                mask.pixels[(y * 8 + x) as usize],
                u8::from(inside),
                "({x},{y})"
            );
        }
    }
    assert!(cache.mask(1).is_none());
    // 16-bit white stays 1.0 after upscaling 4 -> 8.
    let deep = data
        .samples
        .iter()
        .position(|s| s.id == "b/deep.png")
        .unwrap();
    assert!(
        cache
            .get(deep)
            .pixels
            .iter()
            .all(|&v| (v - 1.0).abs() < TOLERANCE)
    );

    let small = ImageCache::build(&data, &spec(2), None).unwrap();
    // Antialiased 8 -> 2 downscale of the padded wide image: every output is the mean of a
    // 4 x 4 block (triangle weights) and so lies strictly between 0 and 1.
    assert!(
        small.get(0).pixels.iter().all(|&v| v > 0.1 && v < 0.9),
        "{:?}",
        small.get(0).pixels
    );
}

#[test]
fn cache_persists_and_reloads_identically() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let data = Dataset::load(&DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: None,
    })
    .unwrap();
    let cold = ImageCache::build(&data, &spec(16), Some(cache_dir.path())).unwrap();
    assert!(!cold.loaded_from_disk());
    let file = cold.cache_file().unwrap().to_path_buf();
    assert!(file.is_file());
    let warm = ImageCache::build(&data, &spec(16), Some(cache_dir.path())).unwrap();
    assert!(warm.loaded_from_disk());
    for i in 0..data.len() {
        assert_eq!(cold.get(i), warm.get(i));
        assert_eq!(cold.mask(i), warm.mask(i));
        assert_eq!(cold.pixel_hash(i), warm.pixel_hash(i));
    }
    // Another size is another key.
    let other = ImageCache::build(&data, &spec(12), Some(cache_dir.path())).unwrap();
    assert!(!other.loaded_from_disk());
    assert_ne!(other.cache_file(), Some(file.as_path()));
    // Changing a file's content changes the key.
    common::gray8(&dir.path().join("a/wide.png"), 8, 4, |_, _| 100);
    let changed = ImageCache::build(&data, &spec(16), Some(cache_dir.path())).unwrap();
    assert!(!changed.loaded_from_disk());
    assert!((changed.get(0).get(8, 8) - 100.0 / 255.0).abs() < 1e-5);
    // A damaged cache file is rebuilt, not trusted.
    let changed_file = changed.cache_file().unwrap().to_path_buf();
    std::fs::write(&changed_file, b"MXIMGC01garbage").unwrap();
    let rebuilt = ImageCache::build(&data, &spec(16), Some(cache_dir.path())).unwrap();
    assert!(!rebuilt.loaded_from_disk());
    assert_eq!(rebuilt.get(0), changed.get(0));
}

#[test]
fn bad_spec_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let data = Dataset::load(&DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: None,
    })
    .unwrap();
    let zero = PreprocessSpec {
        size: 0,
        channels: 1,
    };
    assert!(ImageCache::build(&data, &zero, None).is_err());
    let two = PreprocessSpec {
        size: 8,
        channels: 2,
    };
    assert!(ImageCache::build(&data, &two, None).is_err());
}

#[test]
fn mask_of_wrong_size_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("c")).unwrap();
    common::gray8(&dir.path().join("c/x.png"), 4, 4, |_, _| 1);
    common::gray8(&dir.path().join("c/x_mask.png"), 5, 4, |_, _| 1);
    let data = Dataset::load(&DatasetSource::Folder {
        root: dir.path().to_path_buf(),
        classes: None,
    })
    .unwrap();
    let err = ImageCache::build(&data, &spec(4), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("x_mask.png") && err.contains("5x4"), "{err}");
}

#[test]
fn npz_images_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npz");
    let train: Vec<u8> = (0..2 * 4).map(|i| (i * 30) as u8).collect();
    common::npz(
        &path,
        2,
        &[
            ("train", train.clone(), vec![0, 1], false),
            ("test", vec![255; 4], vec![1], true),
        ],
    );
    let data = Dataset::load(&DatasetSource::Npz {
        path,
        classes: None,
    })
    .unwrap();
    let cache = ImageCache::build(
        &data,
        &PreprocessSpec {
            size: 2,
            channels: 1,
        },
        None,
    )
    .unwrap();
    assert_eq!(cache.len(), 3);
    for (i, &v) in cache.get(1).pixels.iter().enumerate() {
        assert!((v - train[4 + i] as f32 / 255.0).abs() < TOLERANCE);
    }
    assert!(
        cache
            .get(2)
            .pixels
            .iter()
            .all(|&v| (v - 1.0).abs() < TOLERANCE)
    );
}
