//! Chooses the GEMM crate behind ferronet's rust/gemm.rs by measurement (issue 4, item 1).
//!
//! Compares faer, gemm and matrixmultiply at the engine's shapes, each as ONE single-threaded call per block
//! (the engine splits work over its own pool, one block per thread), in f32 and f64, for the three products of
//! a dense layer: forward X·W, backward dY·Wᵀ and Xᵀ·dY (transposed operands through strides, as ndarray's
//! `.t()` views give them). Candidates run round-robin inside the same loop, best of many repetitions, so that
//! load from other processes hits every crate alike. It also checks partition invariance: a block of output
//! columns (or rows) computed alone must give the same bits as those columns of the full product.
//!
//! Usage: `cargo run --release -- [bench|invariance|all] [--rounds N] [--threads 1|2|both]`.

use std::hint::black_box;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------------------
// The candidates: C ← A·B (beta = 0) with arbitrary strides, single-threaded.
// ---------------------------------------------------------------------------------------------------------

/// A strided matrix operand: pointer plus (rows, cols, row stride, col stride) in elements.
#[derive(Clone, Copy)]
struct View<T> {
    ptr: *const T,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

#[derive(Clone, Copy)]
struct ViewMut<T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

// SAFETY: the views are only shared between the scoped threads of one measurement, which write to disjoint
// blocks of C and only read A and B.
unsafe impl<T> Send for View<T> {}
unsafe impl<T> Sync for View<T> {}
unsafe impl<T> Send for ViewMut<T> {}
unsafe impl<T> Sync for ViewMut<T> {}

impl<T> View<T> {
    /// Rows `r0..r1` of the view.
    fn rows(self, r0: usize, r1: usize) -> Self {
        // SAFETY: r0 <= rows, so the offset stays inside (or one past) the viewed memory.
        View { ptr: unsafe { self.ptr.offset(r0 as isize * self.rs) }, rows: r1 - r0, ..self }
    }
    /// Columns `c0..c1` of the view.
    fn cols(self, c0: usize, c1: usize) -> Self {
        // SAFETY: as above, for columns.
        View { ptr: unsafe { self.ptr.offset(c0 as isize * self.cs) }, cols: c1 - c0, ..self }
    }
}

impl<T> ViewMut<T> {
    fn rows(self, r0: usize, r1: usize) -> Self {
        // SAFETY: as for `View::rows`.
        ViewMut { ptr: unsafe { self.ptr.offset(r0 as isize * self.rs) }, rows: r1 - r0, ..self }
    }
    fn cols(self, c0: usize, c1: usize) -> Self {
        // SAFETY: as for `View::cols`.
        ViewMut { ptr: unsafe { self.ptr.offset(c0 as isize * self.cs) }, cols: c1 - c0, ..self }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Crate {
    Faer,
    Gemm,
    Matrixmultiply,
}

const CRATES: [Crate; 3] = [Crate::Faer, Crate::Gemm, Crate::Matrixmultiply];

impl Crate {
    fn name(self) -> &'static str {
        match self {
            Crate::Faer => "faer",
            Crate::Gemm => "gemm",
            Crate::Matrixmultiply => "matrixmultiply",
        }
    }
}

trait Elem: Copy + Default + PartialEq + Send + Sync + std::fmt::Debug + 'static {
    const NAME: &'static str;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn bits(self) -> u64;
    /// `c ← a·b`, one single-threaded call of crate `which`.
    ///
    /// # Safety
    /// The views must describe valid memory, `a.cols == b.rows`, `c` is `a.rows × b.cols` and does not alias.
    unsafe fn gemm(which: Crate, a: View<Self>, b: View<Self>, c: ViewMut<Self>);
}

macro_rules! impl_elem {
    ($t:ty, $name:literal, $mm:ident) => {
        impl Elem for $t {
            const NAME: &'static str = $name;
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn bits(self) -> u64 {
                self.to_bits() as u64
            }
            unsafe fn gemm(which: Crate, a: View<Self>, b: View<Self>, c: ViewMut<Self>) {
                let (m, k, n) = (a.rows, a.cols, b.cols);
                debug_assert!(b.rows == k && c.rows == m && c.cols == n);
                match which {
                    Crate::Matrixmultiply => unsafe {
                        matrixmultiply::$mm(m, k, n, 1.0, a.ptr, a.rs, a.cs, b.ptr, b.rs, b.cs, 0.0, c.ptr, c.rs, c.cs)
                    },
                    // gemm's convention: dst ← alpha·dst + beta·lhs·rhs, strides given column first.
                    Crate::Gemm => unsafe {
                        gemm::gemm(
                            m,
                            n,
                            k,
                            c.ptr,
                            c.cs,
                            c.rs,
                            false,
                            a.ptr,
                            a.cs,
                            a.rs,
                            b.ptr,
                            b.cs,
                            b.rs,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        )
                    },
                    Crate::Faer => {
                        // SAFETY: forwarded contract of `gemm`.
                        let (lhs, rhs, dst) = unsafe {
                            (
                                faer::MatRef::from_raw_parts(a.ptr, m, k, a.rs, a.cs),
                                faer::MatRef::from_raw_parts(b.ptr, k, n, b.rs, b.cs),
                                faer::MatMut::from_raw_parts_mut(c.ptr, m, n, c.rs, c.cs),
                            )
                        };
                        faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, 1.0, faer::Par::Seq);
                    }
                }
            }
        }
    };
}

