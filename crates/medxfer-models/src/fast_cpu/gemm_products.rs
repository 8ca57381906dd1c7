//! One matrix product through the `gemm` crate on strided operands, for the convolution
//! kernels: which operand is read how is the caller's choice (see `dense_conv_kernels.rs`),
//! and whether the product may use rayon's threads.

use std::mem::MaybeUninit;

/// Work (multiply-adds) above which a GEMM is split across rayon's threads.
const PARALLEL_GEMM_WORK: usize = 1 << 20;

/// One operand of a matrix product: element `(r, c)` of a `rows x cols` matrix is
/// `data[r * row_stride + c * col_stride]`, so a transposed read only swaps the strides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operand<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Operand<'a> {
    pub(crate) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Operand {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    pub(crate) fn transposed(self) -> Self {
        Operand {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = lhs x rhs`, `dst` row-major with the rows of `lhs` and the columns of `rhs`; one
/// GEMM, split across rayon's threads when it is large and `threaded`.
pub(crate) fn matmul(dst: &mut [f32], lhs: Operand, rhs: Operand, threaded: bool) {
    check_operands(dst.len(), &lhs, &rhs);
    // SAFETY: checked above: every element gemm writes lies inside `dst`.
    unsafe { gemm_into(dst.as_mut_ptr(), lhs, rhs, threaded) }
}

/// [`matmul`] into `dst`, which need not be initialised and must hold exactly the product;
/// returns it, every element written.
pub(crate) fn matmul_uninit<'a>(
    dst: &'a mut [MaybeUninit<f32>],
    lhs: Operand,
    rhs: Operand,
    threaded: bool,
) -> &'a mut [f32] {
    check_operands(dst.len(), &lhs, &rhs);
    assert_eq!(
        dst.len(),
        lhs.rows * rhs.cols,
        "product buffer of the wrong size"
    );
    if lhs.cols == 0 {
        // An empty contraction: gemm may leave dst untouched.
        dst.fill(MaybeUninit::new(0.0));
    } else {
        // SAFETY: checked above: every element gemm writes lies inside `dst`.
        unsafe { gemm_into(dst.as_mut_ptr().cast::<f32>(), lhs, rhs, threaded) }
    }
    // SAFETY: with a non-empty contraction and `read_dst` false gemm writes each of the
    // m x n elements of its destination, which is all of `dst`; else it was filled above.
    unsafe { &mut *(dst as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Panics unless `lhs x rhs` fits a destination of `dst_len` floats and both operands are in
/// bounds.
fn check_operands(dst_len: usize, lhs: &Operand, rhs: &Operand) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(
        rhs.rows == k && m * n <= dst_len && lhs.fits() && rhs.fits(),
        "matrix product operands out of bounds"
    );
}

/// The GEMM itself, writing (not reading) the row-major `lhs.rows x rhs.cols` destination at `dst`.
///
/// # Safety
/// `dst` must be valid for writes of `lhs.rows * rhs.cols` floats, and the operands checked
/// by [`check_operands`].
unsafe fn gemm_into(dst: *mut f32, lhs: Operand, rhs: Operand, threaded: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    // SAFETY: the caller's contract keeps every element gemm reads or writes inside its
    // slice: dst is m x n with row stride n, lhs and rhs are read through their checked strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            false, // dst is written, not read
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism(m * n * k, threaded),
        );
    }
}

fn parallelism(work: usize, threaded: bool) -> gemm::Parallelism {
    if threaded && work >= PARALLEL_GEMM_WORK && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// Whether gemm runs its AVX-512 kernels here (the workspace builds it with `x86-v4`, chosen at
/// run time).
pub(crate) fn avx512_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
