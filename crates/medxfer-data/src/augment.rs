//! Seeded augmentations on prepared luma images, with torchvision semantics: random resized
//! crop, horizontal flip, rotation, brightness/contrast jitter and Gaussian blur; and three
//! for ultrasound, where images differ between scanners and operators mostly in imaging depth,
//! time-gain compensation and speckle: a depth crop (the deepest rows cut away and the image
//! stretched back, as a shallower depth setting shows), a smooth gain curve along depth (a
//! different TGC setting) and multiplicative speckle noise.
//!
//! An augmentation that is off draws nothing from the random stream, so adding one to this
//! list never changes what an existing configuration produces.

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::preprocess::{PreparedImage, PreparedMask, resize_bilinear};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomResizedCropConfig {
    /// Range of the crop's area as a fraction of the image area.
    pub scale_min: f32,
    pub scale_max: f32,
    /// Range of the crop's aspect ratio (width / height), sampled log-uniformly.
    pub ratio_min: f32,
    pub ratio_max: f32,
}

impl Default for RandomResizedCropConfig {
    fn default() -> Self {
        // torchvision.transforms.RandomResizedCrop defaults.
        RandomResizedCropConfig {
            scale_min: 0.08,
            scale_max: 1.0,
            ratio_min: 3.0 / 4.0,
            ratio_max: 4.0 / 3.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianBlurConfig {
    pub sigma_min: f32,
    pub sigma_max: f32,
    /// Probability of blurring an image.
    pub p: f32,
}

impl Default for GaussianBlurConfig {
    fn default() -> Self {
        GaussianBlurConfig {
            sigma_min: 0.1,
            sigma_max: 2.0,
            p: 0.5,
        }
    }
}

/// Cut away up to `max_fraction` of the image's bottom rows (the deepest tissue) and stretch
/// the rest back to full height, with probability `p`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DepthCropConfig {
    pub max_fraction: f32,
    pub p: f32,
}

impl Default for DepthCropConfig {
    fn default() -> Self {
        DepthCropConfig {
            max_fraction: 0.2,
            p: 0.5,
        }
    }
}

/// Multiply row `y` (depth d = y / (rows - 1) in [0, 1]) by
/// `1 + slope * (d - 0.5) * 2 + curvature * ((2d - 1)^2 - 1/3)`, slope and curvature drawn
/// uniformly from [-strength, strength], with probability `p`: a smooth time-gain
/// compensation curve whose mean gain over depth is 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DepthGainConfig {
    pub strength: f32,
    pub p: f32,
}

impl Default for DepthGainConfig {
    fn default() -> Self {
        DepthGainConfig {
            strength: 0.2,
            p: 0.5,
        }
    }
}

/// Multiplicative speckle: `v * (1 + sigma * n)`, n standard normal per pixel, sigma drawn
/// from [0, sigma_max], clamped to [0, 1], with probability `p`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeckleConfig {
    pub sigma_max: f32,
    pub p: f32,
}

impl Default for SpeckleConfig {
    fn default() -> Self {
        SpeckleConfig {
            sigma_max: 0.15,
            p: 0.5,
        }
    }
}

/// Every augmentation is off by default.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    pub random_resized_crop: Option<RandomResizedCropConfig>,
    /// Probability of a horizontal flip.
    pub hflip: f32,
    /// Rotation angle drawn uniformly from [-rotation_degrees, +rotation_degrees].
    pub rotation_degrees: f32,
    /// Brightness factor drawn from [max(0, 1 - brightness), 1 + brightness].
    pub brightness: f32,
    /// Contrast factor drawn from [max(0, 1 - contrast), 1 + contrast].
    pub contrast: f32,
    pub gaussian_blur: Option<GaussianBlurConfig>,
    /// Ultrasound: a shallower imaging depth (geometric: moves the mask too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth_crop: Option<DepthCropConfig>,
    /// Ultrasound: another time-gain compensation curve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth_gain: Option<DepthGainConfig>,
    /// Ultrasound: multiplicative speckle noise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speckle: Option<SpeckleConfig>,
}

