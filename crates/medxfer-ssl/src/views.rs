//! Two random views of every image, as paper 003 section 5.1 makes them: the image (padded to
//! square and resized to 110 x 110 once, in the image cache) is cut by a random resized crop to
//! 64 x 64, flipped horizontally, jittered in brightness and contrast, blurred, and normalised
//! to [-1, 1]. The crop sampling and the photometric operations are the data crate's; only the
//! resize to a different output size (its augmenter keeps the image size) is done here. Every
//! random choice comes from a stream seeded by (run, epoch, batch, view, image).

use burn::prelude::*;
use medxfer_data::PreparedImage;
use medxfer_data::augment::{
    RandomResizedCropConfig, adjust_brightness, adjust_contrast, gaussian_blur, hflip,
    random_resized_crop_params,
};
use medxfer_data::normalize::to_chw;
use medxfer_data::preprocess::resize_bilinear;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::SslError;
use medxfer_train::batches::mix_seed;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ViewConfig {
    /// Side of the cached image the crops are cut from.
    #[serde(default = "default_resize")]
    pub resize: u32,
    /// Side of every view (the encoder's input size).
    #[serde(default = "default_crop")]
    pub crop: u32,
    /// Range of the crop's area as a fraction of the image.
    #[serde(default = "default_scale")]
    pub crop_scale: [f32; 2],
    /// Range of the crop's aspect ratio (width / height).
    #[serde(default = "default_ratio")]
    pub crop_ratio: [f32; 2],
    #[serde(default = "default_half")]
    pub hflip: f32,
    /// Probability of applying the brightness/contrast jitter.
    #[serde(default = "default_jitter_p")]
    pub jitter_p: f32,
    /// Brightness factor drawn from [1 - b, 1 + b].
    #[serde(default = "default_jitter")]
    pub brightness: f32,
    /// Contrast factor drawn from [1 - c, 1 + c] (around the image mean).
    #[serde(default = "default_jitter")]
    pub contrast: f32,
    #[serde(default = "default_half")]
    pub blur_p: f32,
    /// Gaussian blur sigma range, in pixels of the view.
    #[serde(default = "default_blur_sigma")]
    pub blur_sigma: [f32; 2],
    /// Normalisation `(v - mean) / std` of luma in [0, 1]; 0.5 / 0.5 maps to [-1, 1].
    #[serde(default = "default_half")]
    pub mean: f32,
    #[serde(default = "default_half")]
    pub std: f32,
}

impl Default for ViewConfig {
    fn default() -> Self {
        ViewConfig {
            resize: default_resize(),
            crop: default_crop(),
            crop_scale: default_scale(),
            crop_ratio: default_ratio(),
            hflip: default_half(),
            jitter_p: default_jitter_p(),
            brightness: default_jitter(),
            contrast: default_jitter(),
            blur_p: default_half(),
            blur_sigma: default_blur_sigma(),
            mean: default_half(),
            std: default_half(),
        }
    }
}

fn default_resize() -> u32 {
    110
}
fn default_crop() -> u32 {
    64
}
/// MoCo v2's lower bound; SimCLR's 0.08 cuts crops too small to hold a lesion at 110 px.
fn default_scale() -> [f32; 2] {
    [0.2, 1.0]
}
fn default_ratio() -> [f32; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}
fn default_half() -> f32 {
    0.5
}
fn default_jitter_p() -> f32 {
    0.8
}
fn default_jitter() -> f32 {
    0.4
}
fn default_blur_sigma() -> [f32; 2] {
    [0.1, 2.0]
}

impl ViewConfig {
    pub fn validate(&self) -> Result<(), SslError> {
        if self.crop < 16 {
            return Err(SslError::invalid("views.crop", "must be at least 16"));
        }
        if self.resize < self.crop {
            return Err(SslError::invalid(
                "views.crop",
                format!("must not exceed views.resize ({})", self.resize),
            ));
        }
        let [s0, s1] = self.crop_scale;
        if !(s0 > 0.0 && s0 <= s1 && s1 <= 1.0) {
            return Err(SslError::invalid(
                "views.crop_scale",
                "must satisfy 0 < min <= max <= 1",
            ));
        }
        let [r0, r1] = self.crop_ratio;
        if !(r0 > 0.0 && r0 <= r1 && r1.is_finite()) {
            return Err(SslError::invalid(
                "views.crop_ratio",
                "must satisfy 0 < min <= max",
            ));
        }
        for (key, p) in [
            ("views.hflip", self.hflip),
            ("views.jitter_p", self.jitter_p),
            ("views.blur_p", self.blur_p),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SslError::invalid(
                    key,
                    "is a probability: must be in [0, 1]",
                ));
            }
        }
        for (key, v) in [
            ("views.brightness", self.brightness),
            ("views.contrast", self.contrast),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(SslError::invalid(key, "must be in [0, 1)"));
            }
        }
        let [b0, b1] = self.blur_sigma;
        if !(b0 > 0.0 && b0 <= b1 && b1 <= self.crop as f32 / 4.0) {
            return Err(SslError::invalid(
                "views.blur_sigma",
                "must satisfy 0 < min <= max <= crop / 4",
            ));
        }
        if !(self.std > 0.0 && self.std.is_finite() && self.mean.is_finite()) {
            return Err(SslError::invalid("views.std", "must be a positive number"));
        }
        Ok(())
    }
}

