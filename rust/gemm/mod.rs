//! The ONE matrix-multiply entry point of the engine: a BLIS-style driver of our own.
//!
//! * `gemm`: `C ← alpha·A·B + beta·C` for views with any strides (a transposed operand is `.t()`).
//! * `gemm_bias_act`: a dense layer's forward pass, `out ← act(x·W + b)`, bias and activation applied as each
//!   register tile is written.
//! * `gemm_weight_grad`: `dW ← xᵀ·dY` and `db ← Σ_rows dY`, the column sums taken while dY is packed.
//!
//! How it runs (`driver.rs`): per column block, B is packed once into nr-wide panels shared by all threads
//! (or, row-major, read in place: see `reads_b_in_place`); then the block's tasks (rectangles of C) run on the
//! engine's rayon pool, each reading A in place (or packing it) and accumulating MR × NR tiles in registers,
//! k-block by k-block (`kernel.rs`). Kernels exist for AVX-512, AVX2+FMA and portable Rust, chosen at run time
//! (`crate::cpu`), each with a wide register tile and a one-vector one for narrow products (`entries.rs`).
//!
//! Determinism: the cuts (k-blocks, column blocks, tasks) come from the shapes alone (`plan.rs`) and every
//! element of C follows the same sequence of operations whatever task computes it, so results are
//! bit-identical for any number of threads on a given instruction set. Nothing is allocated once the per-thread
//! packing buffers have grown to the sizes in use (`scratch.rs`).

mod column;
mod driver;
mod entries;
mod kernel;
mod pack;
pub mod plan;
mod scratch;
mod simd;
#[cfg(test)]
mod tests;
pub mod tile;

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use crate::cpu::{self, Isa};
use crate::error::{Error, Result, expect_len};
use crate::kernels::activation::Activation;
use crate::scalar::Real;
use driver::{Block, Job, MatMut};
use entries::Entries;
use pack::Mat;
use plan::Plan;

/// Element types with GEMM kernels (f32 and f64). Sealed: implemented here only.
pub trait Element: Sized + 'static + private::Sealed {
    /// The kernels for `isa` and m × n products.
    #[doc(hidden)]
    fn entries(isa: Isa, m: usize, n: usize) -> &'static Entries<Self>;
    /// The register-tile kernels of `isa` (`tile.rs`).
    #[doc(hidden)]
    fn tile_kernels(isa: Isa) -> &'static tile::Kernels<Self>;
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The wide, narrow and one-row kernels of one (instruction set, element type).
type Kernels<T> = [&'static Entries<T>; 3];

/// The kernel for an m × n product (a choice from the shape; all three give the same bits).
fn pick<T>([wide, narrow, row]: Kernels<T>, m: usize, n: usize) -> &'static Entries<T> {
    if m == 1 {
        row
    } else if n <= narrow.params.nr {
        narrow
    } else {
        wide
    }
}

impl Element for f32 {
    fn entries(isa: Isa, m: usize, n: usize) -> &'static Entries<f32> {
        use entries::*;
        let kernels: Kernels<f32> = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => [&avx512_f32::ENTRIES, &avx512_f32_narrow::ENTRIES, &avx512_f32_row::ENTRIES],
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => [&avx2_f32::ENTRIES, &avx2_f32_narrow::ENTRIES, &avx2_f32_row::ENTRIES],
            _ => [&generic_f32::ENTRIES, &generic_f32_narrow::ENTRIES, &generic_f32_row::ENTRIES],
        };
        pick(kernels, m, n)
    }

    fn tile_kernels(isa: Isa) -> &'static tile::Kernels<f32> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &tile::avx512_f32::KERNELS,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => &tile::avx2_f32::KERNELS,
            _ => &tile::generic_f32::KERNELS,
        }
    }
}

impl Element for f64 {
    fn entries(isa: Isa, m: usize, n: usize) -> &'static Entries<f64> {
        use entries::*;
        let kernels: Kernels<f64> = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => [&avx512_f64::ENTRIES, &avx512_f64_narrow::ENTRIES, &avx512_f64_row::ENTRIES],
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => [&avx2_f64::ENTRIES, &avx2_f64_narrow::ENTRIES, &avx2_f64_row::ENTRIES],
            _ => [&generic_f64::ENTRIES, &generic_f64_narrow::ENTRIES, &generic_f64_row::ENTRIES],
        };
        pick(kernels, m, n)
    }

    fn tile_kernels(isa: Isa) -> &'static tile::Kernels<f64> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &tile::avx512_f64::KERNELS,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => &tile::avx2_f64::KERNELS,
            _ => &tile::generic_f64::KERNELS,
        }
    }
}

/// `C ← alpha·A·B + beta·C` for views with any strides (a transposed operand is just `.t()`).
///
/// With `beta = 0`, C is overwritten without being read (NaN in C does not propagate).
pub fn gemm<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>) -> Result<()> {
    gemm_on(cpu::isa()?, alpha, a, b, beta, c)
}

