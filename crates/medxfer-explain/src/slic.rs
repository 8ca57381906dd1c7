//! SLIC superpixels (Achanta et al. 2012) on a grey image, the segments LIME switches off.

/// Segment labels (0..count) of a `width` x `height` grey image, row-major: about `segments`
/// regions of similar intensity and compact shape. Intensities are rescaled to 0..100, like
/// CIELAB lightness, so `compactness` means what it does in scikit-image (10 there).
pub fn slic(
    pixels: &[f32],
    width: usize,
    height: usize,
    segments: usize,
    compactness: f32,
) -> Vec<usize> {
    let (lo, hi) = pixels
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    let scale = 100.0 / (hi - lo).max(1e-6);
    let intensity: Vec<f32> = pixels.iter().map(|p| (p - lo) * scale).collect();
    let step = ((width * height) as f32 / segments.max(1) as f32)
        .sqrt()
        .max(1.0);
    // Centres (x, y, intensity) on a regular grid.
    let mut centres: Vec<[f32; 3]> = Vec::new();
    let mut y = step / 2.0;
    while y < height as f32 {
        let mut x = step / 2.0;
        while x < width as f32 {
            let i = y as usize * width + x as usize;
            centres.push([x, y, intensity[i]]);
            x += step;
        }
        y += step;
    }
    let mut labels = vec![0usize; width * height];
    let weight = compactness / step;
    for _ in 0..10 {
        let mut best = vec![f32::MAX; width * height];
        for (k, c) in centres.iter().enumerate() {
            let (x0, x1) = window(c[0], step, width);
            let (y0, y1) = window(c[1], step, height);
            for yy in y0..y1 {
                for xx in x0..x1 {
                    let i = yy * width + xx;
                    let (dx, dy) = (xx as f32 - c[0], yy as f32 - c[1]);
                    let dc = intensity[i] - c[2];
                    let d = dc * dc + (dx * dx + dy * dy) * weight * weight;
                    if d < best[i] {
                        best[i] = d;
                        labels[i] = k;
                    }
                }
            }
        }
        let mut sums = vec![[0f32; 4]; centres.len()];
        for (i, &k) in labels.iter().enumerate() {
            let s = &mut sums[k];
            s[0] += (i % width) as f32;
            s[1] += (i / width) as f32;
            s[2] += intensity[i];
            s[3] += 1.0;
        }
        for (c, s) in centres.iter_mut().zip(&sums) {
            if s[3] > 0.0 {
                *c = [s[0] / s[3], s[1] / s[3], s[2] / s[3]];
            }
        }
    }
    compact_labels(labels)
}

/// The 2-step x 2-step search window around a centre coordinate, clipped to the image.
fn window(centre: f32, step: f32, len: usize) -> (usize, usize) {
    let lo = (centre - step).floor().max(0.0) as usize;
    let hi = ((centre + step).ceil() as usize + 1).min(len);
    (lo, hi)
}

/// Renumber labels 0..count in order of first appearance (centres that won no pixel vanish).
fn compact_labels(labels: Vec<usize>) -> Vec<usize> {
    let mut map = std::collections::HashMap::new();
    labels
        .into_iter()
        .map(|l| {
            let next = map.len();
            *map.entry(l).or_insert(next)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::slic;

    /// Two flat halves: no segment straddles the edge, and there are about as many segments
    /// as asked for.
    #[test]
    fn segments_follow_an_intensity_edge() {
        let (w, h) = (32, 32);
        let pixels: Vec<f32> = (0..w * h)
            .map(|i| if i % w < 13 { 0.1 } else { 0.9 })
            .collect();
        let labels = slic(&pixels, w, h, 16, 10.0);
        let count = labels.iter().max().unwrap() + 1;
        assert!((8..=24).contains(&count), "{count} segments");
        for k in 0..count {
            let sides: std::collections::HashSet<bool> = (0..w * h)
                .filter(|&i| labels[i] == k)
                .map(|i| i % w < 13)
                .collect();
            assert_eq!(sides.len(), 1, "segment {k} crosses the edge");
        }
    }
}
