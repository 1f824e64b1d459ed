//! Register-tile products on operands read in place, for the small-net step (`train/small_net.rs`), which runs a
//! tile of a few rows of the batch through every layer while the tile sits in L1. No packing, no plan and no
//! threads of their own: a small net's products are too small to pay for any of them (the step shares out whole
//! groups of tiles instead).
//!
//! One register-block loop (`accumulate`, the GEMM micro-kernel's loop with A read at any strides) makes:
//! - the forward pass `Y ← act(X·W + b)`, with the GEMM's epilogue (`kernel::write_tile`);
//! - the input gradient `dX ← dY·Wᵀ`, from Wᵀ (n × k) that the step prepares once;
//! - the weight gradient `dW += Xᵀ·dY`, or for a narrow layer (see `narrow`) `dWᵀ += dYᵀ·X`, so that the
//!   vectors run along k instead of along a few outputs.
//!
//! A narrow layer's forward pass (a regression head, or any output a few values wide) takes one dot product per
//! output over k instead (`dots`), for the same reason.
//!
//! Numerics: each forward and input-gradient value is one chain of fused multiply-adds over k (over n) in order,
//! and each weight-gradient value one chain over the batch's rows in order, continued from tile to tile, so a
//! batch's gradient does not depend on how it is cut into tiles. A narrow forward value adds `LANES` partial
//! chains pairwise at the end, so its bits depend on the instruction set's vector width; they are fixed for a
//! given set, whatever the thread count.

use super::kernel::{TileOut, write_tile};
use super::simd::Simd;
use crate::cpu::Isa;
use crate::error::{Result, expect_len};
use crate::kernels::activation::Activation;
use crate::scalar::Real;
use num_traits::{One, Zero};

/// A matrix read one value at a time (broadcast): element (i, p) at `base + i·row + p·step`.
#[derive(Clone, Copy)]
struct Operand<T> {
    base: *const T,
    row: usize,
    step: usize,
}

/// What a product does with C.
#[derive(Clone, Copy)]
enum Output<T> {
    /// `C ← act(Σ + bias)` (a null bias adds nothing).
    Write { bias: *const T, activation: Activation },
    /// `C ← C + Σ`: every value's chain starts from C's value.
    Accumulate,
}

/// `C (rows × cols) ← or += A (rows × steps) · B (steps × cols)`, B and C contiguous (rows `cols` values apart).
pub struct Product<T> {
    rows: usize,
    cols: usize,
    steps: usize,
    a: Operand<T>,
    b: *const T,
    c: *mut T,
    output: Output<T>,
}

/// `out[r·n + j] ← Σ_p x[r·k + p] · wt[j·k + p] + bias[j]` for r < rows, j < n.
pub struct Dots<T> {
    rows: usize,
    k: usize,
    n: usize,
    x: *const T,
    wt: *const T,
    bias: *const T,
    out: *mut T,
}

/// The compiled kernels of one (instruction set, element type).
pub struct Kernels<T: 'static> {
    /// Values per vector.
    pub lanes: usize,
    /// Bands of the wide register block, then single rows.
    wide: unsafe fn(&Product<T>),
    /// Single rows of a long register block (few rows, many columns).
    row: unsafe fn(&Product<T>),
    dots: unsafe fn(&Dots<T>),
}

/// Load `n` lanes (all, some or none) of a vector.
///
/// # Safety
/// `S`'s contract; `p` valid for `n` values.
#[inline(always)]
unsafe fn load<S: Simd>(p: *const S::T, n: usize) -> S::V {
    // SAFETY: the caller's contract.
    unsafe {
        if n == S::LANES {
            S::load(p)
        } else if n > 0 {
            S::load_partial(p, n)
        } else {
            S::zero()
        }
    }
}