impl_elem!(f32, "f32", sgemm);
impl_elem!(f64, "f64", dgemm);

// ---------------------------------------------------------------------------------------------------------
// The layer products, over row-major buffers as the engine holds them.
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    /// Y = X·W: (m×k)·(k×n).
    Forward,
    /// dX = dY·Wᵀ: (m×n)·(n×k), Wᵀ a transposed view of row-major W.
    BackwardData,
    /// dW = Xᵀ·dY: (k×m)·(m×n), Xᵀ a transposed view of row-major X.
    BackwardWeights,
}

const OPS: [Op; 3] = [Op::Forward, Op::BackwardData, Op::BackwardWeights];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Forward => "X·W",
            Op::BackwardData => "dY·Wᵀ",
            Op::BackwardWeights => "Xᵀ·dY",
        }
    }
}

/// Buffers of one layer at batch size m: X (m×k), W (k×n), dY (m×n), all row-major, plus outputs.
struct Layer<T> {
    m: usize,
    k: usize,
    n: usize,
    x: Vec<T>,
    w: Vec<T>,
    dy: Vec<T>,
}

fn xorshift(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    // Uniform in [-1, 1): non-integer values so that any change in summation order shows in the bits.
    (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn random<T: Elem>(len: usize, seed: u64) -> Vec<T> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len).map(|_| T::from_f64(xorshift(&mut state))).collect()
}

impl<T: Elem> Layer<T> {
    fn new(m: usize, k: usize, n: usize, seed: u64) -> Self {
        Layer { m, k, n, x: random(m * k, seed), w: random(k * n, seed + 1), dy: random(m * n, seed + 2) }
    }

    /// Operands and output shape of a product: (A, B, rows of C, cols of C).
    fn operands(&self, op: Op) -> (View<T>, View<T>, usize, usize) {
        let (k, n) = (self.k as isize, self.n as isize);
        let x = View { ptr: self.x.as_ptr(), rows: self.m, cols: self.k, rs: k, cs: 1 };
        let w = View { ptr: self.w.as_ptr(), rows: self.k, cols: self.n, rs: n, cs: 1 };
        let dy = View { ptr: self.dy.as_ptr(), rows: self.m, cols: self.n, rs: n, cs: 1 };
        let t = |v: View<T>| View { rows: v.cols, cols: v.rows, rs: v.cs, cs: v.rs, ..v };
        match op {
            Op::Forward => (x, w, self.m, self.n),
            Op::BackwardData => (dy, t(w), self.m, self.k),
            Op::BackwardWeights => (t(x), dy, self.k, self.n),
        }
    }
}

/// A row-major output buffer and its view.
fn output<T: Elem>(rows: usize, cols: usize) -> (Vec<T>, usize, usize) {
    (vec![T::default(); rows * cols], rows, cols)
}

fn view_mut<T>(buf: &mut [T], rows: usize, cols: usize) -> ViewMut<T> {
    ViewMut { ptr: buf.as_mut_ptr(), rows, cols, rs: cols as isize, cs: 1 }
}

/// The engine's split point: `part/of` of `len`, rounded down to a multiple of 16 when that is not zero.
fn aligned_split(len: usize, part: usize, of: usize) -> usize {
    let raw = len * part / of;
    let aligned = (raw / 16) * 16;
    if aligned == 0 { raw } else { aligned }
}

// ---------------------------------------------------------------------------------------------------------
// Timing.
// ---------------------------------------------------------------------------------------------------------

