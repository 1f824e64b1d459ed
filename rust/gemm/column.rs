//! One-column products, `c (m × 1) = A (m × k) · b (k × 1)` with A's rows contiguous: a regression head's or a
//! binary classifier's forward pass. The register-tile kernels would fill one lane of each vector, and computing
//! the transposed product instead would pack all of A; here each output is the dot product of its row of A with
//! b, read in place.
//!
//! Determinism: every dot product takes its terms in one fixed order that depends on k alone (16 interleaved
//! partial sums, lane j taking the terms k ≡ j mod 16 in order, then added pairwise), so the bits are the same
//! whatever the number of rows, the instruction set or the thread count (row blocks only choose who computes
//! which rows).

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1};

use crate::buffer;
use crate::error::Result;
use crate::kernels::activation::Activation;
use crate::scalar::Real;

use super::kernel::{TileOut, finish};

/// Partial sums per dot product (a whole number of AVX-512 vectors of f32 and of f64).
const LANES: usize = 16;
/// Rows per parallel block, and the least work (m·k) worth spreading over threads.
const BLOCK_ROWS: usize = 256;
const PARALLEL_MIN_MACS: usize = 1 << 18;
/// The same on a training chunk's team, whose threads are awake already.
const TEAM_MIN_MACS: usize = 1 << 16;

/// Whether `product` takes this product: one column, no column sums wanted, A's rows contiguous.
pub fn applies<T>(a: &ArrayView2<'_, T>, n: usize, wants_col_sums: bool) -> bool {
    n == 1 && !wants_col_sums && a.nrows() > 0 && a.ncols() > 0 && (a.ncols() == 1 || a.strides().get(1) == Some(&1))
}

/// `c ← act(alpha·A·b + beta·c + bias)`, one dot product per row.
#[allow(clippy::too_many_arguments)]
pub fn product<T: Real>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView1<'_, T>,
    beta: T,
    mut c: ArrayViewMut1<'_, T>,
    bias: Option<T>,
    activation: Activation,
) -> Result<()> {
    let k = a.ncols();
    let b = match b.as_slice() {
        Some(b) => std::borrow::Cow::Borrowed(b),
        None => std::borrow::Cow::Owned(buffer::copy_of(&b.to_vec(), "b")?),
    };
    let row = |i: usize, value: &mut T| {
        // The bias is passed to `finish` directly: the tile's bias pointer stays unused.
        let out = TileOut { alpha, beta, first: true, last: true, bias: std::ptr::null(), bias_step: 0, activation };
        let dot = a.row(i).as_slice().map_or_else(|| T::zero(), |row| dot(row, &b));
        *value = finish(dot, || *value, bias, &out);
    };
    let m = a.nrows();
    if crate::parallel::worth_splitting(m.saturating_mul(k), TEAM_MIN_MACS, PARALLEL_MIN_MACS)
        && let Some(c) = c.as_slice_mut()
    {
        return crate::parallel::for_each_chunk_mut(c, BLOCK_ROWS, |block, values| {
            values.iter_mut().enumerate().for_each(|(i, v)| row(block * BLOCK_ROWS + i, v));
            Ok(())
        });
    }
    c.iter_mut().enumerate().for_each(|(i, v)| row(i, v));
    Ok(())
}

/// Σ a[i]·b[i] in the fixed order described in the module docs.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (x_tail, y_tail) = (xs.remainder(), ys.remainder());
    for (x, y) in xs.zip(ys) {
        // Fixed-length arrays: the loop below compiles to whole-vector multiply and add, no bounds checks.
        let (Ok(x), Ok(y)) = (<&[T; LANES]>::try_from(x), <&[T; LANES]>::try_from(y)) else { continue };
        lanes(&mut acc, x, y);
    }
    for ((sum, &x), &y) in acc.iter_mut().zip(x_tail).zip(y_tail) {
        *sum += x * y;
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        let (low, high) = acc.split_at_mut(width);
        for (sum, &other) in low.iter_mut().zip(high.iter()) {
            *sum += other;
        }
    }
    acc.first().copied().unwrap_or_else(T::zero)
}

/// `acc[j] += x[j]·y[j]` for the 16 lanes: written with indices over fixed-length arrays, the form LLVM turns into
/// whole-vector multiplies and adds.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // j < LANES, the length of all three arrays
fn lanes<T: Real>(acc: &mut [T; LANES], x: &[T; LANES], y: &[T; LANES]) {
    for j in 0..LANES {
        acc[j] += x[j] * y[j];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn rows_are_dot_products_whatever_the_row_count() -> Result<()> {
        let (m, k) = (37, 45);
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 11) as f64 * 0.25 - 1.0);
        let b = ndarray::Array1::from_shape_fn(k, |j| (j % 5) as f64 * 0.5 - 1.0);
        let mut c = ndarray::Array1::zeros(m);
        product(1.0, a.view(), b.view(), 0.0, c.view_mut(), Some(0.5), Activation::Linear)?;
        for i in 0..m {
            let expected: f64 = a.row(i).iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() + 0.5;
            assert!((c[i] - expected).abs() < 1e-12);
            // one row alone gives the same bits as within the block
            let mut one = ndarray::Array1::zeros(1);
            product(1.0, a.slice(ndarray::s![i..i + 1, ..]), b.view(), 0.0, one.view_mut(), Some(0.5), Activation::Linear)?;
            assert_eq!(one[0].to_bits(), c[i].to_bits());
        }
        Ok(())
    }
}
