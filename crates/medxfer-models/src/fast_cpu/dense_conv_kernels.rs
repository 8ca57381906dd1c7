//! A dense (ungrouped, undilated) 2-D convolution and its gradients as large matrix products.
//!
//! burn's generic weight gradient is a convolution with the batch as channels, which Flex runs
//! as one small matrix product per input channel (N = kernel area, e.g. 9); its input gradient
//! is a transposed convolution. Here each gradient is one GEMM per chunk of images, with the
//! contraction running over every output pixel of the chunk:
//!
//! - weight: `dW^T [c_in*kh*kw, c_out] = cols [c_in*kh*kw, pixels] x dY [c_out, pixels]^T` per
//!   chunk (or `dW = dY x cols^T`, see `weight_gradient_pixel_major`), chunks added in order.
//! - input: `dcols = W^T dY`, then col2im adds each patch column back onto the image.
//! - forward: `Y = W x cols`, one GEMM per chunk where Flex runs one per tile of output pixels.
//!
//! `cols` is im2col of the input (zero where a patch reaches into the padding); `pixels` runs
//! over the chunk's images and their output positions.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::Activation;
use super::gemm_products::{Operand, avx512_kernels, matmul, matmul_uninit};

/// Floats of im2col buffer per chunk: 32 MiB, large enough that every GEMM's contraction is
/// hundreds of pixels long, small enough for a 224 px batch.
const CHUNK_FLOATS: usize = 1 << 23;

/// Shapes of one convolution: input `[batch, channels_in, height, width]`, weight
/// `[channels_out, channels_in, kernel_h, kernel_w]`, output `[batch, channels_out, out_h, out_w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DenseGeometry {
    pub batch: usize,
    pub channels_in: usize,
    pub height: usize,
    pub width: usize,
    pub channels_out: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad_begin: [usize; 2],
    pub out_height: usize,
    pub out_width: usize,
}

