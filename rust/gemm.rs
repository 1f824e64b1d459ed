//! The ONE matrix-multiply entry point of the engine. The GEMM crate is chosen here and nowhere else.
//!
//! The crate is `matrixmultiply` (measured against `faer` and `gemm` at our shapes: see the performance notes).
//! Work is split across the engine's thread pool into one block of output columns (or rows) per thread, never
//! over the reduction dimension. matrixmultiply computes every output element with the same sequence of
//! operations whatever the block it belongs to (its k-blocking is fixed, edge tiles use the same kernel), so
//! results are bit-identical for any number of blocks, hence for any thread count; `tests` below check this on
//! many partitions. One block per thread keeps the unsplit operand from being packed more often than needed.

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use crate::error::{Error, Result};
use crate::scalar::Real;

/// Multiply-adds per block below which a product stays on one thread. Measured (`measure_split_threshold` below,
/// 2 threads, f32): matrixmultiply packs all of B on each call, so two column blocks were 1.25-1.75× faster at
/// every size measured, down to our smallest layer product (2^15 MACs, 12 µs); smaller products stay whole.
const MIN_BLOCK_MACS: usize = 1 << 15;
/// Narrowest block of output columns (or rows) given to one task.
const MIN_BLOCK: usize = 16;

/// `C ← alpha·A·B + beta·C` for views with any strides (a transposed operand is just `.t()`).
///
/// With `beta = 0`, C is overwritten without being read (NaN in C does not propagate).
pub fn gemm<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>) -> Result<()> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 || c.dim() != (m, n) {
        return Err(Error::shape(
            "gemm operands",
            format!("A (m, k) · B (k, n) = C (m, n) with C {:?}", (m, n)),
            format!("A {:?} · B {:?} = C {:?}", a.dim(), b.dim(), c.dim()),
        ));
    }
    let blocks = block_count(m, n, k, rayon::current_num_threads());
    if blocks <= 1 {
        gemm_serial(alpha, a, b, beta, c);
    } else if n >= m {
        split_columns(alpha, a, b, beta, c, blocks);
    } else {
        split_rows(alpha, a, b, beta, c, blocks);
    }
    Ok(())
}

/// How many blocks to split a product into: one per thread, unless blocks would be too small to pay off.
fn block_count(m: usize, n: usize, k: usize, threads: usize) -> usize {
    let macs = m.saturating_mul(n).saturating_mul(k);
    threads.min(macs / MIN_BLOCK_MACS).min(n.max(m) / MIN_BLOCK).max(1)
}

fn split_columns<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>, blocks: usize) {
    if blocks <= 1 {
        return gemm_serial(alpha, a, b, beta, c);
    }
    let left_blocks = blocks / 2;
    let mid = aligned_split(c.ncols(), left_blocks, blocks);
    let (b_left, b_right) = b.split_at(Axis(1), mid);
    let (c_left, c_right) = c.split_at(Axis(1), mid);
    rayon::join(
        || split_columns(alpha, a, b_left, beta, c_left, left_blocks),
        || split_columns(alpha, a, b_right, beta, c_right, blocks - left_blocks),
    );
}

fn split_rows<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>, blocks: usize) {
    if blocks <= 1 {
        return gemm_serial(alpha, a, b, beta, c);
    }
    let left_blocks = blocks / 2;
    let mid = aligned_split(c.nrows(), left_blocks, blocks);
    let (a_top, a_bottom) = a.split_at(Axis(0), mid);
    let (c_top, c_bottom) = c.split_at(Axis(0), mid);
    rayon::join(
        || split_rows(alpha, a_top, b, beta, c_top, left_blocks),
        || split_rows(alpha, a_bottom, b, beta, c_bottom, blocks - left_blocks),
    );
}

/// Where to cut `len` so that the left part gets `part` of `of` shares, rounded to a multiple of 16.
fn aligned_split(len: usize, part: usize, of: usize) -> usize {
    let raw = len * part / of;
    let aligned = (raw / 16) * 16;
    if aligned == 0 { raw } else { aligned }
}

