//! 2-D max pooling (dilation 1, floor mode) and its input gradient on contiguous NCHW `f32`
//! buffers, in parallel over image planes.
//!
//! Flex's own max pooling took a tenth of a ResNet-18 inference pass at 128 px (the 3x3
//! stride-2 pooling after the stem). The gradient recomputes each window's maximum from the
//! input instead of keeping indices from the forward pass: one more pass over a small
//! activation, and the autodiff graph needs no integer state.
//!
//! Ties and NaN follow PyTorch: the first maximum in row-major window order wins, and a NaN is
//! the maximum of any window that holds one (the last NaN, as PyTorch's `val > max || isnan`).

use rayon::prelude::*;

/// One max pooling: `planes` (batch x channels) of `height x width` in, `out_height x
/// out_width` out; `pad` is the (symmetric) padding, which never wins a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolGeometry {
    pub planes: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub out_height: usize,
    pub out_width: usize,
}

impl PoolGeometry {
    /// Output size along one axis in floor mode, if the window fits at all.
    pub fn out_size(size: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
        (size + 2 * pad)
            .checked_sub(kernel)
            .filter(|_| stride > 0 && pad < kernel)
            .map(|span| span / stride + 1)
    }

    fn plane(&self) -> usize {
        self.height * self.width
    }

    fn out_plane(&self) -> usize {
        self.out_height * self.out_width
    }

    /// The input positions `start..end` along `axis` that output position `o` covers.
    fn window(&self, axis: usize, o: usize) -> std::ops::Range<usize> {
        let size = if axis == 0 { self.height } else { self.width };
        let begin = o * self.stride[axis];
        let start = begin.saturating_sub(self.pad[axis]).min(size);
        let end = (begin + self.kernel[axis])
            .saturating_sub(self.pad[axis])
            .min(size);
        start..end.max(start)
    }

    /// Every output column's input columns, computed once per call.
    fn column_windows(&self) -> Vec<std::ops::Range<usize>> {
        (0..self.out_width).map(|ox| self.window(1, ox)).collect()
    }
}

/// Whether `value` replaces `best` as a window's maximum: PyTorch's `val > max || isnan(val)`.
fn wins(value: f32, best: f32) -> bool {
    value > best || value.is_nan()
}

/// Max pooling of `x`, `[planes, out_height, out_width]` flattened.
pub(crate) fn forward(x: &[f32], geo: &PoolGeometry) -> Vec<f32> {
    let mut out = vec![0.0f32; geo.planes * geo.out_plane()];
    let columns = geo.column_windows();
    out.par_chunks_mut(geo.out_plane().max(1))
        .zip(x.par_chunks(geo.plane().max(1)))
        .for_each(|(dst, plane)| {
            for (oy, dst_row) in dst.chunks_exact_mut(geo.out_width.max(1)).enumerate() {
                dst_row.fill(f32::NEG_INFINITY);
                for iy in geo.window(0, oy) {
                    let row = &plane[iy * geo.width..][..geo.width];
                    for (best, window) in dst_row.iter_mut().zip(&columns) {
                        for &value in &row[window.clone()] {
                            if wins(value, *best) {
                                *best = value;
                            }
                        }
                    }
                }
            }
        });
    out
}

