//! CPU kernels for the two gradients of a depthwise 2-D convolution (one filter per channel,
//! dilation 1), on contiguous NCHW `f32` buffers.
//!
//! burn's generic weight gradient for grouped convolutions runs one full convolution per
//! group (channel), which made EfficientNet training ~20x slower than its forward pass; these
//! loops touch every input element once per filter tap instead, and run in parallel over
//! channels (weight gradient) or image planes (input gradient).

use rayon::prelude::*;

use super::lanes;

/// Shapes and geometry of one depthwise convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DepthwiseGeometry {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Padding before the first row and column (the trailing padding follows from the output size).
    pub pad_begin: [usize; 2],
    pub out_height: usize,
    pub out_width: usize,
}

impl DepthwiseGeometry {
    fn plane(&self) -> usize {
        self.height * self.width
    }

    fn out_plane(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Input row of output row `oy` under filter row `ky`, if it is inside the image.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride[0] + ky)
            .checked_sub(self.pad_begin[0])
            .filter(|&iy| iy < self.height)
    }

    /// Output columns `ox` whose input column `ox * stride + kx - pad` lies inside the image.
    fn valid_out_columns(&self, kx: usize) -> std::ops::Range<usize> {
        let (stride, pad) = (self.stride[1], self.pad_begin[1]);
        let first = pad.saturating_sub(kx).div_ceil(stride);
        // Last valid ox satisfies ox * stride + kx - pad <= width - 1.
        let end = if self.width + pad > kx {
            ((self.width - 1 + pad - kx) / stride + 1).min(self.out_width)
        } else {
            0
        };
        first..end.max(first)
    }

    /// [`Self::valid_out_columns`] for every filter column.
    fn column_ranges(&self) -> Vec<std::ops::Range<usize>> {
        (0..self.kernel[1])
            .map(|kx| self.valid_out_columns(kx))
            .collect()
    }

    /// Input column of output column `ox` under filter column `kx` (only for valid columns).
    fn input_column(&self, ox: usize, kx: usize) -> usize {
        ox * self.stride[1] + kx - self.pad_begin[1]
    }
}

/// dL/dweight, laid out as `[channels, 1, kernel_h, kernel_w]`.
pub(crate) fn weight_gradient(x: &[f32], output_grad: &[f32], geo: &DepthwiseGeometry) -> Vec<f32> {
    let taps = geo.kernel[0] * geo.kernel[1];
    let column_ranges = geo.column_ranges();
    let mut grad = vec![0.0f32; geo.channels * taps];
    grad.par_chunks_mut(taps)
        .enumerate()
        .for_each(|(channel, channel_grad)| {
            // f64 accumulation across rows and images: the sums run over up to B*H*W terms.
            let mut sums = vec![0.0f64; taps];
            for image in 0..geo.batch {
                let plane = image * geo.channels + channel;
                let x_plane = &x[plane * geo.plane()..(plane + 1) * geo.plane()];
                let g_plane = &output_grad[plane * geo.out_plane()..(plane + 1) * geo.out_plane()];
                for ky in 0..geo.kernel[0] {
                    for oy in 0..geo.out_height {
                        let Some(iy) = geo.input_row(oy, ky) else {
                            continue;
                        };
                        let x_row = &x_plane[iy * geo.width..(iy + 1) * geo.width];
                        let g_row = &g_plane[oy * geo.out_width..(oy + 1) * geo.out_width];
                        for kx in 0..geo.kernel[1] {
                            let columns = column_ranges[kx].clone();
                            if columns.is_empty() {
                                // The tap lies in the padding for every output column (a 5x5
                                // filter on a 1-pixel-wide plane): its start column would be
                                // past the row's end.
                                continue;
                            }
                            let row_sum: f32 = if geo.stride[1] == 1 {
                                let start = geo.input_column(columns.start, kx);
                                lanes::dot(
                                    &g_row[columns.clone()],
                                    &x_row[start..start + columns.len()],
                                )
                            } else {
                                columns
                                    .map(|ox| g_row[ox] * x_row[geo.input_column(ox, kx)])
                                    .sum()
                            };
                            sums[ky * geo.kernel[1] + kx] += row_sum as f64;
                        }
                    }
                }
            }
            for (out, sum) in channel_grad.iter_mut().zip(sums) {
                *out = sum as f32;
            }
        });
    grad
}

