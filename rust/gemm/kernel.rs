//! The micro-kernel (an MR × NR tile of C accumulated in registers over one k-block) and the write of a tile
//! into C with its epilogue: `alpha`, `beta`, then on the last k-block the bias and the activation.
//!
//! Tiles of a C with unit column stride are written with vectors (masked at the right edge), others element
//! by element; both do the same
//! arithmetic in the same order, so a value's bits never depend on the tile it lands in.

use super::simd::Simd;
use crate::kernels::activation::{Activation, LEAKY_SLOPE, sigmoid};
use num_traits::{One, Zero};

use crate::scalar::Real;

/// Widest register tile (columns) of any kernel: the size of the spill row of partial tiles.
pub const MAX_NR: usize = 64;

/// `acc[i][v] = Σ_p a[i, p] · b[p, v·LANES ..]` over `kc` steps, each a fused multiply-add in p order.
///
/// With `DIRECT`, A is read in place: row i at `a + i·lda`, k-contiguous. Otherwise A is a packed panel:
/// `a[p·MR + i]`. B's row p is at `b + p·ldb`, NR = NV·LANES contiguous values (a packed panel has ldb = NR).
///
/// # Safety
/// Instruction set of `S` enabled; A and B valid for the described `kc` steps.
#[inline(always)]
pub unsafe fn accumulate<S: Simd, const MR: usize, const NV: usize, const DIRECT: bool>(
    kc: usize,
    a: *const S::T,
    lda: isize,
    b: *const S::T,
    ldb: isize,
) -> [[S::V; NV]; MR] {
    // SAFETY (whole body): the caller's contract; every offset below stays inside the kc steps of A and B.
    unsafe {
        let mut acc = [[S::zero(); NV]; MR];
        let (mut a_p, mut b_p) = (a, b);
        for _ in 0..kc {
            let mut b_row = [S::zero(); NV];
            for (v, slot) in b_row.iter_mut().enumerate() {
                *slot = S::load(b_p.add(v * S::LANES));
            }
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let a_ip = if DIRECT { *a_p.offset(i as isize * lda) } else { *a_p.add(i) };
                let a_ip = S::splat(a_ip);
                for (c, &b_v) in acc_row.iter_mut().zip(&b_row) {
                    *c = S::mul_add(a_ip, b_v, *c);
                }
            }
            a_p = a_p.add(if DIRECT { 1 } else { MR });
            b_p = b_p.offset(ldb);
        }
        acc
    }
}

/// How a tile goes into C.
#[derive(Clone, Copy)]
pub struct TileOut<T> {
    pub alpha: T,
    pub beta: T,
    /// First k-block: C ← alpha·acc + beta·C (C unread when beta = 0); later blocks: C ← C + alpha·acc.
    pub first: bool,
    /// Last k-block: then add the bias and apply the activation.
    pub last: bool,
    /// The bias at the tile's first column (null: none).
    pub bias: *const T,
    /// Distance between the bias values of consecutive columns: 1, or 0 when every column gets the same value.
    pub bias_step: usize,
    pub activation: Activation,
}

/// One element of the epilogue, the scalar twin of the vector path in `write_tile`.
#[inline(always)]
pub fn finish<T: Real>(acc: T, c: impl FnOnce() -> T, bias: Option<T>, out: &TileOut<T>) -> T {
    let mut x = if out.alpha == T::one() { acc } else { out.alpha * acc };
    if !out.first {
        x += c();
    } else if out.beta != T::zero() {
        x += out.beta * c();
    }
    if out.last {
        if let Some(bias) = bias {
            x += bias;
        }
        x = activate(x, out.activation);
    }
    x
}

