//! Packing operands into the layouts the micro-kernel streams: B into nr-wide panels (`dst[p·NR + j]`, all k
//! rows), A into mr-tall panels (`dst[p·MR + i]`). Sources have any strides; the unit-stride cases are plain
//! copies. Padding past the matrix edge is zero, and only feeds tile rows/columns that are never written.

use num_traits::Zero;

use super::simd::Simd;
use crate::scalar::Real;

/// A read-only strided matrix: element (i, j) at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct Mat<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

impl<T> Mat<T> {
    /// # Safety
    /// (i, j) must be inside the matrix.
    #[inline(always)]
    pub unsafe fn at(&self, i: usize, j: usize) -> *const T {
        // SAFETY: the caller's contract.
        unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }
}

/// Pack columns `j0 .. j0 + cols` (cols ≤ NR) of the k × n matrix `b` into `dst` (k × NR). If `sums` is not
/// null, `sums[j]` becomes the sum of column j0 + j over all k rows, added in row order from zero (exactly
/// `dense::column_sums`).
///
/// # Safety
/// `b` valid for k rows and those columns; `dst` valid for k·NR values; `sums` null or valid for `cols` values.
#[inline(always)]
pub unsafe fn pack_b_panel<S: Simd, const NR: usize>(b: Mat<S::T>, k: usize, j0: usize, cols: usize, dst: *mut S::T, sums: *mut S::T) {
    // SAFETY (whole body): the caller's contract; p < k, j < cols ≤ NR.
    unsafe {
        if b.cs == 1 && cols == NR {
            let mut total = [S::T::zero(); NR];
            for p in 0..k {
                let src = std::slice::from_raw_parts(b.at(p, j0), NR);
                let out = std::slice::from_raw_parts_mut(dst.add(p * NR), NR);
                out.copy_from_slice(src);
                if !sums.is_null() {
                    for (s, &v) in total.iter_mut().zip(src) {
                        *s += v;
                    }
                }
            }
            if !sums.is_null() {
                std::ptr::copy_nonoverlapping(total.as_ptr(), sums, NR);
            }
            return;
        }
        // A transposed view (column-major B): square blocks transposed in registers, the rest one by one.
        let (mut j_done, tb) = (0, S::TB);
        if b.rs == 1 && sums.is_null() {
            j_done = cols / tb * tb;
            let p_done = k / tb * tb;
            for j in (0..j_done).step_by(tb) {
                for p in (0..p_done).step_by(tb) {
                    S::transpose(b.at(p, j0 + j), b.cs, dst.add(p * NR + j), NR as isize);
                }
                for p in p_done..k {
                    for jj in j..j + tb {
                        *dst.add(p * NR + jj) = *b.at(p, j0 + jj);
                    }
                }
            }
        }
        // Column by column: k-contiguous reads when B is a transposed view.
        for j in j_done..NR {
            let mut total = S::T::zero();
            for p in 0..k {
                let v = if j < cols { *b.at(p, j0 + j) } else { S::T::zero() };
                *dst.add(p * NR + j) = v;
                total += v;
            }
            if j < cols && !sums.is_null() {
                *sums.add(j) = total;
            }
        }
    }
}

/// Pack rows `i0 .. i0 + rows` (rows ≤ MR), k-steps `p0 .. p0 + kc` of `a` into `dst` (kc × MR).
///
/// # Safety
/// `a` valid for those rows and steps; `dst` valid for kc·MR values.
#[inline(always)]
pub unsafe fn pack_a_panel<T: Real, const MR: usize>(a: Mat<T>, i0: usize, rows: usize, p0: usize, kc: usize, dst: *mut T) {
    // SAFETY (whole body): the caller's contract; i < rows ≤ MR, p < kc.
    unsafe {
        if a.rs == 1 && rows == MR {
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(a.at(i0, p0 + p), dst.add(p * MR), MR);
            }
            return;
        }
        for i in 0..MR {
            for p in 0..kc {
                *dst.add(p * MR + i) = if i < rows { *a.at(i0 + i, p0 + p) } else { T::zero() };
            }
        }
    }
}