/// `gemm` with an explicit instruction set (an error if this CPU lacks it): tests and benchmarks.
pub fn gemm_on<T: Real>(isa: Isa, alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>) -> Result<()> {
    product(isa, alpha, a, b, beta, c, None, Activation::Linear, None)
}

/// A dense layer's forward pass: `out ← activation(x·W + bias)`, in one pass over `out`.
///
/// Element-wise activations are applied as each tile is written, with the same formulas as
/// `kernels::activation`, so the result equals the unfused `gemm` + bias + activation bit for bit. Softmax,
/// being row-wise, runs over the rows after the product.
pub fn gemm_bias_act<T: Real>(
    x: ArrayView2<'_, T>,
    w: ArrayView2<'_, T>,
    bias: &[T],
    activation: Activation,
    out: ArrayViewMut2<'_, T>,
) -> Result<()> {
    gemm_bias_act_on(cpu::isa()?, x, w, bias, activation, out)
}

/// `gemm_bias_act` with an explicit instruction set.
pub fn gemm_bias_act_on<T: Real>(
    isa: Isa,
    x: ArrayView2<'_, T>,
    w: ArrayView2<'_, T>,
    bias: &[T],
    activation: Activation,
    out: ArrayViewMut2<'_, T>,
) -> Result<()> {
    expect_len("bias", bias.len(), w.ncols())?;
    product(isa, T::one(), x, w, T::zero(), out, Some(bias), activation, None)
}

/// A dense layer's parameter gradients: `dw ← xᵀ·dy` and `db ← Σ_rows dy` (summed over rows in order, exactly
/// `kernels::dense::column_sums`), the sums taken while dy is packed for the product.
pub fn gemm_weight_grad<T: Real>(x: ArrayView2<'_, T>, dy: ArrayView2<'_, T>, dw: ArrayViewMut2<'_, T>, db: &mut [T]) -> Result<()> {
    gemm_weight_grad_on(cpu::isa()?, x, dy, dw, db)
}

/// `gemm_weight_grad` with an explicit instruction set.
pub fn gemm_weight_grad_on<T: Real>(
    isa: Isa,
    x: ArrayView2<'_, T>,
    dy: ArrayView2<'_, T>,
    dw: ArrayViewMut2<'_, T>,
    db: &mut [T],
) -> Result<()> {
    expect_len("db", db.len(), dy.ncols())?;
    product(isa, T::one(), x.t(), dy, T::zero(), dw, None, Activation::Linear, Some(db))
}

fn mat<T>(view: &ArrayView2<'_, T>) -> Mat<T> {
    Mat { ptr: view.as_ptr(), rs: view.stride_of(Axis(0)), cs: view.stride_of(Axis(1)) }
}

/// Everything the public entry points share: checks, edge cases, the product, then a row-wise softmax.
#[allow(clippy::too_many_arguments)]
fn product<T: Real>(
    isa: Isa,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
    bias: Option<&[T]>,
    activation: Activation,
    col_sums: Option<&mut [T]>,
) -> Result<()> {
    let isa = cpu::require(isa)?;
    let ((m, k), n) = (a.dim(), b.ncols());
    if b.nrows() != k || c.dim() != (m, n) {
        return Err(Error::shape(
            "gemm operands",
            format!("A (m, k) · B (k, n) = C (m, n) with C {:?}", (m, n)),
            format!("A {:?} · B {:?} = C {:?}", a.dim(), b.dim(), c.dim()),
        ));
    }
    if let Some(bias) = bias {
        expect_len("bias", bias.len(), n)?;
    }
    if let Some(sums) = &col_sums {
        expect_len("column sums", sums.len(), n)?;
    }
    if column::applies(&a, n, col_sums.is_some()) {
        column::product(alpha, a.view(), b.column(0), beta, c.column_mut(0), bias.and_then(|b| b.first().copied()), activation)?;
        if activation == Activation::Softmax {
            softmax_rows(c)?;
        }
        return Ok(());
    }
    // A one-column product (a regression head, or its weight gradient) would use one lane of each vector: compute
    // Cᵀ = Bᵀ·Aᵀ instead, one row of m columns. Every element is still one chain of multiply-adds over k in order
    // (products commute), so the bits are those of the direct product; the single bias value goes to every
    // column, and B's one column sum is taken first, in the same order as packing takes it.
    let mut col_sums = col_sums;
    let transpose = n == 1 && m > 1 && k > 0;
    if transpose && let Some(sums) = col_sums.take() {
        crate::kernels::dense::column_sums(b.view(), sums);
    }
    let (pa, pb, mut pc, bias_step) =
        if transpose { (b.t(), a.t(), c.view_mut().reversed_axes(), 0) } else { (a.view(), b.view(), c.view_mut(), 1) };
    let (pm, pn) = pc.dim();
    let entries = T::entries(isa, pm, pn);
    let mut job = Job {
        m: pm,
        n: pn,
        k,
        a: mat(&pa),
        b: mat(&pb),
        c: MatMut { ptr: pc.as_mut_ptr(), rs: pc.stride_of(Axis(0)), cs: pc.stride_of(Axis(1)) },
        alpha,
        beta,
        bias: bias.map_or(std::ptr::null(), <[T]>::as_ptr),
        bias_step,
        activation,
        col_sums: std::ptr::null_mut(),
        plan: Plan::new(pm, pn, k, entries.params),
    };
    if m == 0 || n == 0 || k == 0 {
        edge_cases(&a, &b, pc, col_sums, &job);
    } else {
        job.col_sums = col_sums.map_or(std::ptr::null_mut(), <[T]>::as_mut_ptr);
        execute(entries, &job)?;
    }
    if activation == Activation::Softmax {
        softmax_rows(c)?;
    }
    Ok(())
}

