//! The dense (fully connected) layer: `z = x·W + b` with W of shape (fan_in, fan_out).

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::error::{Result, expect_len, expect_shape};
use crate::gemm::{gemm, gemm_bias_act, gemm_weight_grad};
use crate::kernels::activation::Activation;
use crate::scalar::Real;

/// `out ← activation(x·W + b)`: the bias and element-wise activations are applied as the product writes each
/// tile (`gemm::gemm_bias_act`), with the same formulas and order as `bias_activation`.
pub fn dense_forward<T: Real>(
    x: ArrayView2<'_, T>,
    w: ArrayView2<'_, T>,
    b: &[T],
    activation: Activation,
    out: ArrayViewMut2<'_, T>,
) -> Result<()> {
    let (rows, fan_in) = x.dim();
    let fan_out = w.ncols();
    expect_shape("W", w.dim(), (fan_in, fan_out))?;
    expect_len("b", b.len(), fan_out)?;
    expect_shape("output", out.dim(), (rows, fan_out))?;
    gemm_bias_act(x, w, b, activation, out)
}

/// Add the bias to every row of a contiguous block and apply the activation, row by row (blocks of rows on the
/// engine's threads when large).
pub fn bias_activation<T: Real>(data: &mut [T], b: &[T], activation: Activation) -> Result<()> {
    let cols = b.len();
    if cols == 0 {
        return Ok(());
    }
    if let Some(rows) = crate::kernels::activation::parallel_rows(data.len(), cols) {
        crate::parallel::for_each_chunk_mut(data, rows * cols, |_, block| {
            bias_activation_serial(block, b, activation);
            Ok(())
        })
    } else {
        bias_activation_serial(data, b, activation);
        Ok(())
    }
}

fn bias_activation_serial<T: Real>(data: &mut [T], b: &[T], activation: Activation) {
    let cols = b.len();
    for row in data.chunks_exact_mut(cols) {
        for (v, &bias) in row.iter_mut().zip(b) {
            *v += bias;
        }
        activation.forward(row, cols);
    }
}

/// `dx ← dz·Wᵀ`: the gradient with respect to the layer's input.
pub fn dense_backward_input<T: Real>(dz: ArrayView2<'_, T>, w: ArrayView2<'_, T>, dx: ArrayViewMut2<'_, T>) -> Result<()> {
    gemm(T::one(), dz, w.t(), T::zero(), dx)
}

/// `dW ← xᵀ·dz` and `db ← Σ_rows dz`: the gradients of the parameters, in one pass over dz
/// (`gemm::gemm_weight_grad`; db equals `column_sums(dz)` bit for bit).
pub fn dense_backward_params<T: Real>(x: ArrayView2<'_, T>, dz: ArrayView2<'_, T>, dw: ArrayViewMut2<'_, T>, db: &mut [T]) -> Result<()> {
    expect_len("db", db.len(), dz.ncols())?;
    gemm_weight_grad(x, dz, dw, db)
}

/// `out[j] = Σ_i m[i, j]`, summed over rows in order (a fixed order whatever the thread count).
pub fn column_sums<T: Real>(m: ArrayView2<'_, T>, out: &mut [T]) {
    out.iter_mut().for_each(|v| *v = T::zero());
    for row in m.rows() {
        for (acc, &v) in out.iter_mut().zip(row.iter()) {
            *acc += v;
        }
    }
}

/// All three gradients of a dense layer: `(dx, dW, db)` from the input `x`, the weights and `dz`.
pub fn dense_backward<T: Real>(
    x: ArrayView2<'_, T>,
    w: ArrayView2<'_, T>,
    dz: ArrayView2<'_, T>,
    dx: ArrayViewMut2<'_, T>,
    dw: ArrayViewMut2<'_, T>,
    db: &mut [T],
) -> Result<()> {
    let (rows, fan_in) = x.dim();
    if w.nrows() != fan_in {
        return Err(crate::error::Error::shape(
            "W",
            format!("({fan_in}, fan_out) to match x's {fan_in} columns"),
            format!("{:?}", w.dim()),
        ));
    }
    expect_shape("dz", dz.dim(), (rows, w.ncols()))?;
    dense_backward_input(dz, w, dx)?;
    dense_backward_params(x, dz, dw, db)
}

/// `out += a·x` (one row of a GEMV). Inlined into its callers, which are compiled for AVX2 as well.
#[inline(always)]
pub fn axpy<T: Real>(out: &mut [T], a: T, x: &[T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += a * v;
    }
}

/// `Σ a_i·b_i` in 8 interleaved partial sums (vectorizable), combined in a fixed order. Inlined into its callers.
#[inline(always)]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut partial = [T::zero(); 8];
    let chunks = a.len().min(b.len()) / 8;
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for ((p, &va), &vb) in partial.iter_mut().zip(ca).zip(cb) {
            *p += va * vb;
        }
    }
    let [p0, p1, p2, p3, p4, p5, p6, p7] = partial;
    let mut sum = ((p0 + p4) + (p1 + p5)) + ((p2 + p6) + (p3 + p7));
    // `chunks * 8` is at most either length, so both tails exist; `get` only keeps the proof out of the code.
    let (tail_a, tail_b) = (a.get(chunks * 8..).unwrap_or_default(), b.get(chunks * 8..).unwrap_or_default());
    for (&va, &vb) in tail_a.iter().zip(tail_b) {
        sum += va * vb;
    }
    sum
}