/// Runs `c ← a·b` `reps` times with crate `which`, on one thread or split into two blocks on two threads
/// (over output columns when C is at least as wide as tall, else over rows, like the engine). Returns seconds
/// per product.
fn time_product<T: Elem>(which: Crate, a: View<T>, b: View<T>, c: ViewMut<T>, threads: usize, reps: usize) -> f64 {
    let start = Instant::now();
    if threads == 1 {
        for _ in 0..reps {
            // SAFETY: the views come from live buffers of matching shapes (see `operands`/`output`).
            unsafe { T::gemm(which, black_box(a), black_box(b), c) };
        }
    } else {
        let blocks = if c.cols >= c.rows {
            let mid = aligned_split(c.cols, 1, 2);
            [(a, b.cols(0, mid), c.cols(0, mid)), (a, b.cols(mid, c.cols), c.cols(mid, c.cols))]
        } else {
            let mid = aligned_split(c.rows, 1, 2);
            [(a.rows(0, mid), b, c.rows(0, mid)), (a.rows(mid, c.rows), b, c.rows(mid, c.rows))]
        };
        std::thread::scope(|scope| {
            for (a, b, c) in blocks {
                scope.spawn(move || {
                    for _ in 0..reps {
                        // SAFETY: as above; the two blocks of C are disjoint.
                        unsafe { T::gemm(which, black_box(a), black_box(b), c) };
                    }
                });
            }
        });
    }
    start.elapsed().as_secs_f64() / reps as f64
}

struct Row {
    dtype: &'static str,
    op: Op,
    m: usize,
    k: usize,
    n: usize,
    threads: usize,
    /// GFLOP/s per crate, in `CRATES` order.
    gflops: [f64; 3],
}

const BATCHES: [usize; 5] = [1, 32, 128, 512, 1024];
const LAYERS: [(usize, usize); 3] = [(784, 256), (256, 128), (128, 10)];

fn bench_dtype<T: Elem>(rounds: usize, thread_counts: &[usize], rows: &mut Vec<Row>) {
    for &threads in thread_counts {
        for &(k, n) in &LAYERS {
            for &m in &BATCHES {
                let layer = Layer::<T>::new(m, k, n, 7);
                for op in OPS {
                    let (a, b, rows_c, cols_c) = layer.operands(op);
                    let (mut buf, r, cc) = output::<T>(rows_c, cols_c);
                    let c = view_mut(&mut buf, r, cc);
                    let flops = 2.0 * (m * k * n) as f64;
                    // Enough repetitions for ~4 ms per sample, calibrated once on matrixmultiply.
                    let once = time_product(Crate::Matrixmultiply, a, b, c, threads, 3);
                    let reps = ((4e-3 / once) as usize).clamp(1, 200_000);
                    let mut best = [f64::INFINITY; 3];
                    for _ in 0..rounds {
                        for (i, &which) in CRATES.iter().enumerate() {
                            best[i] = best[i].min(time_product(which, a, b, c, threads, reps));
                        }
                    }
                    let gflops = best.map(|t| flops / t / 1e9);
                    rows.push(Row { dtype: T::NAME, op, m, k, n, threads, gflops });
                    let last = rows.last().map(format_row).unwrap_or_default();
                    println!("{last}");
                }
            }
        }
    }
}

fn format_row(row: &Row) -> String {
    let [faer, gemm, mm] = row.gflops;
    let best = CRATES[row.gflops.iter().enumerate().fold(0, |bi, (i, g)| if *g > row.gflops[bi] { i } else { bi })];
    format!(
        "| {} | {} | {} | {}×{}×{} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
        row.dtype,
        row.threads,
        row.op.name(),
        row.m,
        row.k,
        row.n,
        row.m,
        faer,
        gemm,
        mm,
        faer / mm,
        gemm / mm,
        best.name()
    )
}

fn table_header() -> &'static str {
    "| dtype | thr | product | m×k×n (layer) | batch | faer GF/s | gemm GF/s | mm GF/s | faer/mm | gemm/mm | best |\n\
     |---|---|---|---|---|---|---|---|---|---|---|"
}

// ---------------------------------------------------------------------------------------------------------
// Correctness and partition invariance.
// ---------------------------------------------------------------------------------------------------------

/// Full product of crate `which` into a fresh buffer.
fn full<T: Elem>(which: Crate, a: View<T>, b: View<T>) -> Vec<T> {
    let (mut buf, r, c) = output::<T>(a.rows, b.cols);
    // SAFETY: fresh output of the right shape; operands from live buffers.
    unsafe { T::gemm(which, a, b, view_mut(&mut buf, r, c)) };
    buf
}

