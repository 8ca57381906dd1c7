//! The corruption suite: each corruption at five severities, applied to the image as the
//! network sees it (padded to a square and resized to the run's input size, intensities in
//! 0..1), so a severity means the same whatever the original image's size. Parameters follow
//! ImageNet-C (Hendrycks & Dietterich 2019) where it defines them (Gaussian noise, speckle
//! noise, blur, contrast, JPEG quality); gamma is our own ladder. Severity 0 is the identity.

use image::ImageEncoder as _;
use medxfer_data::PreparedImage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::RobustnessError;

/// Number of severities above 0.
pub const SEVERITIES: usize = 5;

/// Blur sigmas are ImageNet-C's at 224 px, scaled to the run's input size.
const BLUR_REFERENCE_SIZE: f64 = 224.0;

/// The names on the command line and in the tables are the same (`gaussian_noise`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Corruption {
    /// Additive Gaussian noise of standard deviation `parameter` (0..1 intensity scale).
    GaussianNoise,
    /// Multiplicative noise x (1 + n), n ~ N(0, parameter^2): ultrasound's speckle is
    /// multiplicative.
    SpeckleNoise,
    /// Gaussian blur of standard deviation `parameter` pixels at 224 px.
    GaussianBlur,
    /// Contrast scaled by `parameter` around the image's mean.
    Contrast,
    /// Intensities raised to the power `parameter` (darker above 1).
    Gamma,
    /// JPEG compression at quality `parameter`.
    Jpeg,
}

impl Corruption {
    pub const ALL: [Corruption; 6] = [
        Corruption::GaussianNoise,
        Corruption::SpeckleNoise,
        Corruption::GaussianBlur,
        Corruption::Contrast,
        Corruption::Gamma,
        Corruption::Jpeg,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Corruption::GaussianNoise => "gaussian_noise",
            Corruption::SpeckleNoise => "speckle_noise",
            Corruption::GaussianBlur => "gaussian_blur",
            Corruption::Contrast => "contrast",
            Corruption::Gamma => "gamma",
            Corruption::Jpeg => "jpeg",
        }
    }

    /// The parameter at severities 1 to 5.
    pub fn ladder(self) -> [f64; SEVERITIES] {
        match self {
            Corruption::GaussianNoise => [0.08, 0.12, 0.18, 0.26, 0.38],
            Corruption::SpeckleNoise => [0.15, 0.2, 0.35, 0.45, 0.6],
            Corruption::GaussianBlur => [1.0, 2.0, 3.0, 4.0, 6.0],
            Corruption::Contrast => [0.4, 0.3, 0.2, 0.1, 0.05],
            Corruption::Gamma => [1.25, 1.5, 2.0, 2.5, 3.0],
            Corruption::Jpeg => [25.0, 18.0, 15.0, 10.0, 7.0],
        }
    }

    /// The parameter at `severity` (0 = none: the value that changes nothing).
    pub fn parameter(self, severity: usize) -> f64 {
        match severity {
            0 => match self {
                Corruption::GaussianNoise | Corruption::SpeckleNoise => 0.0,
                Corruption::GaussianBlur => 0.0,
                Corruption::Contrast | Corruption::Gamma => 1.0,
                Corruption::Jpeg => 100.0,
            },
            s => self.ladder()[(s - 1).min(SEVERITIES - 1)],
        }
    }

    /// The image corrupted at `severity` (0 returns it unchanged); intensities stay in 0..1.
    pub fn apply(
        self,
        image: &PreparedImage,
        severity: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<PreparedImage, RobustnessError> {
        if severity == 0 {
            return Ok(image.clone());
        }
        let p = self.parameter(severity);
        let size = image.size;
        let pixels = match self {
            Corruption::GaussianNoise => map_clamped(&image.pixels, |v| v + p * normal(rng)),
            Corruption::SpeckleNoise => map_clamped(&image.pixels, |v| v * (1.0 + p * normal(rng))),
            Corruption::GaussianBlur => {
                let sigma = p * f64::from(size) / BLUR_REFERENCE_SIZE;
                gaussian_blur(&image.pixels, size as usize, sigma)
            }
            Corruption::Contrast => {
                let mean = image.pixels.iter().map(|&v| f64::from(v)).sum::<f64>()
                    / image.pixels.len().max(1) as f64;
                map_clamped(&image.pixels, |v| (v - mean) * p + mean)
            }
            Corruption::Gamma => map_clamped(&image.pixels, |v| v.max(0.0).powf(p)),
            Corruption::Jpeg => jpeg_round_trip(&image.pixels, size, p as u8)?,
        };
        Ok(PreparedImage { size, pixels })
    }
}