impl DenseGeometry {
    /// Length of one input patch: a row of the weight matrix.
    fn patch_len(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    fn out_pixels(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Images per chunk: the chunk's im2col buffer stays near `CHUNK_FLOATS`, and the batch
    /// splits into an even number of chunks (when it has two images or more) so that two
    /// threads take equal shares. The split does not depend on the thread count, so neither
    /// do the sums.
    fn chunk_images(&self) -> usize {
        let batch = self.batch.max(1);
        let per_image = (self.patch_len() * self.out_pixels()).max(1);
        let largest = (CHUNK_FLOATS / per_image).clamp(1, batch);
        let chunks = batch.div_ceil(largest).next_multiple_of(2).min(batch);
        batch.div_ceil(chunks)
    }

    /// The output columns whose input column at kernel offset `kx` lies inside the image (an
    /// empty range when none does).
    fn inside_columns(&self, kx: usize) -> std::ops::Range<usize> {
        let (stride, pad) = (self.stride[1], self.pad_begin[1]);
        // First ox with ox * stride + kx >= pad, and one past the last with
        // ox * stride + kx - pad < width.
        let start = pad.saturating_sub(kx).div_ceil(stride).min(self.out_width);
        let end = (self.width + pad)
            .checked_sub(kx)
            .map_or(0, |limit| limit.div_ceil(stride))
            .min(self.out_width);
        start..end.max(start)
    }

    /// Input coordinate of output coordinate `o` at kernel offset `k` along axis `axis`, or
    /// `None` inside the padding.
    fn input_coordinate(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let limit = if axis == 0 { self.height } else { self.width };
        (o * self.stride[axis] + k)
            .checked_sub(self.pad_begin[axis])
            .filter(|&i| i < limit)
    }
}

/// What the forward pass applies to each output value as it copies the product into NCHW: a
/// per-output-channel `(scale, shift)` (batch norm with known statistics) and an activation.
/// One pass over the output instead of two or three at inference.
pub(crate) struct Epilogue {
    pub affine: Vec<(f32, f32)>,
    pub activation: Activation,
}

impl Epilogue {
    /// `dst[i] = activation(values[i] * scale + shift)` with `channel`'s affine map; one loop
    /// per activation so that each vectorises.
    fn write(&self, channel: usize, values: impl Iterator<Item = f32>, dst: &mut [f32]) {
        let (scale, shift) = self.affine[channel];
        let pairs = dst.iter_mut().zip(values);
        match self.activation {
            Activation::Identity => pairs.for_each(|(d, v)| *d = v * scale + shift),
            Activation::Relu => pairs.for_each(|(d, v)| {
                *d = Activation::Relu.apply(v * scale + shift);
            }),
            Activation::Relu6 => pairs.for_each(|(d, v)| *d = (v * scale + shift).clamp(0.0, 6.0)),
        }
    }
}

/// The convolution itself, `[batch, channels_out, out_h, out_w]` flattened (no bias), with
/// `epilogue` applied to every output value when given.
pub(crate) fn forward(
    x: &[f32],
    weight: &[f32],
    geo: &DenseGeometry,
    epilogue: Option<&Epilogue>,
) -> Vec<f32> {
    forward_in_chunks(x, weight, geo, geo.chunk_images(), epilogue)
}

fn forward_in_chunks(
    x: &[f32],
    weight: &[f32],
    geo: &DenseGeometry,
    chunk: usize,
    epilogue: Option<&Epilogue>,
) -> Vec<f32> {
    let per_image = geo.channels_out * geo.out_pixels();
    let mut out = vec![0.0f32; geo.batch * per_image];
    let across_chunks = split_across_chunks(geo.batch, chunk);
    let run = |(index, dst): (usize, &mut [f32])| {
        let first = index * chunk;
        forward_chunk(x, weight, geo, first, dst, !across_chunks, epilogue);
    };
    if across_chunks {
        out.par_chunks_mut(chunk * per_image)
            .enumerate()
            .for_each(run);
    } else {
        out.chunks_mut(chunk * per_image).enumerate().for_each(run);
    }
    out
}

/// Whether a convolution's work is spread over rayon's threads across chunks of images (one
/// fork per convolution, each chunk's im2col, product and copies on one thread), which needs
/// at least as many chunks as threads; else each matrix product is split. Splitting every
/// product and copy between two threads kept the second one at about half the first's load
/// in a ResNet-18 128 px step (futex wake-ups, serial zeroing and copies between them).
fn split_across_chunks(batch: usize, chunk: usize) -> bool {
    let threads = rayon::current_num_threads();
    threads > 1 && batch.div_ceil(chunk.max(1)) >= threads
}

/// The forward product of the images from `first` on that `dst` (NCHW) holds.
fn forward_chunk(
    x: &[f32],
    weight: &[f32],
    geo: &DenseGeometry,
    first: usize,
    dst: &mut [f32],
    threaded: bool,
    epilogue: Option<&Epilogue>,
) {
    let (patch, pixels) = (geo.patch_len(), geo.out_pixels());
    let images = dst.len() / (geo.channels_out * pixels);
    let columns = images * pixels;
    with_buffer(patch * columns, |cols| {
        let cols = im2col(x, geo, first, images, cols);
        with_buffer(geo.channels_out * columns, |y| {
            let (cols, weight) = (
                Operand::row_major(cols, patch, columns),
                Operand::row_major(weight, geo.channels_out, patch),
            );
            if geo.channels_out <= PIXEL_MAJOR_MAX_CHANNELS {
                let y = matmul_uninit(y, cols.transposed(), weight.transposed(), threaded);
                pixel_major_to_nchw(y, geo, dst, epilogue);
            } else {
                let y = matmul_uninit(y, weight, cols, threaded);
                channel_major_to_nchw(y, geo, dst, epilogue);
            }
        });
    });
}

/// Output channels up to which the forward product is computed pixel-major (`Y^T = cols^T
/// W^T`, `[pixels, c_out]`) rather than channel-major. gemm orients a product by its
/// destination; with few output channels the channel-major one leaves it a 16-wide
/// destination and a lhs read with a stride of a whole im2col row, and ran at 11-31 GFLOP/s
/// against 24-77 pixel-major (AVX2 kernels, 1 thread, c_out 16 and 32 of the U-Net decoder);
/// at 64 channels channel-major was the faster (47-55 against 34-43).
const PIXEL_MAJOR_MAX_CHANNELS: usize = 32;

/// Copies a chunk's output `y`, `[c_out, images * pixels]`, into NCHW `dst` (through
/// `epilogue` when given).
fn channel_major_to_nchw(
    y: &[f32],
    geo: &DenseGeometry,
    dst: &mut [f32],
    epilogue: Option<&Epilogue>,
) {
    let pixels = geo.out_pixels();
    let columns = dst.len() / geo.channels_out;
    dst.par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(index, plane)| {
            let (image, co) = (index / geo.channels_out, index % geo.channels_out);
            let src = &y[co * columns + image * pixels..][..pixels];
            match epilogue {
                None => plane.copy_from_slice(src),
                Some(epilogue) => epilogue.write(co, src.iter().copied(), plane),
            }
        });
}

/// Transposes a chunk's output `y_t`, `[images * pixels, c_out]`, into NCHW `dst` (through
/// `epilogue` when given), a block of pixels at a time so that the block's rows of `y_t` stay
/// in L1 while each channel is copied.
fn pixel_major_to_nchw(
    y_t: &[f32],
    geo: &DenseGeometry,
    dst: &mut [f32],
    epilogue: Option<&Epilogue>,
) {
    const BLOCK: usize = 64;
    let (pixels, channels) = (geo.out_pixels(), geo.channels_out);
    dst.par_chunks_mut(channels * pixels)
        .zip(y_t.par_chunks(channels * pixels))
        .for_each(|(image_out, image_y)| {
            for start in (0..pixels).step_by(BLOCK) {
                let len = BLOCK.min(pixels - start);
                let rows = &image_y[start * channels..][..len * channels];
                for (co, plane) in image_out.chunks_exact_mut(pixels).enumerate() {
                    let out = &mut plane[start..][..len];
                    let rows = rows.chunks_exact(channels);
                    let column = rows.map(|row| row[co]);
                    match epilogue {
                        None => out.iter_mut().zip(column).for_each(|(v, c)| *v = c),
                        Some(epilogue) => epilogue.write(co, column, out),
                    }
                }
            }
        });
}

/// Gradient of the weight, `[channels_out, channels_in, kh, kw]` flattened.
pub(crate) fn weight_gradient(x: &[f32], output_grad: &[f32], geo: &DenseGeometry) -> Vec<f32> {
    let pixel_major = weight_gradient_pixel_major(geo.channels_out);
    weight_gradient_in_chunks(x, output_grad, geo, geo.chunk_images(), pixel_major)
}

fn weight_gradient_in_chunks(
    x: &[f32],
    output_grad: &[f32],
    geo: &DenseGeometry,
    chunk: usize,
    pixel_major: bool,
) -> Vec<f32> {
    let len = geo.patch_len() * geo.channels_out;
    let across_chunks = split_across_chunks(geo.batch, chunk);
    let firsts: Vec<usize> = (0..geo.batch).step_by(chunk).collect();
    let partial = |&first: &usize| {
        let mut grad = vec![0.0f32; len];
        let images = chunk.min(geo.batch - first);
        let threaded = !across_chunks;
        let images = first..first + images;
        weight_gradient_chunk(
            x,
            output_grad,
            geo,
            images,
            pixel_major,
            &mut grad,
            threaded,
        );
        grad
    };
    // One partial sum per chunk, added in chunk order whatever thread computed it, so that
    // the result does not depend on scheduling.
    let partials: Vec<Vec<f32>> = if across_chunks {
        firsts.par_iter().map(partial).collect()
    } else {
        firsts.iter().map(partial).collect()
    };
    let mut partials = partials.into_iter();
    let mut grad = partials.next().unwrap_or_else(|| vec![0.0f32; len]);
    for other in partials {
        grad.iter_mut()
            .zip(&other)
            .for_each(|(sum, value)| *sum += value);
    }
    if pixel_major {
        transpose(&grad, geo.patch_len(), geo.channels_out)
    } else {
        grad
    }
}

/// The weight gradient of `images` into `grad` (`dW^T`, `[patch, c_out]`, when
/// `pixel_major`, else `dW`).
fn weight_gradient_chunk(
    x: &[f32],
    output_grad: &[f32],
    geo: &DenseGeometry,
    images: std::ops::Range<usize>,
    pixel_major: bool,
    grad: &mut [f32],
    threaded: bool,
) {
    let (first, images) = (images.start, images.len());
    let (patch, columns) = (geo.patch_len(), images * geo.out_pixels());
    with_buffer(patch * columns, |cols| {
        let cols = im2col(x, geo, first, images, cols);
        with_buffer(geo.channels_out * columns, |dy| {
            let dy = channel_major(output_grad, geo, first, images, dy);
            let (cols, dy) = (
                Operand::row_major(cols, patch, columns),
                Operand::row_major(dy, geo.channels_out, columns),
            );
            if pixel_major {
                matmul(grad, cols, dy.transposed(), threaded);
            } else {
                matmul(grad, dy, cols.transposed(), threaded);
            }
        });
    });
}

/// Whether the weight gradient is computed as `dW^T [patch, c_out] = cols x dY^T` rather than
/// `dW = dY x cols^T`. gemm orients a product by its destination: the first streams cols (the
/// large operand) in place and packs only dY; the second repacks cols, a gather across its
/// rows, panel by panel. Measured with gemm 0.19 alone, one thread, Zen 4, contraction over a
/// chunk's pixels (GFLOP/s, `dW^T` against `dW`): AVX-512 kernels c_out 64 86 vs 31, 128 88
/// vs 48, 256 92 vs 63, 512 94 vs 86; AVX2 kernels 80 vs 59 at 64, 65-85 vs 72-84 at 128-256,
/// 83 vs 100 at 512 (and 2-3x on the U-Net decoder's c_out 16-32).
fn weight_gradient_pixel_major(channels_out: usize) -> bool {
    channels_out <= 64 || avx512_kernels()
}

/// The `cols x rows` transpose of a row-major `rows x cols` matrix.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * cols];
    for (c, out_row) in out.chunks_exact_mut(rows.max(1)).enumerate() {
        for (r, value) in out_row.iter_mut().enumerate() {
            *value = data[r * cols + c];
        }
    }
    out
}