/// The engine's element-wise activations (`activation.rs`), one value; softmax is row-wise and left to the caller.
#[inline(always)]
pub fn activate<T: Real>(x: T, activation: Activation) -> T {
    match activation {
        Activation::Relu => {
            if x > T::zero() {
                x
            } else {
                T::zero()
            }
        }
        Activation::LeakyRelu => {
            if x > T::zero() {
                x
            } else {
                x * T::of(LEAKY_SLOPE)
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Linear | Activation::Softmax => x,
    }
}

/// Write the first `rows` × `cols` of a tile to C at `c` (strides `rsc`, `csc`).
///
/// # Safety
/// Instruction set of `S` enabled; C valid for `rows` × `cols` at those strides and not read or written by
/// anyone else meanwhile; `out.bias`, if not null, valid for `cols` values (1 if `bias_step` is 0).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn write_tile<S: Simd, const MR: usize, const NV: usize>(
    acc: &[[S::V; NV]; MR],
    c: *mut S::T,
    rsc: isize,
    csc: isize,
    rows: usize,
    cols: usize,
    out: &TileOut<S::T>,
) {
    let nr = NV * S::LANES;
    // SAFETY (whole body): the caller's contract; rows < `rows` and columns < `cols` only.
    unsafe {
        // The common cases (one k-block, C ← A·B, then bias and a cheap activation, on a full tile): each with its
        // own loop, free of the per-vector branches of the general path below, which computes the same values.
        let single = out.first && out.last && out.beta == S::T::zero() && out.alpha == S::T::one();
        if single && csc == 1 && cols == nr && !matches!(out.activation, Activation::Sigmoid | Activation::Tanh) {
            let slope = S::splat(S::T::of(LEAKY_SLOPE));
            let mut bias = [S::zero(); NV];
            if !out.bias.is_null() {
                for (v, slot) in bias.iter_mut().enumerate() {
                    *slot = if out.bias_step == 0 { S::splat(*out.bias) } else { S::load(out.bias.add(v * S::LANES)) };
                }
            }
            match (out.bias.is_null(), out.activation) {
                (true, Activation::Relu) => store_tile::<S, MR, NV>(acc, c, rsc, rows, &bias, |x, _| S::relu(x)),
                (true, Activation::LeakyRelu) => store_tile::<S, MR, NV>(acc, c, rsc, rows, &bias, |x, _| S::leaky_relu(x, slope)),
                (true, _) => store_tile::<S, MR, NV>(acc, c, rsc, rows, &bias, |x, _| x),
                (false, Activation::Relu) => store_tile::<S, MR, NV>(acc, c, rsc, rows, &bias, |x, b| S::relu(S::add(x, b))),
                (false, Activation::LeakyRelu) => {
                    store_tile::<S, MR, NV>(acc, c, rsc, rows, &bias, |x, b| S::leaky_relu(S::add(x, b), slope))
                }
                (false, _) => store_tile::<S, MR, NV>(acc, c, rsc, rows, &bias, |x, b| S::add(x, b)),
            }
        } else if csc == 1 {
            let (alpha, beta) = (S::splat(out.alpha), S::splat(out.beta));
            let slope = S::splat(S::T::of(LEAKY_SLOPE));
            let scale = out.alpha != S::T::one();
            // Lanes of each vector inside C: all, some (a partial last tile) or none.
            let mut lanes = [0; NV];
            for (v, n) in lanes.iter_mut().enumerate() {
                *n = cols.saturating_sub(v * S::LANES).min(S::LANES);
            }
            let load = |p: *const S::T, n: usize| if n == S::LANES { S::load(p) } else { S::load_partial(p, n) };
            let mut bias = [S::zero(); NV];
            if out.last && !out.bias.is_null() {
                for ((v, slot), &n) in bias.iter_mut().enumerate().zip(&lanes) {
                    if n > 0 {
                        *slot = if out.bias_step == 0 { S::splat(*out.bias) } else { load(out.bias.add(v * S::LANES), n) };
                    }
                }
            }
            for (i, acc_row) in acc.iter().enumerate().take(rows) {
                let c_row = c.offset(i as isize * rsc);
                for (((v, &value), &bias), &n) in acc_row.iter().enumerate().zip(&bias).zip(&lanes) {
                    if n == 0 {
                        continue;
                    }
                    let c_v = c_row.add(v * S::LANES);
                    let mut x = if scale { S::mul(alpha, value) } else { value };
                    if !out.first {
                        x = S::add(x, load(c_v, n));
                    } else if out.beta != S::T::zero() {
                        x = S::add(x, S::mul(beta, load(c_v, n)));
                    }
                    if out.last {
                        if !out.bias.is_null() {
                            x = S::add(x, bias);
                        }
                        x = match out.activation {
                            Activation::Relu => S::relu(x),
                            Activation::LeakyRelu => S::leaky_relu(x, slope),
                            _ => x,
                        };
                    }
                    if n == S::LANES {
                        S::store(c_v, x);
                    } else {
                        S::store_partial(c_v, x, n);
                    }
                }
                if out.last && matches!(out.activation, Activation::Sigmoid | Activation::Tanh) {
                    for j in 0..cols.min(nr) {
                        let c_j = c_row.add(j);
                        *c_j = activate(*c_j, out.activation);
                    }
                }
            }
        } else {
            let mut spill = [S::T::zero(); MAX_NR];
            for (i, acc_row) in acc.iter().enumerate().take(rows) {
                for (v, &value) in acc_row.iter().enumerate() {
                    S::store(spill.as_mut_ptr().add(v * S::LANES), value);
                }
                let c_row = c.offset(i as isize * rsc);
                for (j, &value) in spill.iter().enumerate().take(cols.min(nr)) {
                    let c_ij = c_row.offset(j as isize * csc);
                    let bias = if out.bias.is_null() { None } else { Some(*out.bias.add(j * out.bias_step)) };
                    *c_ij = finish(value, || *c_ij, bias, out);
                }
            }
        }
    }
}

/// Store `f(acc, bias)` for the first `rows` rows of a full tile, C with unit column stride.
///
/// # Safety
/// As for `write_tile`, with the tile full (nr columns).
#[inline(always)]
unsafe fn store_tile<S: Simd, const MR: usize, const NV: usize>(
    acc: &[[S::V; NV]; MR],
    c: *mut S::T,
    rsc: isize,
    rows: usize,
    bias: &[S::V; NV],
    f: impl Fn(S::V, S::V) -> S::V,
) {
    for (i, acc_row) in acc.iter().enumerate().take(rows) {
        // SAFETY: the caller's contract: row i < rows and the nr columns of the tile are in C.
        unsafe {
            let c_row = c.offset(i as isize * rsc);
            for ((v, &value), &b) in acc_row.iter().enumerate().zip(bias) {
                S::store(c_row.add(v * S::LANES), f(value, b));
            }
        }
    }
}
