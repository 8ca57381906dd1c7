//! Augmentation semantics and reproducibility of augmented batches.

use medxfer_data::augment::{
    DepthCropConfig, DepthGainConfig, GaussianBlurConfig, RandomResizedCropConfig, SpeckleConfig,
    adjust_brightness, adjust_contrast, apply_depth_gain, apply_speckle, gaussian_blur, hflip,
    random_resized_crop_params, rotate,
};
use medxfer_data::{
    AugmentConfig, Augmenter, BatchSpec, ImageCache, PreparedImage, PreprocessSpec,
    augmented_batch, sample_rng,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const TOLERANCE: f32 = 1e-5;

fn gradient(size: u32) -> PreparedImage {
    PreparedImage {
        size,
        pixels: (0..size * size)
            .map(|i| (i % size + i / size) as f32 / (2 * size) as f32)
            .collect(),
    }
}

fn full_config() -> AugmentConfig {
    AugmentConfig {
        random_resized_crop: Some(RandomResizedCropConfig {
            scale_min: 0.8,
            scale_max: 1.0,
            ratio_min: 0.75,
            ratio_max: 4.0 / 3.0,
        }),
        hflip: 0.5,
        rotation_degrees: 10.0,
        brightness: 0.1,
        contrast: 0.1,
        gaussian_blur: Some(GaussianBlurConfig::default()),
        depth_crop: None,
        depth_gain: None,
        speckle: None,
    }
}

#[test]
fn identity_config_changes_nothing() {
    let augmenter = Augmenter::new(AugmentConfig::default()).unwrap();
    assert!(augmenter.config().is_identity());
    let img = gradient(9);
    assert_eq!(
        augmenter.apply(&img, &mut ChaCha8Rng::seed_from_u64(1)),
        img
    );
}

#[test]
fn hflip_mirrors_rows() {
    let mut img = PreparedImage {
        size: 3,
        pixels: (0..9).map(|v| v as f32).collect(),
    };
    hflip(&mut img);
    assert_eq!(
        img.pixels,
        vec![2.0, 1.0, 0.0, 5.0, 4.0, 3.0, 8.0, 7.0, 6.0]
    );
}

#[test]
fn rotation_is_counter_clockwise_with_black_fill() {
    // A bright top row rotated 90 degrees counter-clockwise becomes the left column.
    let size = 5;
    let img = PreparedImage {
        size,
        pixels: (0..25).map(|i| if i < 5 { 1.0 } else { 0.0 }).collect(),
    };
    let out = rotate(&img, 90.0);
    for y in 0..size {
        for x in 0..size {
            let expected = if x == 0 { 1.0 } else { 0.0 };
            assert!(
                (out.get(x, y) - expected).abs() < TOLERANCE,
                "({x},{y}) {}",
                out.get(x, y)
            );
        }
    }
    // 45 degrees of a white image: corners come from outside, so they are black.
    let white = PreparedImage {
        size: 9,
        pixels: vec![1.0; 81],
    };
    let out = rotate(&white, 45.0);
    assert!(out.get(0, 0) < TOLERANCE && (out.get(4, 4) - 1.0).abs() < TOLERANCE);
    assert_eq!(rotate(&img, 0.0), img);
}

#[test]
fn brightness_and_contrast_follow_torchvision() {
    let mut img = PreparedImage {
        size: 2,
        pixels: vec![0.1, 0.2, 0.6, 0.9],
    };
    adjust_brightness(&mut img, 1.5);
    let expected = [0.15, 0.3, 0.9, 1.0];
    for (v, e) in img.pixels.iter().zip(expected) {
        assert!((v - e).abs() < TOLERANCE, "{v} vs {e}");
    }
    let mut img = PreparedImage {
        size: 2,
        pixels: vec![0.1, 0.2, 0.6, 0.9],
    };
    adjust_contrast(&mut img, 0.5);
    // mean 0.45: 0.5 * v + 0.225
    let expected = [0.275, 0.325, 0.525, 0.675];
    for (v, e) in img.pixels.iter().zip(expected) {
        assert!((v - e).abs() < TOLERANCE, "{v} vs {e}");
    }
}

#[test]
fn blur_keeps_constants_and_spreads_a_point() {
    let flat = PreparedImage {
        size: 8,
        pixels: vec![0.4; 64],
    };
    assert!(
        gaussian_blur(&flat, 1.3)
            .pixels
            .iter()
            .all(|&v| (v - 0.4).abs() < TOLERANCE)
    );
    let mut point = PreparedImage {
        size: 15,
        pixels: vec![0.0; 225],
    };
    point.pixels[7 * 15 + 7] = 1.0;
    let out = gaussian_blur(&point, 1.0);
    let total: f32 = out.pixels.iter().sum();
    assert!(
        (total - 1.0).abs() < 1e-4,
        "mass preserved away from borders: {total}"
    );
    // Separable normalised Gaussian: centre weight = (1 / sum_k exp(-k^2/2))^2, k in -3..=3.
    let norm: f32 = (-3..=3).map(|k: i32| (-(k * k) as f32 / 2.0).exp()).sum();
    assert!((out.get(7, 7) - 1.0 / (norm * norm)).abs() < 1e-5);
    assert!(out.get(7, 6) < out.get(7, 7) && out.get(7, 6) > 0.0);
    assert_eq!(out.get(7, 7 + 4), 0.0, "kernel radius ceil(3 sigma) = 3");
}

#[test]
fn crop_params_respect_scale_and_ratio() {
    let config = RandomResizedCropConfig {
        scale_min: 0.5,
        scale_max: 0.9,
        ratio_min: 0.75,
        ratio_max: 1.333,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..500 {
        let (left, top, w, h) = random_resized_crop_params(64, &config, &mut rng);
        assert!(left + w <= 64 && top + h <= 64);
        let scale = (w * h) as f32 / 4096.0;
        assert!((0.45..=0.95).contains(&scale), "scale {scale}");
        let ratio = w as f32 / h as f32;
        assert!((0.7..=1.4).contains(&ratio), "ratio {ratio}");
    }
    // Impossible requests fall back to a centred crop that fits.
    let thin = RandomResizedCropConfig {
        scale_min: 1.0,
        scale_max: 1.0,
        ratio_min: 3.0,
        ratio_max: 4.0,
    };
    let (left, top, w, h) = random_resized_crop_params(30, &thin, &mut rng);
    assert_eq!((w, h), (30, 10));
    assert_eq!((left, top), (0, 10));
}

#[test]
fn full_pipeline_is_reproducible_and_in_range() {
    let augmenter = Augmenter::new(full_config()).unwrap();
    let img = gradient(32);
    let a = augmenter.apply(&img, &mut sample_rng(7, 3, 11));
    let b = augmenter.apply(&img, &mut sample_rng(7, 3, 11));
    assert_eq!(a, b);
    assert_ne!(
        a,
        augmenter.apply(&img, &mut sample_rng(7, 4, 11)),
        "epoch changes the draw"
    );
    assert_ne!(
        a,
        augmenter.apply(&img, &mut sample_rng(8, 3, 11)),
        "seed changes the draw"
    );
    assert_eq!(a.size, 32);
    assert!(a.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn config_toml_defaults_and_unknown_keys() {
    let config: AugmentConfig = toml::from_str(
        "hflip = 0.5\nrotation_degrees = 10.0\n[random_resized_crop]\nscale_min = 0.8\n",
    )
    .unwrap();
    let crop = config.random_resized_crop.unwrap();
    assert_eq!(crop.scale_min, 0.8);
    assert_eq!(crop.scale_max, 1.0);
    assert_eq!(config.brightness, 0.0);
    assert!(config.gaussian_blur.is_none());
    let err = toml::from_str::<AugmentConfig>("hflipp = 0.5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("hflipp"), "{err}");
    let bad = AugmentConfig {
        hflip: 1.5,
        ..AugmentConfig::default()
    };
    assert!(
        Augmenter::new(bad)
            .unwrap_err()
            .to_string()
            .contains("hflip")
    );
    let bad_crop = AugmentConfig {
        random_resized_crop: Some(RandomResizedCropConfig {
            scale_min: 0.0,
            ..Default::default()
        }),
        ..AugmentConfig::default()
    };
    assert!(Augmenter::new(bad_crop).is_err());
}

#[test]
fn batches_are_identical_across_thread_counts() {
    let images: Vec<PreparedImage> = (0..12)
        .map(|k| PreparedImage {
            size: 16,
            pixels: (0..256)
                .map(|i| ((i * (k + 3)) % 97) as f32 / 96.0)
                .collect(),
        })
        .collect();
    let cache = ImageCache::from_images(
        PreprocessSpec {
            size: 16,
            channels: 3,
        },
        images,
    );
    let augmenter = Augmenter::new(full_config()).unwrap();
    let mean = [0.485, 0.456, 0.406];
    let std = [0.229, 0.224, 0.225];
    let spec = BatchSpec {
        channels: 3,
        mean: &mean,
        std: &std,
    };
    let indices = [5, 0, 11, 3, 3];
    let parallel = augmented_batch(&cache, &indices, Some(&augmenter), 2, 99, &spec);
    let single_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let sequential =
        single_thread.install(|| augmented_batch(&cache, &indices, Some(&augmenter), 2, 99, &spec));
    assert_eq!(parallel, sequential);
    assert_eq!(parallel.len(), indices.len() * 3 * 256);
    // Each slot equals augmenting that sample alone, then to_chw.
    let mut expected = Vec::new();
    for &i in &indices {
        let augmented = augmenter.apply(cache.get(i), &mut sample_rng(99, 2, i));
        medxfer_data::normalize::to_chw(&augmented, 3, &mean, &std, &mut expected);
    }
    assert_eq!(parallel, expected);
    // Without augmentation the batch is the normalised cache content.
    let plain = augmented_batch(&cache, &[1], None, 0, 0, &spec);
    assert!((plain[0] - (cache.get(1).pixels[0] - 0.485) / 0.229).abs() < TOLERANCE);
    assert!(augmented_batch(&cache, &[], None, 0, 0, &spec).is_empty());
}

#[test]
fn masks_follow_the_geometry_only() {
    use medxfer_data::PreparedMask;
    let size = 24u32;
    let img = gradient(size);
    // Left half of the mask set.
    let mask = PreparedMask {
        size,
        pixels: (0..size * size)
            .map(|i| u8::from(i % size < size / 2))
            .collect(),
    };
    let augmenter = Augmenter::new(full_config()).unwrap();
    for index in 0..20 {
        let (image, moved) = augmenter.apply_with_mask(&img, &mask, &mut sample_rng(5, 0, index));
        assert_eq!(
            image,
            augmenter.apply(&img, &mut sample_rng(5, 0, index)),
            "same image as apply"
        );
        assert!(moved.pixels.iter().all(|&v| v <= 1));
        let ones = moved.pixels.iter().filter(|&&v| v == 1).count();
        assert!(ones > 100 && ones < 24 * 24 - 100, "mask survives: {ones}");
    }
    // Flip only: the mask flips exactly.
    let flip = Augmenter::new(AugmentConfig {
        hflip: 1.0,
        ..AugmentConfig::default()
    })
    .unwrap();
    let (_, flipped) = flip.apply_with_mask(&img, &mask, &mut sample_rng(0, 0, 0));
    for y in 0..size {
        for x in 0..size {
            assert_eq!(
                flipped.pixels[(y * size + x) as usize],
                u8::from(x >= size / 2)
            );
        }
    }
    // Colour jitter alone leaves the mask untouched.
    let jitter = Augmenter::new(AugmentConfig {
        brightness: 0.5,
        contrast: 0.5,
        ..AugmentConfig::default()
    })
    .unwrap();
    let (_, same) = jitter.apply_with_mask(&img, &mask, &mut sample_rng(0, 0, 0));
    assert_eq!(same, mask);
}

#[test]
fn bright_square_and_its_mask_move_together() {
    use medxfer_data::PreparedMask;
    let size = 32u32;
    let inside = |i: u32| (6..14).contains(&(i % size)) && (9..20).contains(&(i / size));
    let img = PreparedImage {
        size,
        pixels: (0..size * size)
            .map(|i| f32::from(u8::from(inside(i))))
            .collect(),
    };
    let mask = PreparedMask {
        size,
        pixels: (0..size * size).map(|i| u8::from(inside(i))).collect(),
    };
    // Geometry only, so the image keeps 0 outside and 1 inside the moved square.
    let augmenter = Augmenter::new(AugmentConfig {
        random_resized_crop: Some(RandomResizedCropConfig {
            scale_min: 0.5,
            ..RandomResizedCropConfig::default()
        }),
        hflip: 0.5,
        rotation_degrees: 30.0,
        ..AugmentConfig::default()
    })
    .unwrap();
    let mut moved_right = 0;
    for index in 0..40 {
        let (image, moved) = augmenter.apply_with_mask(&img, &mask, &mut sample_rng(9, 0, index));
        assert!(moved.pixels.iter().all(|&v| v <= 1), "binary mask");
        for (i, (&v, &m)) in image.pixels.iter().zip(&moved.pixels).enumerate() {
            assert_eq!(u8::from(v >= 0.5), m, "sample {index}, pixel {i}");
        }
        // The square starts left of centre; a flip moves most of it right.
        let (mut left, mut right) = (0, 0);
        for (i, &m) in moved.pixels.iter().enumerate() {
            if m == 1 {
                if (i as u32 % size) < size / 2 {
                    left += 1
                } else {
                    right += 1
                }
            }
        }
        moved_right += usize::from(right > left);
    }
    assert!(
        moved_right > 5 && moved_right < 35,
        "flips happened: {moved_right}"
    );
}

fn constant(size: u32, value: f32) -> PreparedImage {
    PreparedImage {
        size,
        pixels: vec![value; (size * size) as usize],
    }
}

#[test]
fn depth_gain_tilts_rows_around_a_mean_gain_of_one() {
    let mut img = constant(65, 0.5);
    apply_depth_gain(&mut img, 0.2, 0.0);
    let row = |y: usize| img.pixels[y * 65];
    assert!((row(0) - 0.4).abs() < TOLERANCE && (row(64) - 0.6).abs() < TOLERANCE);
    assert!((row(32) - 0.5).abs() < TOLERANCE);
    let mut curved = constant(65, 0.5);
    apply_depth_gain(&mut curved, 0.0, 0.3);
    let mean = curved.pixels.iter().sum::<f32>() / curved.pixels.len() as f32;
    // The curvature term integrates to zero over depth (within the sampling error of 65 rows).
    assert!((mean - 0.5).abs() < 2e-3, "{mean}");
}

#[test]
fn speckle_is_multiplicative_with_the_drawn_spread() {
    let mut img = constant(128, 0.5);
    apply_speckle(&mut img, 0.1, &mut ChaCha8Rng::seed_from_u64(3));
    let n = img.pixels.len() as f32;
    let mean = img.pixels.iter().sum::<f32>() / n;
    let sd = (img.pixels.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    // 16,384 draws: the sample mean and sd are within 2% of 0.5 and 0.05.
    assert!(
        (mean - 0.5).abs() < 0.01 && (sd - 0.05).abs() < 0.001,
        "{mean} {sd}"
    );
    let mut black = constant(16, 0.0);
    apply_speckle(&mut black, 0.5, &mut ChaCha8Rng::seed_from_u64(3));
    assert!(
        black.pixels.iter().all(|&v| v == 0.0),
        "no signal, no speckle"
    );
}

#[test]
fn depth_crop_cuts_the_deepest_rows_from_image_and_mask_alike() {
    let config = AugmentConfig {
        depth_crop: Some(DepthCropConfig {
            max_fraction: 0.5,
            p: 1.0,
        }),
        ..AugmentConfig::default()
    };
    let augmenter = Augmenter::new(config).unwrap();
    // The bottom quarter is bright and is the mask.
    let img = PreparedImage {
        size: 32,
        pixels: (0..32 * 32)
            .map(|i| f32::from(u8::from(i / 32 >= 24)))
            .collect(),
    };
    let mask = medxfer_data::PreparedMask {
        size: 32,
        pixels: img.pixels.iter().map(|&v| v as u8).collect(),
    };
    let mut shrank = false;
    for seed in 0..20 {
        let (out, moved) =
            augmenter.apply_with_mask(&img, &mask, &mut ChaCha8Rng::seed_from_u64(seed));
        let bright = out.pixels.iter().filter(|&&v| v > 0.5).count();
        let masked = moved.pixels.iter().filter(|&&v| v == 1).count();
        assert!(
            bright <= 8 * 32 && masked <= 8 * 32 + 32,
            "seed {seed}: {bright} {masked}"
        );
        assert!(
            out.pixels[..32].iter().all(|&v| v == 0.0),
            "the top row stays"
        );
        assert!(
            masked.abs_diff(bright) <= 32,
            "seed {seed}: mask follows the image"
        );
        shrank |= bright < 7 * 32;
    }
    assert!(shrank, "some draw cut into the bright quarter");
}

#[test]
fn ultrasound_augmentations_that_are_off_draw_nothing_and_bad_values_are_refused() {
    let img = gradient(24);
    let base = Augmenter::new(full_config()).unwrap();
    let never = Augmenter::new(AugmentConfig {
        depth_crop: Some(DepthCropConfig {
            max_fraction: 0.3,
            p: 0.0,
        }),
        depth_gain: Some(DepthGainConfig {
            strength: 0.3,
            p: 0.0,
        }),
        speckle: Some(SpeckleConfig {
            sigma_max: 0.3,
            p: 0.0,
        }),
        ..full_config()
    })
    .unwrap();
    for seed in 0..5 {
        let a = base.apply(&img, &mut ChaCha8Rng::seed_from_u64(seed));
        let b = never.apply(&img, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(a, b);
    }
    let bad = AugmentConfig {
        speckle: Some(SpeckleConfig {
            sigma_max: -0.1,
            p: 0.5,
        }),
        ..AugmentConfig::default()
    };
    let message = Augmenter::new(bad).unwrap_err().to_string();
    assert!(message.contains("speckle.sigma_max -0.1"), "{message}");
    let bad = AugmentConfig {
        depth_gain: Some(DepthGainConfig {
            strength: 0.1,
            p: 2.0,
        }),
        ..AugmentConfig::default()
    };
    let message = Augmenter::new(bad).unwrap_err().to_string();
    assert!(message.contains("depth_gain.p 2"), "{message}");
}
