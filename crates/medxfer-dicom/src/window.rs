//! VOI windowing: modality values to display values in [0, 1] (PS3.3 C.11.2), with a user
//! override and a robust percentile default for files that carry no window.

use std::str::FromStr;

use dicom_pixeldata::{VoiLutFunction, WindowLevel};

use crate::error::DicomError;
use crate::pixels::DicomImage;

/// Default percentiles when a file has no VOI LUT and no window.
pub const DEFAULT_PERCENTILES: (f64, f64) = (0.5, 99.5);

/// How monochrome modality values become display values. Colour images ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum WindowSpec {
    /// The file's VOI LUT, else its first Window Center/Width (per frame for enhanced
    /// objects), else the robust percentile window of each frame.
    #[default]
    Auto,
    /// A fixed window in modality units (e.g. HU), LINEAR function.
    Manual { center: f64, width: f64 },
    /// Map the `low`..`high` percentiles of each frame's values to 0..1.
    Percentile { low: f64, high: f64 },
    /// Map each frame's minimum..maximum to 0..1.
    MinMax,
}

impl FromStr for WindowSpec {
    type Err = DicomError;

    /// `auto`, `minmax`, `CENTER,WIDTH` (or `CENTER:WIDTH`), `pLOW-HIGH` (e.g. `p1-99`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let bad = || {
            DicomError::InvalidOption(format!(
                "window `{text}`: expected auto, minmax, CENTER,WIDTH (e.g. 40,400) or pLOW-HIGH (e.g. p1-99)"
            ))
        };
        match text {
            "auto" => return Ok(WindowSpec::Auto),
            "minmax" => return Ok(WindowSpec::MinMax),
            _ => {}
        }
        if let Some(range) = text.strip_prefix('p') {
            let (low, high) = range.split_once('-').ok_or_else(bad)?;
            let low: f64 = low.trim().parse().map_err(|_| bad())?;
            let high: f64 = high.trim().parse().map_err(|_| bad())?;
            if !(0.0..high).contains(&low) || high > 100.0 {
                return Err(bad());
            }
            return Ok(WindowSpec::Percentile { low, high });
        }
        let (center, width) = text.split_once([',', ':']).ok_or_else(bad)?;
        let center: f64 = center.trim().parse().map_err(|_| bad())?;
        let width: f64 = width.trim().parse().map_err(|_| bad())?;
        if !(width > 0.0 && center.is_finite()) {
            return Err(bad());
        }
        Ok(WindowSpec::Manual { center, width })
    }
}

/// Display values of one held frame, in [0, 1], row-major, `samples_per_pixel` interleaved
/// (3 for RGB and palette images). MONOCHROME1 is inverted so that 1 is always white.
pub fn display_frame(image: &DicomImage, frame: usize, spec: &WindowSpec) -> Vec<f32> {
    if let Some(palette) = &image.palette {
        let rgb = palette_rgb_frame(image, frame, palette);
        let max = [&palette.red, &palette.green, &palette.blue].map(|t| t.max_entry());
        return rgb
            .iter()
            .enumerate()
            .map(|(i, &v)| (v as f64 / max[i % 3]) as f32)
            .collect();
    }
    if !image.is_monochrome() {
        let max = ((1u64 << image.bits_stored.clamp(1, 32)) - 1) as f64;
        return image
            .modality_frame(frame)
            .iter()
            .map(|&v| (v / max).clamp(0.0, 1.0) as f32)
            .collect();
    }
    let values = image.modality_frame(frame);
    let mut out = window_values(image, frame, &values, spec);
    if image.photometric == crate::photometric::Photometric::Monochrome1 {
        out.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    out
}

fn window_values(image: &DicomImage, frame: usize, values: &[f64], spec: &WindowSpec) -> Vec<f32> {
    match *spec {
        WindowSpec::Manual { center, width } => apply_window(
            values,
            WindowLevel { center, width },
            VoiLutFunction::Linear,
        ),
        WindowSpec::Percentile { low, high } => {
            let (lo, hi) = percentiles(values, low, high);
            stretch(values, lo, hi)
        }
        WindowSpec::MinMax => {
            let (lo, hi) = percentiles(values, 0.0, 100.0);
            stretch(values, lo, hi)
        }
        WindowSpec::Auto => {
            if let Some(lut) = &image.voi_lut {
                let max = lut.max_entry();
                values
                    .iter()
                    .map(|&v| (lut.lookup(v.round() as i64) as f64 / max) as f32)
                    .collect()
            } else if let Some(window) = image.window_for(frame) {
                apply_window(values, window, image.voi_function)
            } else {
                let (lo, hi) = percentiles(values, DEFAULT_PERCENTILES.0, DEFAULT_PERCENTILES.1);
                stretch(values, lo, hi)
            }
        }
    }
}

/// PS3.3 C.11.2.1.2 window functions with output range 0..1.
pub fn apply_window(values: &[f64], window: WindowLevel, function: VoiLutFunction) -> Vec<f32> {
    let (c, w) = (window.center, window.width);
    values
        .iter()
        .map(|&x| {
            let y = match function {
                VoiLutFunction::Linear if w <= 1.0 => {
                    if x <= c - 0.5 {
                        0.0
                    } else {
                        1.0
                    }
                }
                VoiLutFunction::Linear => {
                    if x <= c - 0.5 - (w - 1.0) / 2.0 {
                        0.0
                    } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                        1.0
                    } else {
                        (x - (c - 0.5)) / (w - 1.0) + 0.5
                    }
                }
                VoiLutFunction::LinearExact => {
                    if x <= c - w / 2.0 {
                        0.0
                    } else if x > c + w / 2.0 {
                        1.0
                    } else {
                        (x - c) / w + 0.5
                    }
                }
                VoiLutFunction::Sigmoid => 1.0 / (1.0 + (-4.0 * (x - c) / w).exp()),
            };
            y.clamp(0.0, 1.0) as f32
        })
        .collect()
}