/// `acc[i][v] + Σ_p a(i, p) · b[p·ldb + v·LANES ..]` over `steps` steps, one fused multiply-add per step in p
/// order; `lanes[v]` of vector v are read from B (all of them when `FULL`).
///
/// # Safety
/// `S`'s contract; A valid for MR rows and `steps` steps, B for `steps` rows of the lanes read.
#[inline(always)]
unsafe fn accumulate<S: Simd, const MR: usize, const NV: usize, const FULL: bool>(
    mut acc: [[S::V; NV]; MR],
    steps: usize,
    a: Operand<S::T>,
    b: *const S::T,
    ldb: usize,
    lanes: &[usize; NV],
) -> [[S::V; NV]; MR] {
    // SAFETY (whole body): the caller's contract; every offset stays inside the `steps` steps of A and B.
    unsafe {
        let (mut a_p, mut b_p) = (a.base, b);
        for _ in 0..steps {
            let mut b_row = [S::zero(); NV];
            for ((v, slot), &n) in b_row.iter_mut().enumerate().zip(lanes) {
                let p = b_p.add(v * S::LANES);
                *slot = if FULL { S::load(p) } else { load::<S>(p, n) };
            }
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let a_ip = S::splat(*a_p.add(i * a.row));
                for (c, &b_v) in acc_row.iter_mut().zip(&b_row) {
                    *c = S::mul_add(a_ip, b_v, *c);
                }
            }
            a_p = a_p.add(a.step);
            b_p = b_p.add(ldb);
        }
        acc
    }
}

/// Rows `i0..i0 + MR` of a product, one register block of NV vectors after another along the columns: the full
/// blocks, then a partial one at the right edge.
///
/// # Safety
/// `S`'s contract; the product's pointers valid for its shape, rows `i0..i0 + MR` inside it.
#[inline(always)]
unsafe fn band<S: Simd, const MR: usize, const NV: usize>(job: &Product<S::T>, i0: usize) {
    let nr = NV * S::LANES;
    let full = job.cols / nr * nr;
    // SAFETY: the caller's contract; every block's columns are inside the product.
    unsafe {
        for j0 in (0..full).step_by(nr) {
            block::<S, MR, NV, true>(job, i0, j0, nr);
        }
        let width = job.cols - full;
        if width > S::LANES {
            block::<S, MR, NV, false>(job, i0, full, width);
        } else if width > 0 {
            // One vector is enough (a layer of up to LANES outputs): no FMAs on lanes outside C.
            block::<S, MR, 1, false>(job, i0, full, width);
        }
    }
}

/// The register block of rows `i0..i0 + MR` and columns `j0..j0 + width` (all NV vectors when `FULL`).
///
/// # Safety
/// As for `band`, with the block's columns inside the product.
#[inline(always)]
unsafe fn block<S: Simd, const MR: usize, const NV: usize, const FULL: bool>(job: &Product<S::T>, i0: usize, j0: usize, width: usize) {
    let mut lanes = [S::LANES; NV];
    if !FULL {
        for (v, n) in lanes.iter_mut().enumerate() {
            *n = width.saturating_sub(v * S::LANES).min(S::LANES);
        }
    }
    // SAFETY (whole body): the caller's contract; only the block's rows and lanes are read and written.
    unsafe {
        let a = Operand { base: job.a.base.add(i0 * job.a.row), ..job.a };
        let c = job.c.add(i0 * job.cols + j0);
        let mut acc = [[S::zero(); NV]; MR];
        if let Output::Accumulate = job.output {
            for (i, acc_row) in acc.iter_mut().enumerate() {
                for ((v, slot), &n) in acc_row.iter_mut().enumerate().zip(&lanes) {
                    let p = c.add(i * job.cols + v * S::LANES);
                    *slot = if FULL { S::load(p) } else { load::<S>(p, n) };
                }
            }
        }
        // By value in and out: the accumulators stay in registers.
        let acc = accumulate::<S, MR, NV, FULL>(acc, job.steps, a, job.b.add(j0), job.cols, &lanes);
        match job.output {
            Output::Write { bias, activation } => {
                let out = TileOut {
                    alpha: S::T::one(),
                    beta: S::T::zero(),
                    first: true,
                    last: true,
                    bias: if bias.is_null() { bias } else { bias.add(j0) },
                    bias_step: 1,
                    activation,
                };
                write_tile::<S, MR, NV>(&acc, c, job.cols as isize, 1, MR, width, &out);
            }
            Output::Accumulate => {
                for (i, acc_row) in acc.iter().enumerate() {
                    for ((v, &value), &n) in acc_row.iter().enumerate().zip(&lanes) {
                        let p = c.add(i * job.cols + v * S::LANES);
                        if FULL || n == S::LANES {
                            S::store(p, value);
                        } else if n > 0 {
                            S::store_partial(p, value, n);
                        }
                    }
                }
            }
        }
    }
}

