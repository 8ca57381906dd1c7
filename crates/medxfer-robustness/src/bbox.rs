//! The bounding-box perturbation study's crops (after paper 002's design): the image is cut
//! to a margin around the lesion's box, the crop's centre shifted and its size scaled at
//! random by up to `strength` (a fraction of the box's sides), then preprocessed as in
//! training. BUS-BRA ships the box (`BBOX`, `[x, y, width, height]`); for BUSI it is the
//! bounding box of the OR-merged lesion masks.

use std::path::Path;

use medxfer_data::decode::{LumaImage, decode_luma_file};
use medxfer_data::{ImageSource, Sample};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::RobustnessError;

/// The strengths of the study: the largest shift of the crop's centre and the largest
/// relative change of its size, both as a fraction of the box's side; 0 is the centred crop.
pub const BBOX_STRENGTHS: [f64; 6] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5];

/// The lesion's box in the original image's pixels: columns `x0..x1`, rows `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LesionBox {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

/// The part of the image a crop keeps (whole pixels, inside the image, never empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropRegion {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl LesionBox {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// The box around every non-zero pixel of the masks united (None when all are empty).
    pub fn from_masks(masks: &[LumaImage]) -> Option<LesionBox> {
        let first = masks.first()?;
        let width = first.width as usize;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for mask in masks {
            for (i, _) in mask.pixels.iter().enumerate().filter(|(_, v)| **v > 0.0) {
                let (x, y) = (i % width, i / width);
                (x0, y0) = (x0.min(x), y0.min(y));
                (x1, y1) = (x1.max(x + 1), y1.max(y + 1));
            }
        }
        (x0 < x1).then_some(LesionBox {
            x0: x0 as f64,
            y0: y0 as f64,
            x1: x1 as f64,
            y1: y1 as f64,
        })
    }

    /// BUS-BRA's `BBOX` text, `[x, y, width, height]` in pixels.
    pub fn parse_xywh(text: &str) -> Result<LesionBox, String> {
        let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
        let values: Vec<f64> = inner
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("BBOX {text:?} is not [x, y, width, height]"))?;
        match values[..] {
            [x, y, w, h] if w > 0.0 && h > 0.0 && x >= 0.0 && y >= 0.0 => Ok(LesionBox {
                x0: x,
                y0: y,
                x1: x + w,
                y1: y + h,
            }),
            _ => Err(format!(
                "BBOX {text:?} is not [x, y, width, height] with a positive size"
            )),
        }
    }

    /// The box, checked to lie inside a `width` x `height` image.
    fn inside(self, width: u32, height: u32) -> Result<LesionBox, String> {
        if self.x1 > f64::from(width) || self.y1 > f64::from(height) {
            return Err(format!(
                "the lesion box {:?} reaches outside the {width} x {height} image",
                [self.x0, self.y0, self.x1, self.y1]
            ));
        }
        Ok(self)
    }
}

/// A sample's image at its original size and its lesion box: the `bbox` metadata column when
/// present (BUS-BRA), otherwise the box of its masks (BUSI); neither is a one-line error.
pub fn image_and_box(sample: &Sample) -> Result<(LumaImage, LesionBox), RobustnessError> {
    let ImageSource::File(path) = &sample.source else {
        return Err(RobustnessError::no_box(
            &sample.path,
            "the bbox suite needs image files with lesion masks or a BBOX column (npz images have neither)",
        ));
    };
    let image = decode_luma_file(path)?;
    let lesion = match sample.metadata.get("bbox") {
        Some(text) => LesionBox::parse_xywh(text).map_err(|m| RobustnessError::no_box(path, m))?,
        None => mask_box(path, &sample.mask_paths, &image)?,
    };
    let lesion = lesion
        .inside(image.width, image.height)
        .map_err(|m| RobustnessError::no_box(path, m))?;
    Ok((image, lesion))
}

fn missing_box(path: &Path) -> RobustnessError {
    RobustnessError::no_box(
        path,
        "no lesion mask (NAME_mask*.png) or BBOX column: the bbox suite needs a lesion box for every test image",
    )
}

/// Fail before any work when a sample has neither a `bbox` column nor a mask file (checked
/// without decoding; an empty mask is found when the image is cropped).
pub fn require_box_source(sample: &Sample) -> Result<(), RobustnessError> {
    let is_file = matches!(sample.source, ImageSource::File(_));
    let has_box = sample.metadata.contains_key("bbox") || !sample.mask_paths.is_empty();
    if is_file && has_box {
        Ok(())
    } else {
        Err(missing_box(&sample.path))
    }
}