/// Gradient of the input, `[batch, channels_in, height, width]` flattened.
pub(crate) fn input_gradient(weight: &[f32], output_grad: &[f32], geo: &DenseGeometry) -> Vec<f32> {
    input_gradient_in_chunks(weight, output_grad, geo, geo.chunk_images())
}

fn input_gradient_in_chunks(
    weight: &[f32],
    output_grad: &[f32],
    geo: &DenseGeometry,
    chunk: usize,
) -> Vec<f32> {
    let per_image = geo.channels_in * geo.height * geo.width;
    let mut grad = vec![0.0f32; geo.batch * per_image];
    let across_chunks = split_across_chunks(geo.batch, chunk);
    let run = |(index, planes): (usize, &mut [f32])| {
        input_gradient_chunk(
            weight,
            output_grad,
            geo,
            index * chunk,
            planes,
            !across_chunks,
        );
    };
    if across_chunks {
        grad.par_chunks_mut(chunk * per_image)
            .enumerate()
            .for_each(run);
    } else {
        grad.chunks_mut(chunk * per_image).enumerate().for_each(run);
    }
    grad
}

/// The input gradient of the images from `first` on that `planes` (NCHW, zeroed) holds.
fn input_gradient_chunk(
    weight: &[f32],
    output_grad: &[f32],
    geo: &DenseGeometry,
    first: usize,
    planes: &mut [f32],
    threaded: bool,
) {
    let patch = geo.patch_len();
    let images = planes.len() / (geo.channels_in * geo.height * geo.width);
    let columns = images * geo.out_pixels();
    with_buffer(geo.channels_out * columns, |dy| {
        let dy = channel_major(output_grad, geo, first, images, dy);
        with_buffer(patch * columns, |dcols| {
            let dcols = matmul_uninit(
                dcols,
                Operand::row_major(weight, geo.channels_out, patch).transposed(),
                Operand::row_major(dy, geo.channels_out, columns),
                threaded,
            );
            col2im(dcols, geo, images, planes);
        });
    });
}

