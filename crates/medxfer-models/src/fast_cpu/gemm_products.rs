//! One matrix product through the `gemm` crate on strided operands, for the convolution
//! kernels: which operand is read how is the caller's choice (see `dense_conv_kernels.rs`),
//! and whether the product may use rayon's threads.

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
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(
        rhs.rows == k && m * n <= dst.len() && lhs.fits() && rhs.fits(),
        "matrix product operands out of bounds"
    );
    // SAFETY: the assert keeps every element gemm reads or writes inside its slice: dst is
    // m x n with row stride n, lhs and rhs are read through their checked strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