fn map_clamped(pixels: &[f32], mut f: impl FnMut(f64) -> f64) -> Vec<f32> {
    pixels
        .iter()
        .map(|&v| f(f64::from(v)).clamp(0.0, 1.0) as f32)
        .collect()
}

/// A standard normal draw (Box-Muller; the workspace has no rand_distr).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // 1 - u keeps the logarithm's argument in (0, 1].
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Separable Gaussian blur over a `size` x `size` image, edges extended (no darkening at the
/// border); the kernel reaches 3 sigma and sums to 1.
pub fn gaussian_blur(pixels: &[f32], size: usize, sigma: f64) -> Vec<f32> {
    if sigma <= 0.0 {
        return pixels.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let mut kernel: Vec<f64> = (-radius..=radius)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);
    let at = |i: isize| i.clamp(0, size as isize - 1) as usize;
    let pass = |input: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; input.len()];
        for y in 0..size {
            for x in 0..size {
                let mut sum = 0f64;
                for (k, weight) in kernel.iter().enumerate() {
                    let d = k as isize - radius;
                    let (sx, sy) = if horizontal {
                        (at(x as isize + d), y)
                    } else {
                        (x, at(y as isize + d))
                    };
                    sum += weight * f64::from(input[sy * size + sx]);
                }
                out[y * size + x] = sum as f32;
            }
        }
        out
    };
    pass(&pass(pixels, true), false)
}