/// Gradient of [`forward`] with respect to `x`: each output's gradient goes to its window's
/// maximum (the first one in row-major order).
pub(crate) fn input_gradient(x: &[f32], output_grad: &[f32], geo: &PoolGeometry) -> Vec<f32> {
    let mut grad = vec![0.0f32; x.len()];
    let columns = geo.column_windows();
    grad.par_chunks_mut(geo.plane().max(1))
        .zip(x.par_chunks(geo.plane().max(1)))
        .zip(output_grad.par_chunks(geo.out_plane().max(1)))
        .for_each(|((grad_plane, plane), dy)| {
            for (oy, dy_row) in dy.chunks_exact(geo.out_width.max(1)).enumerate() {
                let rows = geo.window(0, oy);
                for (g, window) in dy_row.iter().zip(&columns) {
                    let mut best: Option<(usize, f32)> = None;
                    for iy in rows.clone() {
                        for ix in window.clone() {
                            let (index, value) = (iy * geo.width + ix, plane[iy * geo.width + ix]);
                            if best.is_none_or(|(_, max)| wins(value, max)) {
                                best = Some((index, value));
                            }
                        }
                    }
                    // Every window covers at least one input position (pad < kernel, checked
                    // by `out_size`).
                    if let Some((index, _)) = best {
                        grad_plane[index] += g;
                    }
                }
            }
        });
    grad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(
        size: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
    ) -> PoolGeometry {
        let out = |axis: usize| {
            PoolGeometry::out_size(size[axis], kernel[axis], stride[axis], pad[axis])
                .expect("a valid pooling")
        };
        PoolGeometry {
            planes: 2,
            height: size[0],
            width: size[1],
            kernel,
            stride,
            pad,
            out_height: out(0),
            out_width: out(1),
        }
    }

    /// The definition: padding is minus infinity, the first maximum wins.
    fn reference(x: &[f32], dy: &[f32], geo: &PoolGeometry) -> (Vec<f32>, Vec<f32>) {
        let mut y = vec![0.0; geo.planes * geo.out_plane()];
        let mut dx = vec![0.0; x.len()];
        for p in 0..geo.planes {
            for oy in 0..geo.out_height {
                for ox in 0..geo.out_width {
                    let (mut best, mut at) = (f32::NEG_INFINITY, None);
                    for ky in 0..geo.kernel[0] {
                        for kx in 0..geo.kernel[1] {
                            let iy = (oy * geo.stride[0] + ky) as isize - geo.pad[0] as isize;
                            let ix = (ox * geo.stride[1] + kx) as isize - geo.pad[1] as isize;
                            if iy < 0
                                || ix < 0
                                || iy >= geo.height as isize
                                || ix >= geo.width as isize
                            {
                                continue;
                            }
                            let i = p * geo.plane() + iy as usize * geo.width + ix as usize;
                            if at.is_none() || x[i] > best {
                                (best, at) = (x[i], Some(i));
                            }
                        }
                    }
                    let o = p * geo.out_plane() + oy * geo.out_width + ox;
                    let at = at.expect("a non-empty window");
                    y[o] = x[at];
                    dx[at] += dy[o];
                }
            }
        }
        (y, dx)
    }

    #[test]
    fn matches_the_definition_with_ties_and_padding() {
        // ResNet's 3x3 stride-2 pad-1 pooling on even and odd sizes, 2x2 stride 2, a
        // non-square window, and overlapping stride-1 windows.
        for (size, kernel, stride, pad) in [
            ([8, 8], [3, 3], [2, 2], [1, 1]),
            ([7, 9], [3, 3], [2, 2], [1, 1]),
            ([6, 6], [2, 2], [2, 2], [0, 0]),
            ([5, 7], [2, 3], [1, 2], [1, 1]),
            ([4, 4], [3, 3], [1, 1], [1, 1]),
        ] {
            let geo = geometry(size, kernel, stride, pad);
            // Few distinct values (many ties, as after a ReLU), some negative.
            let x: Vec<f32> = (0..geo.planes * geo.plane())
                .map(|i| ((i * 7919) % 5) as f32 - 2.0)
                .collect();
            let dy: Vec<f32> = (0..geo.planes * geo.out_plane())
                .map(|i| 0.5 + i as f32)
                .collect();
            let (y_ref, dx_ref) = reference(&x, &dy, &geo);
            assert_eq!(forward(&x, &geo), y_ref, "{size:?} {kernel:?} {stride:?}");
            assert_eq!(
                input_gradient(&x, &dy, &geo),
                dx_ref,
                "{size:?} {kernel:?} {stride:?}"
            );
        }
    }

    #[test]
    fn a_nan_wins_its_window() {
        let geo = geometry([2, 2], [2, 2], [2, 2], [0, 0]);
        let x = [1.0, f32::NAN, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0];
        let y = forward(&x, &geo);
        assert!(y[0].is_nan());
        assert_eq!(y[1], 4.0);
        assert_eq!(
            input_gradient(&x, &[1.0, 1.0], &geo),
            [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn output_sizes_follow_floor_mode() {
        assert_eq!(PoolGeometry::out_size(64, 3, 2, 1), Some(32));
        assert_eq!(PoolGeometry::out_size(7, 3, 2, 1), Some(4));
        assert_eq!(PoolGeometry::out_size(1, 3, 2, 0), None);
        assert_eq!(PoolGeometry::out_size(4, 2, 2, 2), None); // padding as wide as the window
    }
}