/// Linear map of `lo..hi` to 0..1, clamped; a flat image maps to 0.
fn stretch(values: &[f64], lo: f64, hi: f64) -> Vec<f32> {
    let span = hi - lo;
    values
        .iter()
        .map(|&v| {
            if span > 0.0 {
                ((v - lo) / span).clamp(0.0, 1.0) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// The `low` and `high` percentiles (0..=100, nearest rank) of the finite values.
pub fn percentiles(values: &[f64], low: f64, high: f64) -> (f64, f64) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return (0.0, 0.0);
    }
    sorted.sort_unstable_by(f64::total_cmp);
    let rank = |p: f64| {
        let idx = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
        sorted[idx.min(sorted.len() - 1)]
    };
    (rank(low), rank(high))
}

/// Palette indices of one held frame mapped through the red, green and blue tables.
pub fn palette_rgb_frame(
    image: &DicomImage,
    frame: usize,
    palette: &crate::lut::Palette,
) -> Vec<u16> {
    let len = image.frame_len();
    let start = frame * len;
    let mut out = Vec::with_capacity(len * 3);
    for i in start..start + len {
        let index = image.samples.get(i);
        out.extend([
            palette.red.lookup(index),
            palette.green.lookup(index),
            palette.blue.lookup(index),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_window_follows_the_standard_formula() {
        // c=40, w=400: below -159.5 -> 0, above 239.5 -> 1, centre -> ~0.5.
        let w = WindowLevel {
            center: 40.0,
            width: 400.0,
        };
        let out = apply_window(&[-1000.0, 39.5, 1000.0], w, VoiLutFunction::Linear);
        assert_eq!(out[0], 0.0);
        assert!((out[1] - 0.5).abs() < 1e-6, "{}", out[1]);
        assert_eq!(out[2], 1.0);
    }

    #[test]
    fn window_spec_parses_all_forms() {
        assert_eq!("auto".parse::<WindowSpec>().unwrap(), WindowSpec::Auto);
        assert_eq!(
            "-600,1500".parse::<WindowSpec>().unwrap(),
            WindowSpec::Manual {
                center: -600.0,
                width: 1500.0
            }
        );
        assert_eq!(
            "p1-99".parse::<WindowSpec>().unwrap(),
            WindowSpec::Percentile {
                low: 1.0,
                high: 99.0
            }
        );
        assert!("40,0".parse::<WindowSpec>().is_err());
        assert!("wide".parse::<WindowSpec>().is_err());
    }

    #[test]
    fn percentiles_ignore_outliers() {
        let mut values: Vec<f64> = (0..1000).map(|v| v as f64).collect();
        values.push(1.0e9);
        let (lo, hi) = percentiles(&values, 0.5, 99.5);
        assert!(
            (lo - 5.0).abs() <= 1.0 && (hi - 995.0).abs() <= 1.0,
            "{lo} {hi}"
        );
    }
}