/// Encode as 8-bit grey JPEG at `quality` and decode again.
fn jpeg_round_trip(pixels: &[f32], size: u32, quality: u8) -> Result<Vec<f32>, RobustnessError> {
    let failed = |message: String| RobustnessError::Jpeg { size, message };
    let grey: Vec<u8> = pixels
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100))
        .write_image(&grey, size, size, image::ExtendedColorType::L8)
        .map_err(|e| failed(e.to_string()))?;
    let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| failed(e.to_string()))?
        .to_luma8();
    if decoded.dimensions() != (size, size) {
        return Err(failed(format!("decoded as {:?}", decoded.dimensions())));
    }
    Ok(decoded
        .as_raw()
        .iter()
        .map(|&v| f32::from(v) / 255.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn flat(size: u32, value: f32) -> PreparedImage {
        PreparedImage {
            size,
            pixels: vec![value; (size * size) as usize],
        }
    }

    /// A smooth ramp with a bright square: texture for blur and JPEG to act on.
    fn textured(size: u32) -> PreparedImage {
        let s = size as usize;
        let pixels = (0..s * s)
            .map(|i| {
                let (x, y) = (i % s, i / s);
                let square = (s / 4..s / 2).contains(&x) && (s / 4..s / 2).contains(&y);
                let ramp = 0.2 + 0.4 * x as f32 / s as f32;
                if square { 0.9 } else { ramp }
            })
            .collect();
        PreparedImage { size, pixels }
    }

    fn mean_and_sd(values: &[f32]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    #[test]
    fn severity_zero_is_the_identity() {
        let image = textured(32);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for corruption in Corruption::ALL {
            let out = corruption.apply(&image, 0, &mut rng).unwrap();
            assert_eq!(out, image, "{corruption:?}");
        }
    }

    /// Every corruption changes the image at every severity, keeps its size and range.
    /// 128 px: blur sigmas are scaled from 224 px, and at 32 px severity 1 (sigma 0.14 px)
    /// rounds to the identity.
    #[test]
    fn every_severity_changes_the_image_within_range() {
        let image = textured(128);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for corruption in Corruption::ALL {
            for severity in 1..=SEVERITIES {
                let out = corruption.apply(&image, severity, &mut rng).unwrap();
                assert_eq!(out.pixels.len(), image.pixels.len());
                assert!(out.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
                assert_ne!(out.pixels, image.pixels, "{corruption:?} {severity}");
            }
        }
    }

    /// On mid grey (no clipping at severity 1) the measured noise sd is the ladder's within
    /// 5%; the sd estimate's standard error over 4096 pixels is about 1.1%.
    #[test]
    fn noise_has_the_stated_standard_deviation() {
        let grey = flat(64, 0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let noisy = Corruption::GaussianNoise.apply(&grey, 1, &mut rng).unwrap();
        let (mean, sd) = mean_and_sd(&noisy.pixels);
        assert!((sd - 0.08).abs() < 0.05 * 0.08, "sd {sd}");
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        // Speckle scales with intensity: sd = 0.15 * 0.5 at severity 1.
        let speckled = Corruption::SpeckleNoise.apply(&grey, 1, &mut rng).unwrap();
        let (_, sd) = mean_and_sd(&speckled.pixels);
        assert!((sd - 0.075).abs() < 0.05 * 0.075, "speckle sd {sd}");
    }

    #[test]
    fn noise_is_reproducible_from_its_seed() {
        let grey = flat(16, 0.5);
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Corruption::GaussianNoise.apply(&grey, 3, &mut rng).unwrap()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    /// Contrast scales the sd by its factor and keeps the mean; gamma fixes 0 and 1 and maps
    /// 0.5 to 0.5^gamma; blur keeps a flat image flat and lowers a textured one's sd.
    #[test]
    fn contrast_gamma_and_blur_do_what_they_say() {
        let image = textured(128);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (mean, sd) = mean_and_sd(&image.pixels);
        let low = Corruption::Contrast.apply(&image, 1, &mut rng).unwrap();
        let (low_mean, low_sd) = mean_and_sd(&low.pixels);
        assert!((low_sd - 0.4 * sd).abs() < 1e-5, "{low_sd} vs {sd}");
        assert!((low_mean - mean).abs() < 1e-5);
        let gamma = Corruption::Gamma.apply(&flat(2, 0.5), 3, &mut rng).unwrap();
        assert!((gamma.pixels[0] - 0.25).abs() < 1e-6);
        let ends = PreparedImage {
            size: 1,
            pixels: vec![0.0],
        };
        assert_eq!(Corruption::Gamma.apply(&ends, 5, &mut rng).unwrap(), ends);
        let flat_blurred = Corruption::GaussianBlur
            .apply(&flat(16, 0.3), 5, &mut rng)
            .unwrap();
        assert!(flat_blurred.pixels.iter().all(|v| (v - 0.3).abs() < 1e-5));
        // Stripes two pixels wide (sd 0.3) vanish under sigma 6 * 128 / 224 = 3.4 px but for the
        // edge-extended borders (measured sd 0.03).
        let stripes = PreparedImage {
            size: 128,
            pixels: (0..128 * 128)
                .map(|i| if (i % 128) / 2 % 2 == 0 { 0.2 } else { 0.8 })
                .collect(),
        };
        let (stripes_mean, stripes_sd) = mean_and_sd(&stripes.pixels);
        let blurred = Corruption::GaussianBlur
            .apply(&stripes, 5, &mut rng)
            .unwrap();
        let (blur_mean, blur_sd) = mean_and_sd(&blurred.pixels);
        assert!(blur_sd < 0.15 * stripes_sd, "{blur_sd} vs {stripes_sd}");
        assert!(
            (blur_mean - stripes_mean).abs() < 1e-3,
            "{blur_mean} vs {stripes_mean}"
        );
    }

    /// Lower JPEG quality, larger error (quality 25 against 7, on a textured image).
    #[test]
    fn jpeg_error_grows_as_quality_falls() {
        let image = textured(64);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut error = |severity| {
            let out = Corruption::Jpeg.apply(&image, severity, &mut rng).unwrap();
            out.pixels
                .iter()
                .zip(&image.pixels)
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum::<f64>()
        };
        let (mild, harsh) = (error(1), error(5));
        assert!(mild > 0.0 && harsh > 1.5 * mild, "{mild} {harsh}");
    }
}