/// Runs `f` on a fresh buffer of `len` floats left uninitialised: each user writes every
/// element before reading it ([`im2col`], [`channel_major`], [`matmul_uninit`] return the
/// initialised slice), so zeroing it was a wasted pass over memory (9.5% of a ResNet-18
/// inference pass in `memset`). A buffer kept per thread and reused was tried earlier and
/// measured no faster in training (it was zeroed on reuse).
fn with_buffer<R>(len: usize, f: impl FnOnce(&mut [MaybeUninit<f32>]) -> R) -> R {
    let mut buffer = Vec::with_capacity(len);
    buffer.resize_with(len, MaybeUninit::uninit);
    f(&mut buffer)
}

/// `slice`, every element of which the caller has written, as initialised floats.
///
/// # Safety
/// Every element of `slice` must have been written.
unsafe fn assume_init(slice: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: MaybeUninit<f32> has f32's layout, and the caller guarantees initialisation.
    unsafe { &mut *(slice as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// im2col of images `first..first + images` into `cols` (every element written): row
/// `(ci, ky, kx)`, column `(image, oy, ox)`.
fn im2col<'a>(
    x: &[f32],
    geo: &DenseGeometry,
    first: usize,
    images: usize,
    cols: &'a mut [MaybeUninit<f32>],
) -> &'a mut [f32] {
    let [kh, kw] = geo.kernel;
    let pixels = geo.out_pixels();
    let columns = images * pixels;
    let plane = geo.height * geo.width;
    cols.par_chunks_mut(columns)
        .enumerate()
        .for_each(|(row, out)| {
            let (ci, ky, kx) = (row / (kh * kw), (row / kw) % kh, row % kw);
            let inside = geo.inside_columns(kx);
            for image in 0..images {
                let src = &x[((first + image) * geo.channels_in + ci) * plane..][..plane];
                let dst = &mut out[image * pixels..][..pixels];
                for (oy, dst_row) in dst.chunks_exact_mut(geo.out_width).enumerate() {
                    match geo.input_coordinate(0, oy, ky) {
                        Some(iy) => copy_patch_row(
                            &src[iy * geo.width..][..geo.width],
                            dst_row,
                            geo,
                            kx,
                            &inside,
                        ),
                        None => dst_row.fill(MaybeUninit::new(0.0)), // padding
                    }
                }
            }
        });
    // SAFETY: each row's chunk is `images` planes of `out_height` rows of `out_width` columns,
    // and each of those rows is filled with zeros or by `copy_patch_row`, which writes all of it.
    unsafe { assume_init(cols) }
}

/// One output row of im2col at kernel column `kx`: zeros where the patch reaches into the
/// padding, and the input row (every `stride`-th element) in between, without a bounds check
/// per element (a plain copy at stride 1).
fn copy_patch_row(
    src_row: &[f32],
    dst_row: &mut [MaybeUninit<f32>],
    geo: &DenseGeometry,
    kx: usize,
    inside: &std::ops::Range<usize>,
) {
    dst_row[..inside.start].fill(MaybeUninit::new(0.0));
    dst_row[inside.end..].fill(MaybeUninit::new(0.0));
    let dst = &mut dst_row[inside.clone()];
    if dst.is_empty() {
        return;
    }
    let start = inside.start * geo.stride[1] + kx - geo.pad_begin[1];
    let step = geo.stride[1];
    // Every element of `dst` must be written: the last one reads inside the row (else panic).
    let sources = &src_row[start..=start + (dst.len() - 1) * step];
    if step == 1 {
        dst.write_copy_of_slice(sources);
    } else {
        for (value, &source) in dst.iter_mut().zip(sources.iter().step_by(step)) {
            value.write(source);
        }
    }
}

/// Adds each column of `dcols` (im2col layout of `images` images) onto `planes`, the
/// `[images, channels_in, height, width]` input gradient of the chunk.
fn col2im(dcols: &[f32], geo: &DenseGeometry, images: usize, planes: &mut [f32]) {
    let [kh, kw] = geo.kernel;
    let pixels = geo.out_pixels();
    let columns = images * pixels;
    planes
        .par_chunks_mut(geo.height * geo.width)
        .enumerate()
        .for_each(|(index, dst)| {
            let (image, ci) = (index / geo.channels_in, index % geo.channels_in);
            for ky in 0..kh {
                for kx in 0..kw {
                    let row = (ci * kh + ky) * kw + kx;
                    let src = &dcols[row * columns + image * pixels..][..pixels];
                    let inside = geo.inside_columns(kx);
                    for oy in 0..geo.out_height {
                        let Some(iy) = geo.input_coordinate(0, oy, ky) else {
                            continue;
                        };
                        let src_row = &src[oy * geo.out_width..][..geo.out_width];
                        let dst_row = &mut dst[iy * geo.width..][..geo.width];
                        add_patch_row(&src_row[inside.clone()], dst_row, geo, kx, inside.start);
                    }
                }
            }
        });
}

/// Adds one row of patch columns, `src` (output columns `first_column..`, all inside the
/// image), onto the input row they were copied from: the inverse of [`copy_patch_row`], without
/// a bounds check per element (a plain vector add at stride 1).
fn add_patch_row(
    src: &[f32],
    dst_row: &mut [f32],
    geo: &DenseGeometry,
    kx: usize,
    first_column: usize,
) {
    if src.is_empty() {
        return;
    }
    let start = first_column * geo.stride[1] + kx - geo.pad_begin[1];
    if geo.stride[1] == 1 {
        for (acc, value) in dst_row[start..][..src.len()].iter_mut().zip(src) {
            *acc += value;
        }
    } else {
        for (acc, value) in dst_row[start..].iter_mut().step_by(geo.stride[1]).zip(src) {
            *acc += value;
        }
    }
}

/// The output gradient of images `first..first + images` as `[channels_out, images * pixels]`,
/// written into `dy` (every element).
fn channel_major<'a>(
    output_grad: &[f32],
    geo: &DenseGeometry,
    first: usize,
    images: usize,
    dy: &'a mut [MaybeUninit<f32>],
) -> &'a mut [f32] {
    let pixels = geo.out_pixels();
    let columns = images * pixels;
    dy.par_chunks_mut(columns)
        .enumerate()
        .for_each(|(co, row)| {
            for image in 0..images {
                let src =
                    &output_grad[((first + image) * geo.channels_out + co) * pixels..][..pixels];
                row[image * pixels..][..pixels].write_copy_of_slice(src);
            }
        });
    // SAFETY: `dy` is `channels_out` rows of `images * pixels`, and each row's images were
    // copied in full above.
    unsafe { assume_init(dy) }
}

#[cfg(test)]
#[path = "dense_conv_tests.rs"]
mod tests;