/// The product computed block by block: output columns split at `cuts` (or rows, when `by_rows`), each block
/// one call.
fn blocked<T: Elem>(which: Crate, a: View<T>, b: View<T>, cuts: &[usize], by_rows: bool) -> Vec<T> {
    let (mut buf, r, c) = output::<T>(a.rows, b.cols);
    let out = view_mut(&mut buf, r, c);
    let edges = block_edges(cuts, if by_rows { r } else { c });
    for pair in edges.windows(2) {
        let (lo, hi) = (pair[0], pair[1]);
        // SAFETY: disjoint sub-blocks of a fresh output; sub-views of live operands.
        unsafe {
            if by_rows {
                T::gemm(which, a.rows(lo, hi), b, out.rows(lo, hi));
            } else {
                T::gemm(which, a, b.cols(lo, hi), out.cols(lo, hi));
            }
        }
    }
    buf
}

/// Sorted block boundaries 0 = e0 < e1 < … < len from the cuts that fall inside (0, len).
fn block_edges(cuts: &[usize], len: usize) -> Vec<usize> {
    let mut edges = vec![0];
    edges.extend(cuts.iter().copied().filter(|&x| x > 0 && x < len));
    edges.push(len);
    edges.sort_unstable();
    edges.dedup();
    edges
}

fn same_bits<T: Elem>(x: &[T], y: &[T]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.bits() == q.bits())
}

/// Partitions to try on a dimension of length `len`: cuts giving 1-wide blocks at both edges, odd and aligned
/// cuts, the engine's 2/3/4-way splits, and every element on its own.
fn partitions(len: usize) -> Vec<(String, Vec<usize>)> {
    let mut parts: Vec<(String, Vec<usize>)> = vec![
        ("first 1".into(), vec![1]),
        ("last 1".into(), vec![len.saturating_sub(1)]),
        ("1-wide in the middle".into(), vec![len / 2, len / 2 + 1]),
        ("at 3, 17".into(), vec![3, 17]),
        ("at 8, 24".into(), vec![8, 24]),
        ("at 16".into(), vec![16]),
        ("at 32, 96".into(), vec![32, 96]),
        ("at 48, 112, 176".into(), vec![48, 112, 176]),
    ];
    for blocks in [2, 3, 4] {
        let cuts = (1..blocks).map(|p| aligned_split(len, p, blocks)).collect();
        parts.push((format!("engine {blocks}-way"), cuts));
    }
    parts.push(("every 1".into(), (1..len).collect()));
    parts.retain(|(_, cuts)| cuts.iter().any(|&x| x > 0 && x < len));
    parts
}