/// dL/dx, laid out as `[batch, channels, height, width]`.
pub(crate) fn input_gradient(
    weight: &[f32],
    output_grad: &[f32],
    geo: &DepthwiseGeometry,
) -> Vec<f32> {
    let taps = geo.kernel[0] * geo.kernel[1];
    let column_ranges = geo.column_ranges();
    let mut grad = vec![0.0f32; geo.batch * geo.channels * geo.plane()];
    grad.par_chunks_mut(geo.plane())
        .enumerate()
        .for_each(|(plane, dx_plane)| {
            let channel = plane % geo.channels;
            let filter = &weight[channel * taps..(channel + 1) * taps];
            let g_plane = &output_grad[plane * geo.out_plane()..(plane + 1) * geo.out_plane()];
            for ky in 0..geo.kernel[0] {
                for oy in 0..geo.out_height {
                    let Some(iy) = geo.input_row(oy, ky) else {
                        continue;
                    };
                    let g_row = &g_plane[oy * geo.out_width..(oy + 1) * geo.out_width];
                    let dx_row = &mut dx_plane[iy * geo.width..(iy + 1) * geo.width];
                    for kx in 0..geo.kernel[1] {
                        let tap = filter[ky * geo.kernel[1] + kx];
                        let columns = column_ranges[kx].clone();
                        if columns.is_empty() {
                            continue; // the tap only ever meets padding (see weight_gradient)
                        }
                        if geo.stride[1] == 1 {
                            let start = geo.input_column(columns.start, kx);
                            for (dx, g) in dx_row[start..start + columns.len()]
                                .iter_mut()
                                .zip(&g_row[columns])
                            {
                                *dx += g * tap;
                            }
                        } else {
                            for ox in columns {
                                dx_row[geo.input_column(ox, kx)] += g_row[ox] * tap;
                            }
                        }
                    }
                }
            }
        });
    grad
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written as plainly as possible: out[b,c,oy,ox] = sum over taps of
    /// w[c,ky,kx] * x[b,c,oy*s+ky-p, ox*s+kx-p] (zero outside the image).
    fn forward_reference(x: &[f32], w: &[f32], geo: &DepthwiseGeometry) -> Vec<f32> {
        let mut out = vec![0.0; geo.batch * geo.channels * geo.out_plane()];
        for b in 0..geo.batch {
            for c in 0..geo.channels {
                for oy in 0..geo.out_height {
                    for ox in 0..geo.out_width {
                        let mut sum = 0.0;
                        for ky in 0..geo.kernel[0] {
                            for kx in 0..geo.kernel[1] {
                                let iy =
                                    (oy * geo.stride[0] + ky) as isize - geo.pad_begin[0] as isize;
                                let ix =
                                    (ox * geo.stride[1] + kx) as isize - geo.pad_begin[1] as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= geo.height as isize
                                    || ix >= geo.width as isize
                                {
                                    continue;
                                }
                                let xv = x[((b * geo.channels + c) * geo.height + iy as usize)
                                    * geo.width
                                    + ix as usize];
                                sum += xv * w[(c * geo.kernel[0] + ky) * geo.kernel[1] + kx];
                            }
                        }
                        out[((b * geo.channels + c) * geo.out_height + oy) * geo.out_width + ox] =
                            sum;
                    }
                }
            }
        }
        out
    }

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn geometry(
        size: [usize; 2],
        kernel: usize,
        stride: usize,
        pad: [usize; 4],
    ) -> DepthwiseGeometry {
        let [top, bottom, left, right] = pad;
        DepthwiseGeometry {
            batch: 2,
            channels: 3,
            height: size[0],
            width: size[1],
            kernel: [kernel, kernel],
            stride: [stride, stride],
            pad_begin: [top, left],
            out_height: (size[0] + top + bottom - kernel) / stride + 1,
            out_width: (size[1] + left + right - kernel) / stride + 1,
        }
    }

    /// The loss sum(out * probe) has dL/dout = probe, so each gradient entry equals the
    /// derivative of a linear function: check it against the exact finite difference
    /// (linear in x and in w, so a unit step gives it exactly up to rounding).
    #[test]
    fn gradients_match_the_definition_for_every_geometry() {
        let cases = [
            geometry([7, 6], 3, 1, [1, 1, 1, 1]),
            geometry([7, 6], 3, 2, [0, 1, 0, 1]), // TF "SAME", stride 2, even width
            geometry([8, 8], 5, 2, [1, 2, 1, 2]),
            geometry([5, 9], 5, 1, [2, 2, 2, 2]),
            geometry([4, 4], 3, 1, [0, 0, 0, 0]),
            // EfficientNet-Lite0 at 32 px: 5x5 filters on 1x1 and 2x2 planes, where some taps
            // meet only padding (their slices used to start past the row's end).
            geometry([1, 1], 5, 1, [2, 2, 2, 2]),
            geometry([1, 1], 5, 2, [2, 2, 2, 2]),
            geometry([2, 2], 5, 2, [1, 2, 1, 2]),
            geometry([2, 3], 5, 1, [2, 2, 2, 2]),
        ];
        for (case, geo) in cases.iter().enumerate() {
            let x = pseudo_random(geo.batch * geo.channels * geo.plane(), case as u32);
            let w = pseudo_random(
                geo.channels * geo.kernel[0] * geo.kernel[1],
                100 + case as u32,
            );
            let probe = pseudo_random(
                geo.batch * geo.channels * geo.out_plane(),
                200 + case as u32,
            );
            let loss = |x: &[f32], w: &[f32]| -> f64 {
                forward_reference(x, w, geo)
                    .iter()
                    .zip(&probe)
                    .map(|(o, p)| (*o as f64) * (*p as f64))
                    .sum()
            };
            let base = loss(&x, &w);
            let dw = weight_gradient(&x, &probe, geo);
            for i in 0..w.len() {
                let mut bumped = w.clone();
                bumped[i] += 1.0;
                let expected = loss(&x, &bumped) - base;
                assert!(
                    (dw[i] as f64 - expected).abs() < 1e-3,
                    "case {case} dw[{i}]: {} vs {expected}",
                    dw[i]
                );
            }
            let dx = input_gradient(&w, &probe, geo);
            for i in 0..x.len() {
                let mut bumped = x.clone();
                bumped[i] += 1.0;
                let expected = loss(&bumped, &w) - base;
                assert!(
                    (dx[i] as f64 - expected).abs() < 1e-3,
                    "case {case} dx[{i}]: {} vs {expected}",
                    dx[i]
                );
            }
        }
    }
}
