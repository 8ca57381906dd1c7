//! Tests of `dense_conv_kernels.rs`: every product against the convolution's direct sums.

use super::*;

/// Direct sums from the definition of the convolution.
fn reference(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    geo: &DenseGeometry,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [kh, kw] = geo.kernel;
    let mut y = vec![0.0f32; dy.len()];
    let mut dw = vec![0.0f32; geo.channels_out * geo.patch_len()];
    let mut dx = vec![0.0f32; x.len()];
    for b in 0..geo.batch {
        for co in 0..geo.channels_out {
            for oy in 0..geo.out_height {
                for ox in 0..geo.out_width {
                    let yi =
                        ((b * geo.channels_out + co) * geo.out_height + oy) * geo.out_width + ox;
                    let g = dy[yi];
                    for ci in 0..geo.channels_in {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (Some(iy), Some(ix)) = (
                                    geo.input_coordinate(0, oy, ky),
                                    geo.input_coordinate(1, ox, kx),
                                ) else {
                                    continue;
                                };
                                let xi =
                                    ((b * geo.channels_in + ci) * geo.height + iy) * geo.width + ix;
                                let wi = ((co * geo.channels_in + ci) * kh + ky) * kw + kx;
                                y[yi] += w[wi] * x[xi];
                                dw[wi] += g * x[xi];
                                dx[xi] += g * w[wi];
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dw, dx)
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0
                - 1.0
        })
        .collect()
}

#[test]
fn gradients_match_the_direct_sums() {
    // 3x3 stride 1 and 2, 7x7 stride 2 (ResNet's stem), a non-square kernel, and odd sizes
    // where the last patch ends inside the padding.
    for (kernel, stride, pad, size) in [
        ([3, 3], [1, 1], [1, 1], [6, 5]),
        ([3, 3], [2, 2], [1, 1], [7, 8]),
        ([7, 7], [2, 2], [3, 3], [9, 9]),
        ([1, 3], [1, 2], [0, 1], [4, 6]),
        // Narrower than the kernel: some kernel columns see only padding.
        ([7, 7], [2, 2], [3, 3], [2, 3]),
    ] {
        // 4 output channels take the pixel-major forward product, 40 the channel-major one.
        for channels_out in [4, 40] {
            check_against_direct_sums(kernel, stride, pad, size, channels_out);
        }
    }
}

fn check_against_direct_sums(
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    size: [usize; 2],
    channels_out: usize,
) {
    let (batch, channels_in) = (3, 2);
    let out = |axis: usize| (size[axis] + 2 * pad[axis] - kernel[axis]) / stride[axis] + 1;
    let geo = DenseGeometry {
        batch,
        channels_in,
        height: size[0],
        width: size[1],
        channels_out,
        kernel,
        stride,
        pad_begin: pad,
        out_height: out(0),
        out_width: out(1),
    };
    let x = values(batch * channels_in * size[0] * size[1], 1);
    let w = values(channels_out * geo.patch_len(), 2);
    let dy = values(batch * channels_out * geo.out_pixels(), 3);
    let (y_ref, dw_ref, dx_ref) = reference(&x, &w, &dy, &geo);
    let y = forward(&x, &w, &geo, None);
    let dx = input_gradient(&w, &dy, &geo);
    // Both orientations of the weight-gradient product, whichever this CPU would choose.
    let dw_pixel_major = weight_gradient_in_chunks(&x, &dy, &geo, geo.chunk_images(), true);
    let dw_channel_major = weight_gradient_in_chunks(&x, &dy, &geo, geo.chunk_images(), false);
    let pairs = y
        .iter()
        .zip(&y_ref)
        .chain(dw_pixel_major.iter().zip(&dw_ref));
    let pairs = pairs.chain(dw_channel_major.iter().zip(&dw_ref));
    for (got, want) in pairs.chain(dx.iter().zip(&dx_ref)) {
        assert!(
            (got - want).abs() < 1e-4,
            "{kernel:?} {stride:?} c_out {channels_out}: {got} vs {want}"
        );
    }
}

/// A 3x3, stride-1, padding-1 convolution (output as large as the input).
fn same_size_3x3(
    batch: usize,
    channels_in: usize,
    [height, width]: [usize; 2],
    channels_out: usize,
) -> DenseGeometry {
    DenseGeometry {
        batch,
        channels_in,
        height,
        width,
        channels_out,
        kernel: [3, 3],
        stride: [1, 1],
        pad_begin: [1, 1],
        out_height: height,
        out_width: width,
    }
}

#[test]
fn epilogue_applies_the_affine_map_and_activation_to_every_output() {
    // 8 output channels take the pixel-major product, 40 the channel-major one.
    for channels_out in [8, 40] {
        let geo = same_size_3x3(3, 2, [6, 5], channels_out);
        let x = values(3 * 2 * 30, 11);
        let w = values(channels_out * geo.patch_len(), 12);
        let plain = forward(&x, &w, &geo, None);
        let affine: Vec<(f32, f32)> = (0..channels_out)
            .map(|c| (0.5 + c as f32 * 0.25, c as f32 * 0.1 - 1.0))
            .collect();
        for activation in [Activation::Identity, Activation::Relu, Activation::Relu6] {
            let epilogue = Epilogue {
                affine: affine.clone(),
                activation,
            };
            let fused = forward(&x, &w, &geo, Some(&epilogue));
            for (index, (&got, &y)) in fused.iter().zip(&plain).enumerate() {
                let channel = (index / geo.out_pixels()) % channels_out;
                let (scale, shift) = affine[channel];
                let want = activation.apply(y * scale + shift);
                assert!(
                    (got - want).abs() < 1e-5,
                    "c_out {channels_out} {activation:?}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // 2 threads split across chunks (8 images, several chunks); 1 thread runs them in turn.
    let geo = same_size_3x3(8, 3, [9, 7], 70);
    let x = values(8 * 3 * 63, 7);
    let w = values(70 * geo.patch_len(), 8);
    let dy = values(8 * 70 * 63, 9);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| {
            assert_eq!(split_across_chunks(geo.batch, 2), threads > 1);
            let dw = [true, false].map(|major| weight_gradient_in_chunks(&x, &dy, &geo, 2, major));
            (
                forward_in_chunks(&x, &w, &geo, 2, None),
                dw,
                input_gradient_in_chunks(&w, &dy, &geo, 2),
            )
        })
    };
    assert_eq!(run(1), run(2), "bitwise the same on 1 and 2 threads");
}

#[test]
fn chunks_accumulate_over_the_whole_batch() {
    // One image per chunk (as for large inputs) must give the same sums as one chunk.
    let geo = same_size_3x3(3, 2, [5, 4], 3);
    let x = values(3 * 2 * 20, 4);
    let w = values(3 * geo.patch_len(), 6);
    let dy = values(3 * 3 * 20, 5);
    let (y_ref, dw_ref, dx_ref) = reference(&x, &w, &dy, &geo);
    for chunk in [1, 2] {
        let y = forward_in_chunks(&x, &w, &geo, chunk, None);
        let dw = weight_gradient_in_chunks(&x, &dy, &geo, chunk, chunk == 1);
        let dx = input_gradient_in_chunks(&w, &dy, &geo, chunk);
        let pairs = y.iter().zip(&y_ref).chain(dw.iter().zip(&dw_ref));
        for (got, want) in pairs.chain(dx.iter().zip(&dx_ref)) {
            assert!((got - want).abs() < 1e-4, "chunk {chunk}: {got} vs {want}");
        }
    }
}