/// A whole product: bands of MR rows, then the last rows one at a time.
///
/// # Safety
/// `S`'s contract; the product's pointers valid for its shape.
#[inline(always)]
unsafe fn product<S: Simd, const MR: usize, const NV: usize>(job: &Product<S::T>) {
    let mut i0 = 0;
    // SAFETY: the caller's contract; each band's rows are inside the product.
    unsafe {
        while i0 + MR <= job.rows {
            band::<S, MR, NV>(job, i0);
            i0 += MR;
        }
        while i0 < job.rows {
            band::<S, 1, NV>(job, i0);
            i0 += 1;
        }
    }
}

/// The lanes of `v` added pairwise: halves, then quarters, down to one.
///
/// # Safety
/// `S`'s contract; at most 16 lanes (true of every set).
#[inline(always)]
unsafe fn add_lanes<S: Simd>(v: S::V) -> S::T {
    let mut lanes = [S::T::zero(); 16];
    debug_assert!(S::LANES <= lanes.len());
    // SAFETY: the caller's contract; `lanes` holds at least LANES values.
    unsafe { S::store(lanes.as_mut_ptr(), v) };
    let mut width = S::LANES;
    while width > 1 {
        width /= 2;
        let (low, high) = lanes.split_at_mut(width);
        low.iter_mut().zip(high.iter()).for_each(|(l, &h)| *l += h);
    }
    lanes[0]
}

/// Rows `r0..r0 + R` of `Dots`: for each output, R rows' dot products in vectors along k.
///
/// # Safety
/// `S`'s contract; the job's pointers valid for its shape, rows `r0..r0 + R` inside it.
#[inline(always)]
unsafe fn dots_band<S: Simd, const R: usize>(job: &Dots<S::T>, r0: usize) {
    let (k, full) = (job.k, job.k / S::LANES * S::LANES);
    // SAFETY (whole body): the caller's contract; p < k, j < n and rows r0..r0 + R only.
    unsafe {
        for j in 0..job.n {
            let w = job.wt.add(j * k);
            let mut acc = [S::zero(); R];
            let mut p = 0;
            while p < full {
                let w_v = S::load(w.add(p));
                for (r, sum) in acc.iter_mut().enumerate() {
                    *sum = S::mul_add(S::load(job.x.add((r0 + r) * k + p)), w_v, *sum);
                }
                p += S::LANES;
            }
            if p < k {
                let w_v = S::load_partial(w.add(p), k - p);
                for (r, sum) in acc.iter_mut().enumerate() {
                    *sum = S::mul_add(S::load_partial(job.x.add((r0 + r) * k + p), k - p), w_v, *sum);
                }
            }
            let bias = if job.bias.is_null() { S::T::zero() } else { *job.bias.add(j) };
            for (r, &sum) in acc.iter().enumerate() {
                *job.out.add((r0 + r) * job.n + j) = add_lanes::<S>(sum) + bias;
            }
        }
    }
}