/// One row through a dense layer (the online path's GEMV): `out ← b + Σ_i x_i·W[i,:]`, skipping zero inputs,
/// then the activation.
pub fn dense_forward_row<T: Real>(x: &[T], w: &[T], b: &[T], activation: Activation, out: &mut [T]) -> Result<()> {
    let fan_out = b.len();
    expect_len("W", w.len(), x.len() * fan_out)?;
    expect_len("output", out.len(), fan_out)?;
    out.copy_from_slice(b);
    if fan_out == 0 {
        return Ok(());
    }
    // Large layers: blocks of columns on the engine's threads. Each output is still the sum over rows in order,
    // so the result is the same as on one thread.
    if w.len() >= GEMV_PARALLEL_MIN && fan_out > GEMV_COLUMN_BLOCK && crate::threads::available() > 1 {
        use rayon::prelude::*;
        out.par_chunks_mut(GEMV_COLUMN_BLOCK)
            .enumerate()
            .for_each(|(block, out)| gemv_columns(out, x, w, fan_out, block * GEMV_COLUMN_BLOCK));
    } else {
        gemv_columns(out, x, w, fan_out, 0);
    }
    activation.forward(out, fan_out);
    Ok(())
}

/// `out += Σ_i x_i·W[i, start..start + out.len()]`, skipping zero inputs (one dispatch for the whole loop).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn gemv_columns<T: Real>(out: &mut [T], x: &[T], w: &[T], fan_out: usize, start: usize) {
    let end = start + out.len();
    for (&xi, row) in x.iter().zip(w.chunks_exact(fan_out)) {
        if xi != T::zero()
            && let Some(segment) = row.get(start..end)
        {
            axpy(out, xi, segment);
        }
    }
}

/// Weight matrices at least this large run their one-row forward on several threads, in blocks of columns.
const GEMV_PARALLEL_MIN: usize = 1 << 16;
const GEMV_COLUMN_BLOCK: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn forward_adds_bias_and_applies_activation() -> Result<()> {
        let x = array![[1.0f64, -2.0], [0.5, 0.25]];
        let w = array![[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]];
        let b = [0.1, -0.2, 0.3];
        let mut out = Array2::zeros((2, 3));
        dense_forward(x.view(), w.view(), &b, Activation::Relu, out.view_mut())?;
        let expected = (x.dot(&w) + ndarray::arr1(&b)).mapv(|v: f64| v.max(0.0));
        assert_eq!(out, expected);
        Ok(())
    }

    #[test]
    fn backward_matches_matrix_formulas() -> Result<()> {
        let x = array![[1.0f64, -2.0], [0.5, 0.25], [3.0, 1.0]];
        let w = array![[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]];
        let dz = array![[0.1, 0.2, -0.3], [1.0, -1.0, 0.5], [0.0, 0.3, 0.2]];
        let (mut dx, mut dw, mut db) = (Array2::zeros((3, 2)), Array2::zeros((2, 3)), [0.0; 3]);
        dense_backward(x.view(), w.view(), dz.view(), dx.view_mut(), dw.view_mut(), &mut db)?;
        assert_eq!(dx, dz.dot(&w.t()));
        assert_eq!(dw, x.t().dot(&dz));
        assert_eq!(db.to_vec(), dz.sum_axis(ndarray::Axis(0)).to_vec());
        Ok(())
    }

    #[test]
    fn row_kernels_match_the_matrix_forms() -> Result<()> {
        let x = [0.5f64, 0.0, -1.5, 2.0];
        let w = Array2::from_shape_fn((4, 11), |(i, j)| ((i * 7 + j * 3) % 5) as f64 - 2.0);
        let b: Vec<f64> = (0..11).map(|j| j as f64 * 0.1).collect();
        let mut out = vec![0.0; 11];
        dense_forward_row(&x, w.as_slice().unwrap(), &b, Activation::Linear, &mut out)?;
        let expected = ndarray::arr1(&x).dot(&w) + ndarray::arr1(&b);
        for (got, want) in out.iter().zip(expected.iter()) {
            assert!((got - want).abs() < 1e-12);
        }
        let a: Vec<f64> = (0..19).map(|i| i as f64 * 0.25 - 2.0).collect();
        let c: Vec<f64> = (0..19).map(|i| 1.0 - i as f64 * 0.125).collect();
        let naive: f64 = a.iter().zip(&c).map(|(p, q)| p * q).sum();
        assert!((dot(&a, &c) - naive).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let x = Array2::<f32>::zeros((2, 3));
        let w = Array2::<f32>::zeros((4, 5));
        let mut out = Array2::<f32>::zeros((2, 5));
        assert!(dense_forward(x.view(), w.view(), &[0.0; 5], Activation::Linear, out.view_mut()).is_err());
    }
}