/// Returns, per crate, the list of failed (case) descriptions; also checks accuracy against an f64 reference.
fn invariance_dtype<T: Elem>(failures: &mut [Vec<String>; 3], checked: &mut usize, checked_wide: &mut [usize; 3]) {
    let batches = [1, 2, 7, 16, 32, 128, 130, 512];
    let shapes = LAYERS.iter().flat_map(|&(k, n)| batches.map(|m| (m, k, n)));
    for (m, k, n) in shapes {
        let layer = Layer::<T>::new(m, k, n, 11);
        for op in OPS {
            let (a, b, rows_c, cols_c) = layer.operands(op);
            let reference = reference_product(a, b);
            for (i, &which) in CRATES.iter().enumerate() {
                let whole = full(which, a, b);
                let err = whole.iter().zip(&reference).map(|(x, r)| (x.to_f64() - r).abs()).fold(0.0, f64::max);
                let tolerance = if T::NAME == "f32" { 1e-3 } else { 1e-11 };
                assert!(err < tolerance, "{} {} {m}x{k}x{n} {}: max error {err}", which.name(), T::NAME, op.name());
                for by_rows in [false, true] {
                    let len = if by_rows { rows_c } else { cols_c };
                    // "every 1" over 784 rows of a 784×256 output is fine, but skip it on the 512-row shape.
                    for (label, cuts) in partitions(len) {
                        if label == "every 1" && len * (rows_c.max(cols_c)) > 300_000 {
                            continue;
                        }
                        *checked += 1;
                        let narrowest = block_edges(&cuts, len).windows(2).map(|p| p[1] - p[0]).min().unwrap_or(len);
                        let wide = narrowest >= 16;
                        if wide {
                            checked_wide[i] += 1;
                        }
                        if !same_bits(&blocked(which, a, b, &cuts, by_rows), &whole) {
                            let axis = if by_rows { "rows" } else { "cols" };
                            let tag = if wide { "WIDE" } else { "narrow" };
                            failures[i].push(format!(
                                "{} {} C {rows_c}×{cols_c} (m={m}) {axis} {label} [{tag}: narrowest block {narrowest}]",
                                T::NAME,
                                op.name()
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// C = A·B in f64 with a plain loop, as the accuracy reference.
fn reference_product<T: Elem>(a: View<T>, b: View<T>) -> Vec<f64> {
    let mut out = vec![0.0; a.rows * b.cols];
    for i in 0..a.rows {
        for j in 0..b.cols {
            let mut sum = 0.0;
            for p in 0..a.cols {
                // SAFETY: in-bounds indices of live views.
                let (x, y) =
                    unsafe { (*a.ptr.offset(i as isize * a.rs + p as isize * a.cs), *b.ptr.offset(p as isize * b.rs + j as isize * b.cs)) };
                sum += x.to_f64() * y.to_f64();
            }
            out[i * b.cols + j] = sum;
        }
    }
    out
}

fn run_invariance() {
    let mut failures: [Vec<String>; 3] = Default::default();
    let mut checked = 0;
    let mut checked_wide = [0; 3];
    invariance_dtype::<f32>(&mut failures, &mut checked, &mut checked_wide);
    invariance_dtype::<f64>(&mut failures, &mut checked, &mut checked_wide);
    let per_crate = checked / 3;
    println!("\n## Partition invariance ({per_crate} partitions per crate, all products accurate vs f64 reference)\n");
    for (i, which) in CRATES.iter().enumerate() {
        let fails = &failures[i];
        if fails.is_empty() {
            println!("- {}: INVARIANT (0 of {per_crate} partitions differ)", which.name());
        } else {
            let wide = fails.iter().filter(|f| f.contains("WIDE")).count();
            println!(
                "- {}: NOT invariant ({} of {per_crate} partitions differ; {wide} of the {} partitions whose blocks \
                 are all >= 16 wide), e.g.:",
                which.name(),
                fails.len(),
                checked_wide[i]
            );
            let mut shown: Vec<&String> = fails.iter().filter(|f| f.contains("WIDE")).take(6).collect();
            shown.extend(fails.iter().filter(|f| !f.contains("WIDE")).take(6));
            for f in shown {
                println!("    - {f}");
            }
            if std::env::var_os("GEMM_CHOICE_ALL_FAILURES").is_some() {
                for f in fails {
                    eprintln!("{}: {f}", which.name());
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("all");
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let rounds = value("--rounds").and_then(|v| v.parse().ok()).unwrap_or(15);
    let thread_counts: Vec<usize> = match value("--threads").as_deref() {
        Some("1") => vec![1],
        Some("2") => vec![2],
        _ => vec![1, 2],
    };
    let dtypes = value("--dtype").unwrap_or_else(|| "both".into());
    if mode == "invariance" || mode == "all" {
        run_invariance();
    }
    if mode == "bench" || mode == "all" {
        println!("\n## GFLOP/s, best of {rounds} round-robin rounds\n\n{}", table_header());
        let mut rows = Vec::new();
        if dtypes != "f64" {
            bench_dtype::<f32>(rounds, &thread_counts, &mut rows);
        }
        if dtypes != "f32" {
            bench_dtype::<f64>(rounds, &thread_counts, &mut rows);
        }
        summarize(&rows);
    }
}

/// Geometric-mean ratios per dtype, thread count and batch size: the one-line verdicts.
fn summarize(rows: &[Row]) {
    println!("\n## Geometric mean of ratios to matrixmultiply (over the 3 layers × 3 products)\n");
    println!("| dtype | thr | batch | faer/mm | gemm/mm |\n|---|---|---|---|---|");
    for dtype in ["f32", "f64"] {
        for threads in [1, 2] {
            for m in BATCHES {
                let sel: Vec<&Row> = rows.iter().filter(|r| r.dtype == dtype && r.threads == threads && r.m == m).collect();
                if sel.is_empty() {
                    continue;
                }
                let geo = |f: &dyn Fn(&Row) -> f64| (sel.iter().map(|r| f(r).ln()).sum::<f64>() / sel.len() as f64).exp();
                let faer = geo(&|r| r.gflops[0] / r.gflops[2]);
                let gemm = geo(&|r| r.gflops[1] / r.gflops[2]);
                println!("| {dtype} | {threads} | {m} | {faer:.2} | {gemm:.2} |");
            }
        }
    }
}