/// One single-threaded call of the GEMM crate.
fn gemm_serial<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // The crate leaves C untouched for k = 0; BLAS semantics say C ← beta·C.
        c.map_inplace(|value| *value = if beta == T::zero() { T::zero() } else { beta * *value });
        return;
    }
    let (rsa, csa) = (a.stride_of(Axis(0)), a.stride_of(Axis(1)));
    let (rsb, csb) = (b.stride_of(Axis(0)), b.stride_of(Axis(1)));
    let (rsc, csc) = (c.stride_of(Axis(0)), c.stride_of(Axis(1)));
    // SAFETY: the views guarantee that every (row, column) they describe is valid memory for their lifetime;
    // shapes were checked by `gemm`; C is a unique (mutable) view, so it does not alias A or B.
    unsafe {
        T::gemm_raw(m, k, n, alpha, a.as_ptr(), rsa, csa, b.as_ptr(), rsb, csb, beta, c.as_mut_ptr(), rsc, csc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
    }

    fn filled(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(i, j)| (((i * 31 + j * 17) as u64 ^ seed) % 13) as f64 - 6.0)
    }

    #[test]
    fn matches_naive_product_for_odd_shapes_and_transposes() -> Result<()> {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 1, 2), (64, 33, 129), (300, 40, 200)] {
            let a = filled(m, k, 1);
            let b = filled(k, n, 2);
            let mut c = Array2::<f64>::from_elem((m, n), f64::NAN);
            gemm(1.0, a.view(), b.view(), 0.0, c.view_mut())?;
            assert_eq!(c, naive(&a, &b));
            // A transposed view: (Aᵀ)ᵀ·B.
            let at = a.t().to_owned();
            let mut c2 = Array2::<f64>::zeros((m, n));
            gemm(1.0, at.t(), b.view(), 0.0, c2.view_mut())?;
            assert_eq!(c2, c);
        }
        Ok(())
    }

    #[test]
    fn beta_accumulates_and_k_zero_scales() -> Result<()> {
        let a = filled(4, 3, 3);
        let b = filled(3, 5, 4);
        let mut c = Array2::<f64>::ones((4, 5));
        gemm(2.0, a.view(), b.view(), 1.0, c.view_mut())?;
        assert_eq!(c, naive(&a, &b) * 2.0 + 1.0);
        let empty_a = Array2::<f64>::zeros((4, 0));
        let empty_b = Array2::<f64>::zeros((0, 5));
        gemm(1.0, empty_a.view(), empty_b.view(), 0.5, c.view_mut())?;
        assert_eq!(c, (naive(&a, &b) * 2.0 + 1.0) * 0.5);
        Ok(())
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let a = Array2::<f32>::zeros((2, 3));
        let b = Array2::<f32>::zeros((4, 5));
        let mut c = Array2::<f32>::zeros((2, 5));
        assert!(matches!(gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()), Err(Error::Shape { .. })));
    }

    /// The property the threading relies on: splitting the output into any blocks gives the same bits.
    #[test]
    fn every_partition_gives_the_same_bits() {
        let shapes = [(512, 784, 256), (32, 784, 256), (784, 32, 256), (128, 256, 128), (37, 129, 61), (512, 128, 10)];
        for (m, k, n) in shapes {
            let a = Array2::from_shape_fn((m, k), |(i, j)| (((i * 7 + j * 3) % 11) as f32).sin() * 0.37);
            let b = Array2::from_shape_fn((k, n), |(i, j)| (((i * 5 + j * 13) % 17) as f32).cos() * 0.21);
            let mut serial = Array2::<f32>::zeros((m, n));
            gemm_serial(1.0, a.view(), b.view(), 0.0, serial.view_mut());
            for blocks in [2, 3, 4, 7, 8] {
                let mut by_columns = Array2::<f32>::zeros((m, n));
                split_columns(1.0, a.view(), b.view(), 0.0, by_columns.view_mut(), blocks);
                let mut by_rows = Array2::<f32>::zeros((m, n));
                split_rows(1.0, a.view(), b.view(), 0.0, by_rows.view_mut(), blocks);
                assert_eq!(by_columns, serial, "columns {m}x{k}x{n} in {blocks}");
                assert_eq!(by_rows, serial, "rows {m}x{k}x{n} in {blocks}");
            }
            // Transposed operands (the backward passes) too.
            let at = a.t().to_owned();
            let mut transposed = Array2::<f32>::zeros((m, n));
            split_rows(1.0, at.t(), b.view(), 0.0, transposed.view_mut(), 3);
            assert_eq!(transposed, serial);
        }
    }

    #[test]
    fn blocks_follow_the_threads_only_when_worth_it() {
        assert_eq!(block_count(512, 256, 784, 2), 2);
        assert_eq!(block_count(1, 10, 128, 2), 1);
        assert_eq!(block_count(512, 256, 784, 1), 1);
    }

    /// How `MIN_BLOCK_MACS` was chosen: the time of one product as 1 block and as 2 blocks on a 2-thread pool,
    /// from 2^15 to 2^22 multiply-adds, at the shapes of our layers (k = 784 or 256, m = batch rows).
    /// `cargo test --release --lib -- --ignored --nocapture measure_split_threshold` on a quiet machine.
    #[test]
    #[ignore = "a measurement, not a check: run by hand on a quiet machine"]
    fn measure_split_threshold() {
        use std::time::Instant;
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(2).build() else { return };
        println!("{:>6} {:>5} {:>5} {:>5} {:>12} {:>12} {:>8}", "macs", "m", "k", "n", "1 block µs", "2 blocks µs", "speedup");
        for (k, n) in [(784usize, 256usize), (256, 128)] {
            for exponent in 15..=22u32 {
                let m = ((1usize << exponent) / (k * n)).max(1);
                let a = Array2::from_shape_fn((m, k), |(i, j)| ((i + j) % 7) as f32 * 0.1);
                let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * j) % 5) as f32 * 0.1);
                let mut c = Array2::<f32>::zeros((m, n));
                let mut best = [f64::INFINITY; 2];
                pool.install(|| {
                    for _ in 0..200 {
                        for (slot, blocks) in [(0usize, 1usize), (1, 2)] {
                            let started = Instant::now();
                            split_columns(1.0, a.view(), b.view(), 0.0, c.view_mut(), blocks);
                            let micros = started.elapsed().as_secs_f64() * 1e6;
                            if let Some(best) = best.get_mut(slot) {
                                *best = best.min(micros);
                            }
                        }
                    }
                });
                let [one, two] = best;
                println!("{:>6} {m:>5} {k:>5} {n:>5} {one:>12.1} {two:>12.1} {:>8.2}", format!("2^{exponent}"), one / two);
            }
        }
    }
}