/// One random view of `image` (luma in [0, 1], `crop` x `crop`).
pub fn make_view(image: &PreparedImage, config: &ViewConfig, rng: &mut impl Rng) -> PreparedImage {
    let crop_config = RandomResizedCropConfig {
        scale_min: config.crop_scale[0],
        scale_max: config.crop_scale[1],
        ratio_min: config.crop_ratio[0],
        ratio_max: config.crop_ratio[1],
    };
    let (left, top, width, height) = random_resized_crop_params(image.size, &crop_config, rng);
    let mut region = Vec::with_capacity((width * height) as usize);
    for y in top..top + height {
        let row = (y * image.size + left) as usize;
        region.extend_from_slice(&image.pixels[row..row + width as usize]);
    }
    let out = config.crop;
    let mut view = PreparedImage {
        size: out,
        pixels: resize_bilinear(&region, width, height, out, out),
    };
    if rng.random::<f32>() < config.hflip {
        hflip(&mut view);
    }
    if rng.random::<f32>() < config.jitter_p {
        let b = rng.random_range(1.0 - config.brightness..=1.0 + config.brightness);
        let c = rng.random_range(1.0 - config.contrast..=1.0 + config.contrast);
        // torchvision applies the jitters in random order; both orders are drawn here.
        if rng.random::<bool>() {
            adjust_brightness(&mut view, b);
            adjust_contrast(&mut view, c);
        } else {
            adjust_contrast(&mut view, c);
            adjust_brightness(&mut view, b);
        }
    }
    if rng.random::<f32>() < config.blur_p {
        let sigma = rng.random_range(config.blur_sigma[0]..=config.blur_sigma[1]);
        view = gaussian_blur(&view, sigma);
    }
    view
}

/// A batch of views (N x C x crop x crop) of the images `get(key)` returns for each key; image
/// `key` of the batch draws from the stream `mix_seed([stream, key])`.
pub fn view_batch<'a, F>(
    keys: &[u64],
    get: F,
    config: &ViewConfig,
    channels: usize,
    stream: u64,
    device: &Device,
) -> Tensor<4>
where
    F: Fn(u64) -> &'a PreparedImage + Sync,
{
    let side = config.crop as usize;
    let per_image = channels * side * side;
    let parts: Vec<Vec<f32>> = keys
        .par_iter()
        .map(|&key| {
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[stream, key]));
            let view = make_view(get(key), config, &mut rng);
            let mut out = Vec::with_capacity(per_image);
            to_chw(&view, channels, &[config.mean], &[config.std], &mut out);
            out
        })
        .collect();
    Tensor::from_data(
        TensorData::new(parts.concat(), [keys.len(), channels, side, side]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient_image(size: u32) -> PreparedImage {
        PreparedImage {
            size,
            pixels: (0..size * size)
                .map(|i| (i % size) as f32 / (size - 1) as f32)
                .collect(),
        }
    }

    #[test]
    fn views_are_cut_from_inside_the_crop_range() {
        // A view of a horizontal ramp spans at most the crop's share of the ramp.
        let img = gradient_image(110);
        let config = ViewConfig {
            crop_scale: [0.25, 0.25],
            crop_ratio: [1.0, 1.0],
            hflip: 0.0,
            jitter_p: 0.0,
            blur_p: 0.0,
            ..ViewConfig::default()
        };
        for seed in 0..20 {
            let view = make_view(&img, &config, &mut ChaCha8Rng::seed_from_u64(seed));
            let row = &view.pixels[..64];
            let span = row[63] - row[0];
            // Half the side (55 of 110 px) covers 54/109 of the ramp.
            assert!(
                (span - 54.0 / 109.0).abs() < 0.03,
                "seed {seed}: span {span}"
            );
        }
    }

    #[test]
    fn views_have_the_crop_size_and_depend_only_on_their_seed() {
        let img = gradient_image(110);
        let config = ViewConfig::default();
        let a = make_view(&img, &config, &mut ChaCha8Rng::seed_from_u64(5));
        let b = make_view(&img, &config, &mut ChaCha8Rng::seed_from_u64(5));
        let c = make_view(&img, &config, &mut ChaCha8Rng::seed_from_u64(6));
        assert_eq!(a.size, 64);
        assert_eq!(a.pixels.len(), 64 * 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn identity_settings_give_the_resized_image() {
        let img = gradient_image(64);
        let config = ViewConfig {
            resize: 64,
            crop_scale: [1.0, 1.0],
            crop_ratio: [1.0, 1.0],
            hflip: 0.0,
            jitter_p: 0.0,
            blur_p: 0.0,
            ..ViewConfig::default()
        };
        let view = make_view(&img, &config, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(view, img);
        let flipped = make_view(
            &img,
            &ViewConfig {
                hflip: 1.0,
                ..config
            },
            &mut ChaCha8Rng::seed_from_u64(0),
        );
        assert!((flipped.pixels[0] - 1.0).abs() < 1e-6 && flipped.pixels[63].abs() < 1e-6);
    }

    #[test]
    fn validation_names_the_key() {
        let bad = ViewConfig {
            crop_scale: [0.5, 0.2],
            ..ViewConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("views.crop_scale")
        );
    }
}
