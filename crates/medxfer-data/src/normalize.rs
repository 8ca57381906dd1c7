//! Turning a prepared luma image into a normalised C x H x W tensor slice.

use crate::preprocess::PreparedImage;

/// Appends `img` as `channels` x size x size to `out`: luma replicated to every channel,
/// channel `c` normalised as `(v - mean[c]) / std[c]`. `mean`/`std` may hold one value (used
/// for all channels) or one per channel.
pub fn to_chw(img: &PreparedImage, channels: usize, mean: &[f32], std: &[f32], out: &mut Vec<f32>) {
    out.reserve(channels * img.pixels.len());
    for c in 0..channels {
        let m = pick(mean, c, 0.0);
        let s = pick(std, c, 1.0);
        let inv = if s != 0.0 { 1.0 / s } else { 1.0 };
        out.extend(img.pixels.iter().map(|&v| (v - m) * inv));
    }
}

fn pick(values: &[f32], channel: usize, default: f32) -> f32 {
    match values {
        [] => default,
        [single] => *single,
        many => many.get(channel).copied().unwrap_or(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicates_and_normalises_per_channel() {
        let img = PreparedImage {
            size: 2,
            pixels: vec![0.0, 0.5, 1.0, 0.25],
        };
        let mut out = vec![9.0];
        to_chw(
            &img,
            3,
            &[0.485, 0.456, 0.406],
            &[0.229, 0.224, 0.225],
            &mut out,
        );
        assert_eq!(out.len(), 1 + 12);
        assert_eq!(out[0], 9.0, "appends, never clears");
        for (c, (m, s)) in [(0.485f32, 0.229f32), (0.456, 0.224), (0.406, 0.225)]
            .iter()
            .enumerate()
        {
            for (i, &v) in img.pixels.iter().enumerate() {
                let got = out[1 + c * 4 + i];
                assert!((got - (v - m) / s).abs() < 1e-6, "c{c} i{i}: {got}");
            }
        }
        let mut single = Vec::new();
        to_chw(&img, 1, &[0.5], &[0.5], &mut single);
        assert_eq!(single, vec![-1.0, 0.0, 1.0, -0.5]);
    }
}