fn mask_box(
    path: &Path,
    mask_paths: &[std::path::PathBuf],
    image: &LumaImage,
) -> Result<LesionBox, RobustnessError> {
    if mask_paths.is_empty() {
        return Err(missing_box(path));
    }
    let mut masks = Vec::with_capacity(mask_paths.len());
    for mask_path in mask_paths {
        let mask = decode_luma_file(mask_path)?;
        if (mask.width, mask.height) != (image.width, image.height) {
            return Err(RobustnessError::no_box(
                mask_path,
                format!(
                    "mask is {} x {}, its image {} x {}",
                    mask.width, mask.height, image.width, image.height
                ),
            ));
        }
        masks.push(mask);
    }
    LesionBox::from_masks(&masks).ok_or_else(|| {
        RobustnessError::no_box(path, "its lesion mask is empty: there is no box to crop")
    })
}

/// The crop at `strength`: the box widened by `margin` of its side on every side, its centre
/// moved by up to `strength` of the box's width and height and its size scaled by a factor in
/// `1 +- strength`, all uniform draws from `rng`; clipped to the image. With strength at most
/// 0.5 the centre stays inside the box, so every crop shows part of the lesion.
pub fn crop_region(
    lesion: &LesionBox,
    image_width: u32,
    image_height: u32,
    margin: f64,
    strength: f64,
    rng: &mut ChaCha8Rng,
) -> CropRegion {
    let mut jitter = || {
        if strength > 0.0 {
            rng.random_range(-strength..=strength)
        } else {
            0.0
        }
    };
    let cx = (lesion.x0 + lesion.x1) / 2.0 + jitter() * lesion.width();
    let cy = (lesion.y0 + lesion.y1) / 2.0 + jitter() * lesion.height();
    let scale = 1.0 + jitter();
    let half_w = lesion.width() * (0.5 + margin) * scale;
    let half_h = lesion.height() * (0.5 + margin) * scale;
    let (left, right) = clip_span(cx - half_w, cx + half_w, image_width);
    let (top, bottom) = clip_span(cy - half_h, cy + half_h, image_height);
    CropRegion {
        left,
        top,
        width: right - left,
        height: bottom - top,
    }
}

/// Whole pixels covering `[from, to)`, inside `0..limit` and at least one pixel wide.
fn clip_span(from: f64, to: f64, limit: u32) -> (u32, u32) {
    let last = f64::from(limit.max(1) - 1);
    let start = from.floor().clamp(0.0, last) as u32;
    let end = (to.ceil().clamp(0.0, f64::from(limit)) as u32).max(start + 1);
    (start, end)
}

