//! One product as the tasks of its plan: B packed once per column block and shared (or read in place), then each
//! task packs what it needs of A and runs the micro-kernel over its rectangle of C, k-block by k-block.

use super::kernel::{TileOut, accumulate, write_tile};
use super::pack::{Mat, pack_a_panel, pack_b_panel};
use super::plan::Plan;
use super::simd::Simd;
use crate::kernels::activation::Activation;

/// A writable strided matrix.
#[derive(Clone, Copy)]
pub struct MatMut<T> {
    pub ptr: *mut T,
    pub rs: isize,
    pub cs: isize,
}

/// `C ← alpha·A·B + beta·C`, then bias and activation; optionally the column sums of B.
pub struct Job<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Mat<T>,
    pub b: Mat<T>,
    pub c: MatMut<T>,
    pub alpha: T,
    pub beta: T,
    /// n values added to every row of C (null: none), `bias_step` apart (0: one value for every column).
    pub bias: *const T,
    pub bias_step: usize,
    pub activation: Activation,
    /// n values that receive the column sums of B (null: not wanted).
    pub col_sums: *mut T,
    pub plan: Plan,
}

/// One column block and its packed B (panels of k × nr, panel after panel).
pub struct Block<T> {
    pub n0: usize,
    pub width: usize,
    pub packed_b: *mut T,
    /// Full panels are read in place from a row-major B (`gemm::reads_b_in_place`); only a last partial panel is
    /// packed.
    pub direct_b: bool,
}

impl<T> Block<T> {
    /// Whether panel `panel` (nr wide) is read from the packed buffer.
    pub fn is_packed(&self, panel: usize, nr: usize) -> bool {
        !self.direct_b || (panel + 1) * nr > self.width
    }
}

// SAFETY: a Job is shared by the tasks of one product, which only read A, B and the bias, and write disjoint
// rectangles of C, disjoint panels of packed B and disjoint ranges of the column sums (see `run_task` and
// `pack_b`). The caller keeps every pointed-to buffer alive until all tasks have returned.
unsafe impl<T: Sync> Sync for Job<T> {}
// SAFETY: as for Job.
unsafe impl<T: Sync> Sync for Block<T> {}

/// Pack panel `panel` of the block's B (and its column sums).
///
/// # Safety
/// The job's pointers are valid for its shapes; the block's buffer holds k × nr values per panel; no other
/// thread packs the same panel.
#[inline(always)]
pub unsafe fn pack_b<S: Simd, const NR: usize>(job: &Job<S::T>, block: &Block<S::T>, panel: usize) {
    let j0 = block.n0 + panel * NR;
    let cols = NR.min(block.n0 + block.width - j0);
    // SAFETY: the caller's contract; panel `panel` starts k·NR values into the buffer, its columns are in B.
    unsafe {
        let sums = if job.col_sums.is_null() { job.col_sums } else { job.col_sums.add(j0) };
        pack_b_panel::<S, NR>(job.b, job.k, j0, cols, block.packed_b.add(panel * job.k * NR), sums);
    }
}

/// Elements of the per-task scratch buffer (packed A for one k-block of the task's rows).
pub fn task_scratch_len(plan: &Plan) -> usize {
    plan.m_chunk * plan.kc
}

/// Run task `t` of the block.
///
/// # Safety
/// As for `pack_b`, with the whole block packed; `scratch` valid for `task_scratch_len` values and private to
/// this call; the instruction set of `S` enabled; NR = NV · LANES.
#[inline(always)]
pub unsafe fn run_task<S: Simd, const MR: usize, const NV: usize, const NR: usize>(
    job: &Job<S::T>,
    block: &Block<S::T>,
    t: usize,
    scratch: *mut S::T,
) {
    debug_assert_eq!(NR, NV * S::LANES);
    let plan = &job.plan;
    let r = plan.task(t, job.m, block.n0, block.width);
    // k-contiguous rows are read in place; only a last partial tile (or a strided A) is packed.
    let direct = job.a.cs == 1;
    let packed_from = if direct { r.i0 + (r.i1 - r.i0) / MR * MR } else { r.i0 };
    // SAFETY (whole body): the caller's contract; every tile below lies inside the task's rectangle, and the
    // packed tiles of the task's rows fit the scratch (m_chunk × kc values).
    unsafe {
        for (p0, kc) in plan.k_blocks(job.k) {
            for (tile, i) in (packed_from..r.i1).step_by(MR).enumerate() {
                pack_a_panel::<S::T, MR>(job.a, i, MR.min(r.i1 - i), p0, kc, scratch.add(tile * MR * kc));
            }
            let last = p0 + kc == job.k;
            for jr in (r.j0..r.j1).step_by(NR) {
                let cols = NR.min(r.j1 - jr);
                let panel = (jr - block.n0) / NR;
                let (b, ldb) = if block.is_packed(panel, NR) {
                    (block.packed_b.add(panel * job.k * NR + p0 * NR).cast_const(), NR as isize)
                } else {
                    (job.b.at(p0, jr), job.b.rs)
                };
                let bias = if last && !job.bias.is_null() { job.bias.add(jr * job.bias_step) } else { std::ptr::null() };
                let out = TileOut {
                    alpha: job.alpha,
                    beta: job.beta,
                    first: p0 == 0,
                    last,
                    bias,
                    bias_step: job.bias_step,
                    activation: job.activation,
                };
                for i in (r.i0..r.i1).step_by(MR) {
                    let acc = if i < packed_from {
                        accumulate::<S, MR, NV, true>(kc, job.a.at(i, p0), job.a.rs, b, ldb)
                    } else {
                        accumulate::<S, MR, NV, false>(kc, scratch.add((i - packed_from) / MR * MR * kc), 0, b, ldb)
                    };
                    let c = job.c.ptr.offset(i as isize * job.c.rs + jr as isize * job.c.cs);
                    write_tile::<S, MR, NV>(&acc, c, job.c.rs, job.c.cs, MR.min(r.i1 - i), cols, &out);
                }
            }
        }
    }
}
