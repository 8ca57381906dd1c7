//! Cross-check of decoding and preprocessing against Pillow (the reference PyTorch pipeline's
//! image library). Fixtures and the script that wrote them: tests/fixtures/pil_reference/.

use std::collections::HashMap;
use std::path::PathBuf;

use medxfer_data::PreprocessSpec;
use medxfer_data::decode::decode_luma_file;
use medxfer_data::preprocess::prepare_image;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pil_reference")
        .join(name)
}

fn reference() -> HashMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(fixture("pil_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn values(reference: &HashMap<String, serde_json::Value>, key: &str) -> Vec<f32> {
    reference[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn rgb_to_luma_matches_pillow_exactly() {
    let reference = reference();
    let luma = decode_luma_file(&fixture("rgb.png")).unwrap();
    let expected = values(&reference, "rgb_luma");
    assert_eq!(luma.pixels.len(), expected.len());
    for (i, (ours, pil)) in luma.pixels.iter().zip(&expected).enumerate() {
        assert_eq!((ours * 255.0).round(), *pil, "pixel {i}");
    }
}

#[test]
fn pad_and_resize_match_pillow_bilinear() {
    let reference = reference();
    for name in ["rgb", "gray"] {
        let luma = decode_luma_file(&fixture(&format!("{name}.png"))).unwrap();
        for size in [16u32, 48] {
            let ours = prepare_image(&luma, &PreprocessSpec { size, channels: 1 });
            let expected = values(&reference, &format!("{name}_{size}"));
            assert_eq!(ours.pixels.len(), expected.len());
            // Pillow rounds to uint8 after each of its two passes; we stay in f32.
            // Tolerance: 1 grey level per pixel, 0.3 on average.
            let (mut total, mut worst) = (0.0f32, 0.0f32);
            for (i, (o, p)) in ours.pixels.iter().zip(&expected).enumerate() {
                let difference = (o * 255.0 - p).abs();
                assert!(
                    difference <= 1.5,
                    "{name} at {size}px, pixel {i}: ours {} vs Pillow {p}",
                    o * 255.0
                );
                total += difference;
                worst = worst.max(difference);
            }
            let mean = total / expected.len() as f32;
            eprintln!("{name} {size}px vs Pillow: max {worst:.3}, mean {mean:.3} grey levels");
            assert!(mean < 0.3, "{name} at {size}px: mean difference {mean}");
        }
    }
}

#[test]
fn sixteen_bit_png_is_scaled_by_65535() {
    let luma = decode_luma_file(&fixture("gray16.png")).unwrap();
    assert_eq!((luma.width, luma.height), (9, 12));
    for y in 0..12u32 {
        for x in 0..9u32 {
            let raw = (x * 7001 + y * 3001) % 65536;
            let ours = luma.pixels[(y * 9 + x) as usize];
            assert!((ours - raw as f32 / 65535.0).abs() < 1e-6, "({x},{y})");
        }
    }
}