/// Empty products: C ← beta·C (then bias and activation) when k = 0; the column sums of B whatever m.
fn edge_cases<T: Real>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    mut c: ArrayViewMut2<'_, T>,
    col_sums: Option<&mut [T]>,
    job: &Job<T>,
) {
    if let Some(sums) = col_sums {
        crate::kernels::dense::column_sums(b.view(), sums);
    }
    if a.ncols() == 0 {
        let out = kernel::TileOut {
            alpha: job.alpha,
            beta: job.beta,
            first: true,
            last: true,
            bias: job.bias,
            bias_step: 1,
            activation: job.activation,
        };
        for mut row in c.rows_mut() {
            for (j, value) in row.iter_mut().enumerate() {
                let bias = if job.bias.is_null() {
                    None
                } else {
                    // SAFETY: the bias has n values (checked by `product`) and j < n.
                    Some(unsafe { *job.bias.add(j) })
                };
                *value = kernel::finish(T::zero(), || *value, bias, &out);
            }
        }
    }
}

/// Whether B's full panels are read in place rather than packed. Measured (benches/gemm_choice): reading a
/// row-major B in place was as fast as packing it at every shape tried, and faster at few rows of A, where
/// packing costs as much as the product. Packed anyway: a transposed B (the kernel needs rows of B), B whose
/// column sums are wanted (taken while packing), and row strides of a multiple of 4 KiB (every row of a panel
/// would fall in the same L1 sets).
fn reads_b_in_place<T>(job: &Job<T>) -> bool {
    job.b.cs == 1 && job.col_sums.is_null() && !(job.b.rs.unsigned_abs() * std::mem::size_of::<T>()).is_multiple_of(4096)
}

/// Packed B is shared through one buffer; tasks at least this large (k × block width) pack it in parallel.
const PARALLEL_PACK_MIN: usize = 1 << 14;

fn execute<T: Real>(entries: &'static Entries<T>, job: &Job<T>) -> Result<()> {
    let plan = job.plan;
    let parallel = crate::threads::available() > 1;
    let task_len = driver::task_scratch_len(&plan);
    scratch::with(&scratch::PACKED_B, plan.nc * job.k, |packed_b: *mut T| -> Result<()> {
        for (n0, width) in plan.column_blocks(job.n) {
            let direct_b = reads_b_in_place(job);
            let block = Block { n0, width, packed_b, direct_b };
            let panels = width.div_ceil(plan.nr);
            // SAFETY: the job's pointers come from views checked against its shapes and outlive this call; the
            // buffer holds nc × k ≥ panels × nr × k values; each panel is packed by exactly one call.
            let pack = |panel| {
                if block.is_packed(panel, plan.nr) {
                    unsafe { (entries.pack_b)(job, &block, panel) }
                }
                Ok(())
            };
            let tasks = plan.task_count(job.m, width);
            // Packing in parallel only pays when the product itself is split (a small product runs as one task).
            if parallel && tasks > 1 && panels > 1 && job.k * width >= PARALLEL_PACK_MIN && !direct_b {
                crate::parallel::for_each(panels, pack)?;
            } else {
                (0..panels).try_for_each(pack)?;
            }
            let run = |t| {
                crate::cancel::check()?; // Ctrl-C: a long product stops between tasks (C is then garbage)
                scratch::with(&scratch::PACKED_A, task_len, |scratch: *mut T| {
                    // SAFETY: as above, with the block fully packed (the loops above have returned); each task
                    // runs exactly once, on its own rectangle of C, with its own scratch of `task_len` values;
                    // the entries were chosen for an instruction set `product` checked is available.
                    unsafe { (entries.task)(job, &block, t, scratch) }
                })
            };
            if parallel && tasks > 1 {
                crate::parallel::for_each(tasks, run)?;
            } else {
                (0..tasks).try_for_each(run)?;
            }
        }
        Ok(())
    })?
}

/// Row-wise softmax of C, with `activation::softmax_forward`'s formulas (rows in parallel when large).
fn softmax_rows<T: Real>(mut c: ArrayViewMut2<'_, T>) -> Result<()> {
    let cols = c.ncols();
    if let Some(data) = c.as_slice_mut() {
        return Activation::Softmax.forward_parallel(data, cols);
    }
    for mut row in c.rows_mut() {
        let max = row.fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut sum = T::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = T::one() / sum;
        row.map_inplace(|v| *v *= inv);
    }
    Ok(())
}