/// The pixels of `region`.
pub fn crop(image: &LumaImage, region: CropRegion) -> LumaImage {
    let mut pixels = Vec::with_capacity(region.width as usize * region.height as usize);
    for y in region.top..region.top + region.height {
        let row = (y * image.width + region.left) as usize;
        pixels.extend_from_slice(&image.pixels[row..row + region.width as usize]);
    }
    LumaImage {
        width: region.width,
        height: region.height,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn mask(width: u32, height: u32, on: &[(u32, u32)]) -> LumaImage {
        let mut pixels = vec![0.0; (width * height) as usize];
        for &(x, y) in on {
            pixels[(y * width + x) as usize] = 1.0;
        }
        LumaImage {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn the_box_of_united_masks_covers_every_lesion_pixel() {
        let a = mask(10, 8, &[(2, 3), (4, 4)]);
        let b = mask(10, 8, &[(7, 1)]);
        let lesion = LesionBox::from_masks(&[a, b]).unwrap();
        assert_eq!(
            lesion,
            LesionBox {
                x0: 2.0,
                y0: 1.0,
                x1: 8.0,
                y1: 5.0
            }
        );
        assert_eq!(LesionBox::from_masks(&[mask(4, 4, &[])]), None);
    }

    #[test]
    fn busbra_boxes_parse_as_x_y_width_height() {
        let lesion = LesionBox::parse_xywh("[91,24,103,79]").unwrap();
        assert_eq!(
            (lesion.x0, lesion.y0, lesion.x1, lesion.y1),
            (91.0, 24.0, 194.0, 103.0)
        );
        assert!(LesionBox::parse_xywh("[1,2,3]").is_err());
        assert!(LesionBox::parse_xywh("[1,2,0,4]").is_err());
        assert!(LesionBox::parse_xywh("x").is_err());
        let err = lesion.inside(150, 200).unwrap_err();
        assert!(err.contains("outside the 150 x 200 image"), "{err}");
    }

    /// At strength 0 the crop is the box with its margin (it contains the box); at every
    /// strength the crop stays inside the image and overlaps the box, and it is reproducible.
    #[test]
    fn crops_contain_the_box_at_zero_and_overlap_it_at_every_strength() {
        let lesion = LesionBox {
            x0: 40.0,
            y0: 30.0,
            x1: 80.0,
            y1: 50.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let centred = crop_region(&lesion, 200, 100, 0.25, 0.0, &mut rng);
        assert_eq!(
            centred,
            CropRegion {
                left: 30,
                top: 25,
                width: 60,
                height: 30
            }
        );
        for &strength in &BBOX_STRENGTHS {
            for seed in 0..200 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let r = crop_region(&lesion, 200, 100, 0.25, strength, &mut rng);
                assert!(r.width >= 1 && r.height >= 1);
                assert!(r.left + r.width <= 200 && r.top + r.height <= 100, "{r:?}");
                let overlaps_x =
                    f64::from(r.left) < lesion.x1 && f64::from(r.left + r.width) > lesion.x0;
                let overlaps_y =
                    f64::from(r.top) < lesion.y1 && f64::from(r.top + r.height) > lesion.y0;
                assert!(overlaps_x && overlaps_y, "{strength}: {r:?}");
                let mut again = ChaCha8Rng::seed_from_u64(seed);
                assert_eq!(
                    r,
                    crop_region(&lesion, 200, 100, 0.25, strength, &mut again)
                );
            }
        }
        // Stronger perturbations move the crops further from the centred one, on average.
        let mean_shift = |strength: f64| {
            (0..200u64)
                .map(|seed| {
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    let r = crop_region(&lesion, 200, 100, 0.25, strength, &mut rng);
                    f64::from(r.left.abs_diff(centred.left) + r.width.abs_diff(centred.width))
                })
                .sum::<f64>()
                / 200.0
        };
        assert!(mean_shift(0.1) < mean_shift(0.3) && mean_shift(0.3) < mean_shift(0.5));
    }

    fn sample(dir: &Path, name: &str, masks: &[&[(u32, u32)]], bbox: Option<&str>) -> Sample {
        let path = dir.join(format!("{name}.png"));
        image::GrayImage::new(12, 10).save(&path).unwrap();
        let mut mask_paths = Vec::new();
        for (k, on) in masks.iter().enumerate() {
            let mut mask = image::GrayImage::new(12, 10);
            for &(x, y) in *on {
                mask.put_pixel(x, y, image::Luma([255]));
            }
            let mask_path = dir.join(format!("{name}_mask_{k}.png"));
            mask.save(&mask_path).unwrap();
            mask_paths.push(mask_path);
        }
        Sample {
            id: name.to_string(),
            path: path.clone(),
            source: ImageSource::File(path),
            label: 0,
            patient_id: None,
            center: None,
            origin: None,
            split: None,
            mask_paths,
            metadata: bbox
                .map(|b| [("bbox".to_string(), b.to_string())].into())
                .unwrap_or_default(),
        }
    }

    /// BUS-BRA's BBOX column wins over masks; otherwise the OR-merged masks' box (BUSI);
    /// no mask, an empty mask or a box outside the image is an error naming the image.
    #[test]
    fn a_sample_gets_its_box_from_bbox_metadata_or_its_masks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (image, lesion) =
            image_and_box(&sample(d, "a", &[&[(1, 1)]], Some("[2,3,4,5]"))).unwrap();
        assert_eq!((image.width, image.height), (12, 10));
        assert_eq!(
            (lesion.x0, lesion.y0, lesion.x1, lesion.y1),
            (2.0, 3.0, 6.0, 8.0)
        );
        let (_, lesion) = image_and_box(&sample(d, "b", &[&[(1, 2)], &[(5, 7)]], None)).unwrap();
        assert_eq!(
            (lesion.x0, lesion.y0, lesion.x1, lesion.y1),
            (1.0, 2.0, 6.0, 8.0)
        );
        let message = |s: Sample| image_and_box(&s).unwrap_err().to_string();
        let none = message(sample(d, "c", &[], None));
        assert!(
            none.contains("c.png") && none.contains("no lesion mask"),
            "{none}"
        );
        let early = require_box_source(&sample(d, "c", &[], None)).unwrap_err();
        assert_eq!(early.to_string(), none);
        assert!(require_box_source(&sample(d, "a", &[], Some("[2,3,4,5]"))).is_ok());
        assert!(require_box_source(&sample(d, "b", &[&[(1, 2)]], None)).is_ok());
        let empty = message(sample(d, "e", &[&[]], None));
        assert!(
            empty.contains("e.png") && empty.contains("mask is empty"),
            "{empty}"
        );
        let outside = message(sample(d, "f", &[], Some("[8,3,6,4]")));
        assert!(
            outside.contains("f.png") && outside.contains("outside"),
            "{outside}"
        );
    }

    #[test]
    fn a_crop_near_the_border_is_clipped_to_the_image() {
        let lesion = LesionBox {
            x0: 0.0,
            y0: 0.0,
            x1: 10.0,
            y1: 6.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let r = crop_region(&lesion, 12, 8, 0.5, 0.0, &mut rng);
        assert_eq!(
            r,
            CropRegion {
                left: 0,
                top: 0,
                width: 12,
                height: 8
            }
        );
        let image = LumaImage {
            width: 4,
            height: 3,
            pixels: (0..12).map(|v| v as f32).collect(),
        };
        let part = crop(
            &image,
            CropRegion {
                left: 1,
                top: 1,
                width: 2,
                height: 2,
            },
        );
        assert_eq!(part.pixels, vec![5.0, 6.0, 9.0, 10.0]);
    }
}