impl AugmentConfig {
    pub fn is_identity(&self) -> bool {
        self.random_resized_crop.is_none()
            && self.hflip == 0.0
            && self.rotation_degrees == 0.0
            && self.brightness == 0.0
            && self.contrast == 0.0
            && self.gaussian_blur.is_none()
            && self.depth_crop.is_none()
            && self.depth_gain.is_none()
            && self.speckle.is_none()
    }

    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |what: String| Err(DataError::Config(format!("augment: {what}")));
        if let Some(crop) = &self.random_resized_crop {
            if !(crop.scale_min > 0.0 && crop.scale_min <= crop.scale_max && crop.scale_max <= 1.0)
            {
                return bad(format!(
                    "random_resized_crop scale range [{}, {}] must satisfy 0 < min <= max <= 1",
                    crop.scale_min, crop.scale_max
                ));
            }
            if !(crop.ratio_min > 0.0
                && crop.ratio_min <= crop.ratio_max
                && crop.ratio_max.is_finite())
            {
                return bad(format!(
                    "random_resized_crop ratio range [{}, {}] must satisfy 0 < min <= max",
                    crop.ratio_min, crop.ratio_max
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.hflip) {
            return bad(format!(
                "hflip probability {} must be in [0, 1]",
                self.hflip
            ));
        }
        for (name, value) in [
            ("rotation_degrees", self.rotation_degrees),
            ("brightness", self.brightness),
            ("contrast", self.contrast),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return bad(format!("{name} {value} must be a non-negative number"));
            }
        }
        if let Some(blur) = &self.gaussian_blur {
            if !(blur.sigma_min > 0.0 && blur.sigma_min <= blur.sigma_max && blur.sigma_max <= 50.0)
            {
                return bad(format!(
                    "gaussian_blur sigma range [{}, {}] must satisfy 0 < min <= max <= 50",
                    blur.sigma_min, blur.sigma_max
                ));
            }
            if !(0.0..=1.0).contains(&blur.p) {
                return bad(format!("gaussian_blur p {} must be in [0, 1]", blur.p));
            }
        }
        self.validate_ultrasound()
    }

    fn validate_ultrasound(&self) -> Result<(), DataError> {
        let checks = [
            self.depth_crop
                .map(|c| ("depth_crop.max_fraction", c.max_fraction, 0.0..0.9, c.p)),
            self.depth_gain
                .map(|c| ("depth_gain.strength", c.strength, 0.0..1.0, c.p)),
            self.speckle
                .map(|c| ("speckle.sigma_max", c.sigma_max, 0.0..2.0, c.p)),
        ];
        for (name, value, range, p) in checks.into_iter().flatten() {
            if !(range.contains(&value)) {
                return Err(DataError::Config(format!(
                    "augment: {name} {value} must be in [{}, {})",
                    range.start, range.end
                )));
            }
            if !(0.0..=1.0).contains(&p) {
                let section = name.split('.').next().unwrap_or(name);
                return Err(DataError::Config(format!(
                    "augment: {section}.p {p} must be in [0, 1]"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Augmenter {
    config: AugmentConfig,
}

impl Augmenter {
    pub fn new(config: AugmentConfig) -> Result<Augmenter, DataError> {
        config.validate()?;
        Ok(Augmenter { config })
    }

    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// Applies crop, flip, rotation, colour jitter (random order) and blur, in that order.
    pub fn apply(&self, img: &PreparedImage, rng: &mut impl Rng) -> PreparedImage {
        let geometry = self.draw_geometry(img.size, rng);
        let mut out = apply_geometry(img, &geometry);
        self.apply_photometric(&mut out, rng);
        out
    }

    /// Like `apply`, and moves the mask with the same crop, flip and rotation (bilinear, then
    /// thresholded at 0.5); colour changes touch the image only. For equal RNG states the
    /// image equals `apply`'s.
    pub fn apply_with_mask(
        &self,
        img: &PreparedImage,
        mask: &PreparedMask,
        rng: &mut impl Rng,
    ) -> (PreparedImage, PreparedMask) {
        let geometry = self.draw_geometry(img.size, rng);
        let mut out = apply_geometry(img, &geometry);
        self.apply_photometric(&mut out, rng);
        let mask_as_image = PreparedImage {
            size: mask.size,
            pixels: mask.pixels.iter().map(|&v| f32::from(v)).collect(),
        };
        let moved = apply_geometry(&mask_as_image, &geometry);
        let mask = PreparedMask {
            size: mask.size,
            pixels: moved.pixels.iter().map(|&v| u8::from(v >= 0.5)).collect(),
        };
        (out, mask)
    }

    fn draw_geometry(&self, size: u32, rng: &mut impl Rng) -> Geometry {
        let c = &self.config;
        let crop = c
            .random_resized_crop
            .as_ref()
            .map(|crop| random_resized_crop_params(size, crop, rng));
        let flip = c.hflip > 0.0 && rng.random::<f32>() < c.hflip;
        let angle = (c.rotation_degrees > 0.0)
            .then(|| rng.random_range(-c.rotation_degrees..=c.rotation_degrees));
        let depth_rows = c
            .depth_crop
            .filter(|d| d.p > 0.0 && rng.random::<f32>() < d.p)
            .map(|d| {
                let cut = rng.random_range(0.0..=d.max_fraction);
                ((size as f32 * (1.0 - cut)).round() as u32).clamp(1, size)
            });
        Geometry {
            depth_rows,
            crop,
            flip,
            angle,
        }
    }

    fn apply_photometric(&self, out: &mut PreparedImage, rng: &mut impl Rng) {
        let c = &self.config;
        let mut jitters: Vec<Jitter> = Vec::with_capacity(2);
        if c.brightness > 0.0 {
            jitters.push(Jitter::Brightness);
        }
        if c.contrast > 0.0 {
            jitters.push(Jitter::Contrast);
        }
        jitters.shuffle(rng);
        for jitter in jitters {
            match jitter {
                Jitter::Brightness => {
                    let factor =
                        rng.random_range((1.0 - c.brightness).max(0.0)..=1.0 + c.brightness);
                    adjust_brightness(out, factor);
                }
                Jitter::Contrast => {
                    let factor = rng.random_range((1.0 - c.contrast).max(0.0)..=1.0 + c.contrast);
                    adjust_contrast(out, factor);
                }
            }
        }
        self.apply_ultrasound(out, rng);
        if let Some(blur) = &c.gaussian_blur
            && blur.p > 0.0
            && rng.random::<f32>() < blur.p
        {
            let sigma = rng.random_range(blur.sigma_min..=blur.sigma_max);
            *out = gaussian_blur(out, sigma);
        }
    }

    /// The ultrasound photometric augmentations: gain curve, then speckle.
    fn apply_ultrasound(&self, out: &mut PreparedImage, rng: &mut impl Rng) {
        let c = &self.config;
        if let Some(gain) = c.depth_gain
            && gain.p > 0.0
            && rng.random::<f32>() < gain.p
        {
            let slope = rng.random_range(-gain.strength..=gain.strength);
            let curvature = rng.random_range(-gain.strength..=gain.strength);
            apply_depth_gain(out, slope, curvature);
        }
        if let Some(speckle) = c.speckle
            && speckle.p > 0.0
            && rng.random::<f32>() < speckle.p
        {
            let sigma = rng.random_range(0.0..=speckle.sigma_max);
            apply_speckle(out, sigma, rng);
        }
    }
}

/// Multiplies each row by the gain curve of [`DepthGainConfig`], clamped to [0, 1].
pub fn apply_depth_gain(img: &mut PreparedImage, slope: f32, curvature: f32) {
    let n = img.size as usize;
    for (y, row) in img.pixels.chunks_exact_mut(n).enumerate() {
        let depth = if n > 1 {
            y as f32 / (n - 1) as f32
        } else {
            0.5
        };
        let centred = 2.0 * depth - 1.0;
        let gain = 1.0 + slope * centred + curvature * (centred * centred - 1.0 / 3.0);
        for v in row {
            *v = (*v * gain).clamp(0.0, 1.0);
        }
    }
}

/// `v * (1 + sigma * n)` with n standard normal (Box-Muller), clamped to [0, 1].
pub fn apply_speckle(img: &mut PreparedImage, sigma: f32, rng: &mut impl Rng) {
    for pair in img.pixels.chunks_mut(2) {
        let u1: f32 = rng.random_range(f32::MIN_POSITIVE..1.0);
        let u2: f32 = rng.random();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f32::consts::TAU * u2;
        let normals = [radius * angle.cos(), radius * angle.sin()];
        for (v, n) in pair.iter_mut().zip(normals) {
            *v = (*v * (1.0 + sigma * n)).clamp(0.0, 1.0);
        }
    }
}

/// The geometric draws of one augmentation, shared by an image and its mask.
struct Geometry {
    /// Depth crop: the top rows kept (then stretched back to full height).
    depth_rows: Option<u32>,
    crop: Option<(u32, u32, u32, u32)>,
    flip: bool,
    angle: Option<f32>,
}

fn apply_geometry(img: &PreparedImage, geometry: &Geometry) -> PreparedImage {
    let shallower = geometry
        .depth_rows
        .map(|rows| crop_and_resize(img, (0, 0, img.size, rows)));
    let img = shallower.as_ref().unwrap_or(img);
    let mut out = match geometry.crop {
        Some(rect) => crop_and_resize(img, rect),
        None => img.clone(),
    };
    if geometry.flip {
        hflip(&mut out);
    }
    if let Some(angle) = geometry.angle {
        out = rotate(&out, angle);
    }
    out
}

enum Jitter {
    Brightness,
    Contrast,
}

/// Crop rectangle `(left, top, width, height)` chosen like torchvision's
/// `RandomResizedCrop.get_params`: ten tries, then a centre crop clamped to the ratio range.
pub fn random_resized_crop_params(
    size: u32,
    config: &RandomResizedCropConfig,
    rng: &mut impl Rng,
) -> (u32, u32, u32, u32) {
    let (width, height) = (size as f32, size as f32);
    let area = width * height;
    let (log_min, log_max) = (config.ratio_min.ln(), config.ratio_max.ln());
    for _ in 0..10 {
        let target_area = area * rng.random_range(config.scale_min..=config.scale_max);
        let aspect = if log_max > log_min {
            rng.random_range(log_min..=log_max).exp()
        } else {
            config.ratio_min
        };
        let w = (target_area * aspect).sqrt().round();
        let h = (target_area / aspect).sqrt().round();
        if w > 0.0 && w <= width && h > 0.0 && h <= height {
            let (w, h) = (w as u32, h as u32);
            let top = rng.random_range(0..=size - h);
            let left = rng.random_range(0..=size - w);
            return (left, top, w, h);
        }
    }
    let in_ratio = width / height;
    let (w, h) = if in_ratio < config.ratio_min {
        (size, (width / config.ratio_min).round() as u32)
    } else if in_ratio > config.ratio_max {
        ((height * config.ratio_max).round() as u32, size)
    } else {
        (size, size)
    };
    let (w, h) = (w.clamp(1, size), h.clamp(1, size));
    ((size - w) / 2, (size - h) / 2, w, h)
}

pub fn random_resized_crop(
    img: &PreparedImage,
    config: &RandomResizedCropConfig,
    rng: &mut impl Rng,
) -> PreparedImage {
    crop_and_resize(img, random_resized_crop_params(img.size, config, rng))
}

/// Crops `(left, top, width, height)` and resizes back to the image's size.
fn crop_and_resize(img: &PreparedImage, (left, top, w, h): (u32, u32, u32, u32)) -> PreparedImage {
    let mut crop = Vec::with_capacity((w * h) as usize);
    for y in top..top + h {
        let start = (y * img.size + left) as usize;
        crop.extend_from_slice(&img.pixels[start..start + w as usize]);
    }
    PreparedImage {
        size: img.size,
        pixels: resize_bilinear(&crop, w, h, img.size, img.size),
    }
}

pub fn hflip(img: &mut PreparedImage) {
    for row in img.pixels.chunks_exact_mut(img.size as usize) {
        row.reverse();
    }
}

/// Rotates counter-clockwise by `degrees` about the image centre (bilinear, black outside).
pub fn rotate(img: &PreparedImage, degrees: f32) -> PreparedImage {
    let n = img.size as usize;
    let (sin, cos) = degrees.to_radians().sin_cos();
    let centre = (n as f32 - 1.0) / 2.0;
    let sample = |x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x >= n as isize || y >= n as isize {
            0.0
        } else {
            img.pixels[y as usize * n + x as usize]
        }
    };
    let mut pixels = vec![0.0f32; n * n];
    for y in 0..n {
        let dy = y as f32 - centre;
        for x in 0..n {
            let dx = x as f32 - centre;
            // Inverse map: where in the source does this output pixel come from (y points down).
            let sx = cos * dx - sin * dy + centre;
            let sy = sin * dx + cos * dy + centre;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let top = sample(x0, y0) * (1.0 - fx) + sample(x0 + 1, y0) * fx;
            let bottom = sample(x0, y0 + 1) * (1.0 - fx) + sample(x0 + 1, y0 + 1) * fx;
            pixels[y * n + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    PreparedImage {
        size: img.size,
        pixels,
    }
}

/// Multiplies by `factor` and clamps to [0, 1] (torchvision `adjust_brightness`).
pub fn adjust_brightness(img: &mut PreparedImage, factor: f32) {
    for v in &mut img.pixels {
        *v = (*v * factor).clamp(0.0, 1.0);
    }
}

/// Blends with the image mean: `factor * v + (1 - factor) * mean`, clamped
/// (torchvision `adjust_contrast`).
pub fn adjust_contrast(img: &mut PreparedImage, factor: f32) {
    let mean = img.pixels.iter().map(|&v| v as f64).sum::<f64>() / img.pixels.len().max(1) as f64;
    let offset = (1.0 - factor) * mean as f32;
    for v in &mut img.pixels {
        *v = (factor * *v + offset).clamp(0.0, 1.0);
    }
}

/// Separable Gaussian blur, kernel size `2 * ceil(3 sigma) + 1`, reflect padding.
pub fn gaussian_blur(img: &PreparedImage, sigma: f32) -> PreparedImage {
    let n = img.size as usize;
    let radius = (3.0 * sigma).ceil().max(1.0) as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|w| w / total).collect();
    let reflect = |i: isize| -> usize {
        let last = n as isize - 1;
        if last == 0 {
            return 0;
        }
        let period = 2 * last;
        let m = i.rem_euclid(period);
        (if m > last { period - m } else { m }) as usize
    };
    let mut horizontal = vec![0.0f32; n * n];
    for y in 0..n {
        let row = &img.pixels[y * n..(y + 1) * n];
        for x in 0..n {
            horizontal[y * n + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, w)| w * row[reflect(x as isize + k as isize - radius)])
                .sum();
        }
    }
    let mut pixels = vec![0.0f32; n * n];
    for y in 0..n {
        for x in 0..n {
            pixels[y * n + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, w)| w * horizontal[reflect(y as isize + k as isize - radius) * n + x])
                .sum();
        }
    }
    PreparedImage {
        size: img.size,
        pixels,
    }
}