/// # Safety
/// `S`'s contract; the job's pointers valid for its shape.
#[inline(always)]
unsafe fn dots<S: Simd>(job: &Dots<S::T>) {
    const R: usize = 4;
    let mut r0 = 0;
    // SAFETY: the caller's contract; each band's rows are inside the job.
    unsafe {
        while r0 + R <= job.rows {
            dots_band::<S, R>(job, r0);
            r0 += R;
        }
        while r0 < job.rows {
            dots_band::<S, 1>(job, r0);
            r0 += 1;
        }
    }
}

macro_rules! kernels {
    ($name:ident, $t:ty, $simd:ty, mr = $mr:literal, nv = $nv:literal, row_nv = $row_nv:literal $(, feature = $feature:literal)?) => {
        pub mod $name {
            use super::*;

            $(#[target_feature(enable = $feature)])?
            /// # Safety
            /// `product`'s contract, on a CPU with this instruction set.
            unsafe fn wide(job: &Product<$t>) {
                // SAFETY: forwarded contract; compiled for the set `$simd` needs.
                unsafe { product::<$simd, $mr, $nv>(job) }
            }

            $(#[target_feature(enable = $feature)])?
            /// # Safety
            /// As for `wide`.
            unsafe fn row(job: &Product<$t>) {
                // SAFETY: as above.
                unsafe { product::<$simd, 1, $row_nv>(job) }
            }

            $(#[target_feature(enable = $feature)])?
            /// # Safety
            /// `dots`'s contract, on a CPU with this instruction set.
            unsafe fn dot_rows(job: &Dots<$t>) {
                // SAFETY: as above.
                unsafe { dots::<$simd>(job) }
            }

            pub static KERNELS: Kernels<$t> = Kernels { lanes: <$simd as Simd>::LANES, wide, row, dots: dot_rows };
        }
    };
}

use super::simd::generic::{GenericF32, GenericF64};
kernels!(generic_f32, f32, GenericF32, mr = 4, nv = 2, row_nv = 4);
kernels!(generic_f64, f64, GenericF64, mr = 4, nv = 2, row_nv = 4);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::gemm::simd::avx2::{Avx2F32, Avx2F64};
    use crate::gemm::simd::avx512::{Avx512F32, Avx512F64};

    // AVX2 has 16 registers: 4 × 2 accumulators, B's two vectors and the broadcast. AVX-512 has 32: 8 × 2.
    kernels!(avx2_f32, f32, Avx2F32, mr = 4, nv = 2, row_nv = 4, feature = "avx2,fma");
    kernels!(avx2_f64, f64, Avx2F64, mr = 4, nv = 2, row_nv = 4, feature = "avx2,fma");
    kernels!(avx512_f32, f32, Avx512F32, mr = 8, nv = 2, row_nv = 4, feature = "avx512f,avx2,fma");
    kernels!(avx512_f64, f64, Avx512F64, mr = 8, nv = 2, row_nv = 4, feature = "avx512f,avx2,fma");
}
#[cfg(target_arch = "x86_64")]
pub use x86::{avx2_f32, avx2_f64, avx512_f32, avx512_f64};

/// Whether a layer with `n` outputs is narrow for `isa`'s kernels: a vector holds four of its rows or more, so
/// its forward pass takes dot products along k and its weight gradient is accumulated transposed.
pub fn narrow<T: Real>(isa: Isa, n: usize) -> bool {
    4 * n <= T::tile_kernels(isa).lanes
}

/// The lengths of a forward pass's operands: x (rows × k), the weights (k·n values, named), b (n), out (rows × n).
fn check_forward<T>(x: &[T], (name, w): (&str, &[T]), b: &[T], (rows, k, n): (usize, usize, usize), out: &[T]) -> Result<()> {
    expect_len("x", x.len(), rows * k)?;
    expect_len(name, w.len(), k * n)?;
    expect_len("b", b.len(), n)?;
    expect_len("output", out.len(), rows * n)
}

/// `out (rows × n) ← act(x (rows × k) · w (k × n) + b)`, for a layer that is not `narrow`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Real>(
    isa: Isa,
    x: &[T],
    w: &[T],
    b: &[T],
    (rows, k, n): (usize, usize, usize),
    activation: Activation,
    out: &mut [T],
) -> Result<()> {
    check_forward(x, ("W", w), b, (rows, k, n), out)?;
    // Softmax is row-wise: applied over the rows afterwards, as the GEMM does.
    let fused = if activation == Activation::Softmax { Activation::Linear } else { activation };
    let job = Product {
        rows,
        cols: n,
        steps: k,
        a: Operand { base: x.as_ptr(), row: k, step: 1 },
        b: w.as_ptr(),
        c: out.as_mut_ptr(),
        output: Output::Write { bias: b.as_ptr(), activation: fused },
    };
    // SAFETY: the kernels are those of `isa`, which the caller got from `cpu::isa` (available); every operand's
    // length was checked against the shape above.
    unsafe { (T::tile_kernels(isa).wide)(&job) };
    if activation == Activation::Softmax {
        activation.forward(out, n);
    }
    Ok(())
}

/// `out (rows × n) ← act(x (rows × k) · wtᵀ + b)` from `wt` = Wᵀ (n × k), for a `narrow` layer.
#[allow(clippy::too_many_arguments)]
pub fn forward_narrow<T: Real>(
    isa: Isa,
    x: &[T],
    wt: &[T],
    b: &[T],
    (rows, k, n): (usize, usize, usize),
    activation: Activation,
    out: &mut [T],
) -> Result<()> {
    check_forward(x, ("Wᵀ", wt), b, (rows, k, n), out)?;
    let job = Dots { rows, k, n, x: x.as_ptr(), wt: wt.as_ptr(), bias: b.as_ptr(), out: out.as_mut_ptr() };
    // SAFETY: as in `forward`.
    unsafe { (T::tile_kernels(isa).dots)(&job) };
    activation.forward(out, n);
    Ok(())
}

/// `dx (rows × k) ← dy (rows × n) · wtᵀ` from `wt` = Wᵀ (n × k).
pub fn input_grad<T: Real>(isa: Isa, dy: &[T], wt: &[T], (rows, k, n): (usize, usize, usize), dx: &mut [T]) -> Result<()> {
    expect_len("dy", dy.len(), rows * n)?;
    expect_len("Wᵀ", wt.len(), k * n)?;
    expect_len("dx", dx.len(), rows * k)?;
    let job = Product {
        rows,
        cols: k,
        steps: n,
        a: Operand { base: dy.as_ptr(), row: n, step: 1 },
        b: wt.as_ptr(),
        c: dx.as_mut_ptr(),
        output: Output::Write { bias: std::ptr::null(), activation: Activation::Linear },
    };
    // SAFETY: as in `forward`.
    unsafe { (T::tile_kernels(isa).wide)(&job) };
    Ok(())
}

/// `c (rows × cols) += A (rows × steps) · b (steps × cols)`, by the `wide` kernels (blocks of rows) or the `row`
/// ones (few rows, many columns): what the gradients below share. B and C are checked; A is the caller's.
///
/// # Safety
/// `a` valid for `rows` rows and `steps` steps at its strides.
unsafe fn accumulate_into<T: Real>(
    isa: Isa,
    wide: bool,
    (rows, cols, steps): (usize, usize, usize),
    a: Operand<T>,
    (b_name, b): (&str, &[T]),
    (c_name, c): (&str, &mut [T]),
) -> Result<()> {
    expect_len(b_name, b.len(), steps * cols)?;
    expect_len(c_name, c.len(), rows * cols)?;
    let job = Product { rows, cols, steps, a, b: b.as_ptr(), c: c.as_mut_ptr(), output: Output::Accumulate };
    let kernels = T::tile_kernels(isa);
    // SAFETY: the kernels are those of `isa`, which the caller got from `cpu::isa` (available); B and C were
    // checked against the shape above, A by the caller.
    unsafe { (if wide { kernels.wide } else { kernels.row })(&job) };
    Ok(())
}

/// `dw (k × n) += x (rows × k)ᵀ · dy (rows × n)`, for a layer that is not `narrow`.
pub fn weight_grad<T: Real>(isa: Isa, x: &[T], dy: &[T], (rows, k, n): (usize, usize, usize), dw: &mut [T]) -> Result<()> {
    expect_len("x", x.len(), rows * k)?;
    // SAFETY: x, read as xᵀ (k × rows), holds rows·k values.
    unsafe { accumulate_into(isa, true, (k, n, rows), Operand { base: x.as_ptr(), row: 1, step: k }, ("dy", dy), ("dW", dw)) }
}

/// `db (n) += Σ_rows dy (rows × n)`, each value one chain of additions over the rows in order: a product with a
/// row of ones, whose multiply-adds add exactly.
pub fn bias_grad<T: Real>(isa: Isa, dy: &[T], (rows, n): (usize, usize), db: &mut [T]) -> Result<()> {
    let one = T::one();
    // SAFETY: A is the one value `one`, read at offset 0 only.
    unsafe { accumulate_into(isa, false, (1, n, rows), Operand { base: &one, row: 0, step: 0 }, ("dy", dy), ("db", db)) }
}

/// `dwt (n × k) += dy (rows × n)ᵀ · x (rows × k)`: the transposed weight gradient of a `narrow` layer.
pub fn weight_grad_narrow<T: Real>(isa: Isa, x: &[T], dy: &[T], (rows, k, n): (usize, usize, usize), dwt: &mut [T]) -> Result<()> {
    expect_len("dy", dy.len(), rows * n)?;
    // SAFETY: dy, read as dyᵀ (n × rows), holds rows·n values.
    unsafe { accumulate_into(isa, false, (n, k, rows), Operand { base: dy.as_ptr(), row: 1, step: n }, ("x", x), ("dWᵀ", dwt)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f64> {
        (0..len).map(|i| (((i * 7919 + seed * 104_729) % 2001) as f64 - 1000.0) / 700.0).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    /// Shapes (rows, k, n) around the register blocks' edges: bands of 8 and 4 rows and single rows; full,
    /// partial and missing vectors; narrow layers of 1-4 outputs and wide ones.
    const SHAPES: [(usize, usize, usize); 10] =
        [(1, 1, 1), (4, 8, 32), (5, 3, 33), (16, 8, 256), (7, 40, 1), (16, 256, 1), (3, 17, 70), (9, 6, 10), (13, 19, 2), (16, 64, 4)];

    /// Every kernel against the textbook loops, on every instruction set this machine has; the weight and bias
    /// gradients continue the chains of what dW and db already hold.
    #[test]
    fn kernels_match_the_definitions() -> Result<()> {
        for isa in Isa::all_available() {
            for &(rows, k, n) in &SHAPES {
                let (x, w, b, dy) = (values(rows * k, 1), values(k * n, 2), values(n, 3), values(rows * n, 4));
                let wt: Vec<f64> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
                let (dw0, db0) = (values(k * n, 5), values(n, 6));
                let mut out = vec![f64::NAN; rows * n];
                if narrow::<f64>(isa, n) {
                    forward_narrow(isa, &x, &wt, &b, (rows, k, n), Activation::Relu, &mut out)?;
                } else {
                    forward(isa, &x, &w, &b, (rows, k, n), Activation::Relu, &mut out)?;
                }
                let mut dx = vec![f64::NAN; rows * k];
                input_grad(isa, &dy, &wt, (rows, k, n), &mut dx)?;
                let (mut dw, mut db) = (dw0.clone(), db0.clone());
                weight_grad(isa, &x, &dy, (rows, k, n), &mut dw)?;
                bias_grad(isa, &dy, (rows, n), &mut db)?;
                let mut dwt: Vec<f64> = (0..n * k).map(|i| dw0[(i % k) * n + i / k]).collect();
                weight_grad_narrow(isa, &x, &dy, (rows, k, n), &mut dwt)?;
                let at = |what: &str, r: usize, c: usize| format!("{what} {rows}×{k}×{n} at ({r}, {c}) on {}", isa.name());
                for r in 0..rows {
                    for j in 0..n {
                        let z = b[j] + (0..k).map(|p| x[r * k + p] * w[p * n + j]).sum::<f64>();
                        assert!(close(out[r * n + j], z.max(0.0)), "{}", at("forward", r, j));
                    }
                    for i in 0..k {
                        let expected = (0..n).map(|j| dy[r * n + j] * w[i * n + j]).sum::<f64>();
                        assert!(close(dx[r * k + i], expected), "{}", at("dx", r, i));
                    }
                }
                for i in 0..k {
                    for j in 0..n {
                        let expected = dw0[i * n + j] + (0..rows).map(|r| x[r * k + i] * dy[r * n + j]).sum::<f64>();
                        assert!(close(dw[i * n + j], expected), "{}", at("dW", i, j));
                        assert!(close(dwt[j * k + i], expected), "{}", at("dWᵀ", i, j));
                        if isa != Isa::Generic {
                            // One fused multiply-add per row, in row order: exactly this chain, either way round.
                            let chain = (0..rows).fold(dw0[i * n + j], |s, r| x[r * k + i].mul_add(dy[r * n + j], s));
                            assert_eq!((dw[i * n + j], dwt[j * k + i]), (chain, chain), "{}", at("dW chain", i, j));
                        }
                    }
                }
                for j in 0..n {
                    assert_eq!(db[j], (0..rows).fold(db0[j], |s, r| s + dy[r * n + j]), "{}", at("db", 0, j));
                }
            }
        }
        Ok(())
    }

    /// A gradient accumulated tile by tile equals the one of the whole batch, bit for bit.
    #[test]
    fn tiles_add_up_to_the_batch() -> Result<()> {
        let (rows, k, n) = (37, 12, 40);
        let (x, dy) = (values(rows * k, 1), values(rows * n, 2));
        for isa in Isa::all_available() {
            let (mut whole, mut tiled) = (vec![0.0; k * n], vec![0.0; k * n]);
            weight_grad(isa, &x, &dy, (rows, k, n), &mut whole)?;
            for first in (0..rows).step_by(16) {
                let tile = 16.min(rows - first);
                let (x, dy) = (&x[first * k..(first + tile) * k], &dy[first * n..(first + tile) * n]);
                weight_grad(isa, x, dy, (tile, k, n), &mut tiled)?;
            }
            assert_eq!(whole, tiled, "{}", isa.name());
        }
        Ok(())
    }

    #[test]
    fn short_buffers_are_errors() {
        let isa = Isa::Generic;
        let (x, w, b) = (vec![0.0f32; 8], vec![0.0f32; 8], vec![0.0f32; 2]);
        let mut out = vec![0.0f32; 7];
        assert!(forward(isa, &x, &w, &b, (4, 2, 2), Activation::Relu, &mut out).is_err());
        assert!(forward_narrow(isa, &x, &w, &b, (4, 2, 2), Activation::Relu, &mut out).is_err());
        assert!(input_grad(isa, &out, &w, (4, 2, 2), &mut [0.0; 8]).is_err());
        assert!(weight_grad(isa, &x, &out, (4, 2, 2), &mut [0.0; 4]).is_err());
        assert!(weight_grad_narrow(isa, &x, &x, (4, 2, 2), &mut [0.0; 3]).is_err());
        assert!(bias_grad(isa, &out, (4, 2), &mut [0.0; 2]).is_err());
    }
}
