//! Chooses the GEMM behind ferronet's `rust/gemm` by measurement: ferronet's own driver (AVX-512 and forced
//! AVX2 paths) against matrixmultiply, faer and gemm (with its AVX-512 kernels), with NumPy/OpenBLAS `@`
//! measured in the same run as the reference, at the engine's shapes, f32 and f64, on 1 and 2 threads.
//!
//! Threads: ferronet runs its own fixed plan on a rayon pool of that size. The crates run under a fixed plan
//! too: C cut into blocks by the shape alone (`fixed_blocks`), one single-threaded call per block, the pool's
//! threads picking blocks. `invariance` checks that every candidate gives the same bits on 1-4 threads, and
//! whether faer's and gemm's own threading does.
//!
//! Usage: `cargo run --release -- [bench|invariance|all] [--rounds N] [--threads 1|2] [--dtype f32|f64]
//! [--only SUBSTRING]`. Samples of ~5 ms, candidates round-robin, best of N rounds.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use _core::cpu::Isa;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};
use rayon::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Candidate {
    Ferronet(Isa),
    Matrixmultiply,
    Faer,
    Gemm,
    /// faer with its own threading (only for the invariance check).
    FaerOwnThreads,
    /// gemm with its own threading (only for the invariance check).
    GemmOwnThreads,
}

const TIMED: [Candidate; 5] =
    [Candidate::Ferronet(Isa::Avx512), Candidate::Ferronet(Isa::Avx2), Candidate::Matrixmultiply, Candidate::Faer, Candidate::Gemm];

impl Candidate {
    fn name(self) -> String {
        match self {
            Candidate::Ferronet(isa) => format!("ferronet-{}", isa.name()),
            Candidate::Matrixmultiply => "matrixmultiply".into(),
            Candidate::Faer => "faer".into(),
            Candidate::Gemm => "gemm".into(),
            Candidate::FaerOwnThreads => "faer (own threads)".into(),
            Candidate::GemmOwnThreads => "gemm (own threads)".into(),
        }
    }
}

trait Elem: _core::scalar::Real + faer::traits::ComplexField {
    fn mm(m: usize, k: usize, n: usize, a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>);
    fn bits(self) -> u64;
}

impl Elem for f32 {
    fn mm(m: usize, k: usize, n: usize, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, mut c: ArrayViewMut2<'_, f32>) {
        let (sa, sb, sc) = (strides(&a), strides(&b), (c.stride_of(Axis(0)), c.stride_of(Axis(1))));
        // SAFETY: views of matching shapes (checked by ndarray at construction); C is unique.
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), sa.0, sa.1, b.as_ptr(), sb.0, sb.1, 0.0, c.as_mut_ptr(), sc.0, sc.1) }
    }
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}

impl Elem for f64 {
    fn mm(m: usize, k: usize, n: usize, a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, mut c: ArrayViewMut2<'_, f64>) {
        let (sa, sb, sc) = (strides(&a), strides(&b), (c.stride_of(Axis(0)), c.stride_of(Axis(1))));
        // SAFETY: as for f32.
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a.as_ptr(), sa.0, sa.1, b.as_ptr(), sb.0, sb.1, 0.0, c.as_mut_ptr(), sc.0, sc.1) }
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

fn strides<T>(v: &ArrayView2<'_, T>) -> (isize, isize) {
    (v.stride_of(Axis(0)), v.stride_of(Axis(1)))
}

/// One single-threaded call of a crate (or, with `threads`, its own threading): C ← A·B.
fn crate_call<T: Elem>(which: Candidate, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>, threads: usize) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m == 0 || n == 0 {
        return;
    }
    match which {
        Candidate::Matrixmultiply => T::mm(m, k, n, a, b, c),
        Candidate::Gemm | Candidate::GemmOwnThreads => {
            let par = if which == Candidate::Gemm { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(threads) };
            let (sa, sb, sc) = (strides(&a), strides(&b), (c.stride_of(Axis(0)), c.stride_of(Axis(1))));
            // SAFETY: as for matrixmultiply. gemm's convention: dst ← alpha·dst + beta·lhs·rhs (alpha and beta
            // swapped against BLAS), strides column first; alpha is ignored when read_dst is false.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    sc.1,
                    sc.0,
                    false,
                    a.as_ptr(),
                    sa.1,
                    sa.0,
                    b.as_ptr(),
                    sb.1,
                    sb.0,
                    T::zero(),
                    T::one(),
                    false,
                    false,
                    false,
                    par,
                )
            }
        }
        Candidate::Faer | Candidate::FaerOwnThreads => {
            let par = if which == Candidate::Faer { faer::Par::Seq } else { faer::Par::rayon(threads) };
            let (sa, sb, sc) = (strides(&a), strides(&b), (c.stride_of(Axis(0)), c.stride_of(Axis(1))));
            // SAFETY: as for matrixmultiply.
            let (lhs, rhs, dst) = unsafe {
                (
                    faer::MatRef::from_raw_parts(a.as_ptr(), m, k, sa.0, sa.1),
                    faer::MatRef::from_raw_parts(b.as_ptr(), k, n, sb.0, sb.1),
                    faer::MatMut::from_raw_parts_mut(c.as_mut_ptr(), m, n, sc.0, sc.1),
                )
            };
            faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, T::one(), par);
        }
        Candidate::Ferronet(_) => unreachable!("not a crate"),
    }
}

/// The crates' fixed plan: C cut into blocks of columns (or rows, when taller than wide) by the shape alone,
/// 16-aligned, one block per 2^20 multiply-adds up to 4.
fn fixed_blocks(m: usize, k: usize, n: usize) -> Vec<(usize, usize)> {
    let blocks = ((m * k * n) >> 20).clamp(1, 4);
    let len = m.max(n);
    let edges: Vec<usize> = (0..=blocks).map(|b| if b == blocks { len } else { len * b / blocks / 16 * 16 }).collect();
    edges.windows(2).map(|w| (w[0], w[1])).filter(|(lo, hi)| hi > lo).collect()
}

/// C ← A·B with a candidate, on the current rayon pool.
fn product<T: Elem>(which: Candidate, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    match which {
        Candidate::Ferronet(isa) => {
            if let Err(e) = _core::gemm::gemm_on(isa, T::one(), a, b, T::zero(), c) {
                panic!("{e}");
            }
        }
        Candidate::FaerOwnThreads | Candidate::GemmOwnThreads => crate_call(which, a, b, c, rayon::current_num_threads()),
        _ => {
            let by_columns = n >= m;
            let blocks = fixed_blocks(m, k, n);
            let (ptr, (rs, cs)) = (c.as_mut_ptr() as usize, (c.stride_of(Axis(0)), c.stride_of(Axis(1))));
            blocks.par_iter().for_each(|&(lo, hi)| {
                // SAFETY: the blocks of C are disjoint; each task rebuilds its own block from the shared pointer.
                let (rows, cols, offset) = if by_columns { (m, hi - lo, lo as isize * cs) } else { (hi - lo, n, lo as isize * rs) };
                let c_block = unsafe {
                    ArrayViewMut2::from_shape_ptr((rows, cols).strides((rs as usize, cs as usize)), (ptr as *mut T).offset(offset))
                };
                if by_columns {
                    crate_call(which, a, b.slice(ndarray::s![.., lo..hi]), c_block, 1);
                } else {
                    crate_call(which, a.slice(ndarray::s![lo..hi, ..]), b, c_block, 1);
                }
            });
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Forward,
    InputGrad,
    WeightGrad,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Forward => "X·W",
            Op::InputGrad => "dY·Wᵀ",
            Op::WeightGrad => "Xᵀ·dY",
        }
    }
    /// The NumPy expression over arrays `p` and `q` stored as the engine stores them.
    fn numpy(self) -> &'static str {
        match self {
            Op::Forward => "p @ q",
            Op::InputGrad => "p @ q.T",
            Op::WeightGrad => "p.T @ q",
        }
    }
}

/// (op, m, k, n) of the product C (m × n) = A (m × k) · B (k × n).
fn shapes() -> Vec<(Op, usize, usize, usize)> {
    let mut s = Vec::new();
    for m in [32, 128, 512] {
        for (k, n) in [(784, 256), (256, 128), (128, 10)] {
            s.push((Op::Forward, m, k, n));
        }
        for (k, n) in [(256, 784), (128, 256)] {
            s.push((Op::InputGrad, m, k, n));
        }
        for (mm, nn) in [(784, 256), (256, 128)] {
            s.push((Op::WeightGrad, mm, m, nn));
        }
    }
    s.extend([(Op::Forward, 128, 8, 256), (Op::Forward, 128, 256, 1), (Op::Forward, 2048, 2048, 2048)]);
    s
}

fn noise<T: Elem>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_fn((rows, cols), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        T::of((state >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
    })
}

/// The operands as the engine holds them: (p, q) row-major, and the views A, B of the product.
struct Operands<T> {
    p: Array2<T>,
    q: Array2<T>,
    op: Op,
}

impl<T: Elem> Operands<T> {
    fn new(op: Op, m: usize, k: usize, n: usize) -> Self {
        let (p, q) = match op {
            Op::Forward => (noise(m, k, 1), noise(k, n, 2)),
            Op::InputGrad => (noise(m, k, 1), noise(n, k, 2)),
            Op::WeightGrad => (noise(k, m, 1), noise(k, n, 2)),
        };
        Operands { p, q, op }
    }
    fn views(&self) -> (ArrayView2<'_, T>, ArrayView2<'_, T>) {
        match self.op {
            Op::Forward => (self.p.view(), self.q.view()),
            Op::InputGrad => (self.p.view(), self.q.t()),
            Op::WeightGrad => (self.p.t(), self.q.view()),
        }
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool,
        Err(e) => panic!("pool: {e}"),
    }
}

/// Seconds per product, `reps` products.
fn time<T: Elem>(which: Candidate, ops: &Operands<T>, c: &mut Array2<T>, reps: usize) -> f64 {
    let (a, b) = ops.views();
    let start = Instant::now();
    for _ in 0..reps {
        product(which, black_box(a), black_box(b), c.view_mut());
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// OpenBLAS kernel sets NumPy is measured with: its AVX2 one (what this machine's environment selects with
/// OPENBLAS_CORETYPE=Haswell) and its AVX-512 one.
const OPENBLAS_CORES: [&str; 2] = ["Haswell", "SkylakeX"];

/// NumPy's best time for the same product, in a fresh process with OpenBLAS on `threads` threads.
#[allow(clippy::too_many_arguments)]
fn numpy_seconds(op: Op, m: usize, k: usize, n: usize, dtype: &str, threads: usize, samples: usize, reps: usize, core: &str) -> f64 {
    let (pshape, qshape) = match op {
        Op::Forward => ((m, k), (k, n)),
        Op::InputGrad => ((m, k), (n, k)),
        Op::WeightGrad => ((k, m), (k, n)),
    };
    let script = format!(
        "import numpy as np, time\n\
         r = np.random.default_rng(1)\n\
         p = r.uniform(-1, 1, {pshape:?}).astype(np.{dtype}); q = r.uniform(-1, 1, {qshape:?}).astype(np.{dtype})\n\
         {e}\n\
         best = 1e9\n\
         for _ in range({samples}):\n\
         \x20   t = time.perf_counter()\n\
         \x20   for _ in range({reps}): {e}\n\
         \x20   best = min(best, (time.perf_counter() - t) / {reps})\n\
         print(best)",
        dtype = if dtype == "f32" { "float32" } else { "float64" },
        e = op.numpy(),
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .env("OPENBLAS_NUM_THREADS", threads.to_string())
        .env("OPENBLAS_CORETYPE", core)
        .output();
    output.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(f64::NAN)
}

fn bench<T: Elem>(rounds: usize, threads: usize, only: &str) {
    let pool = pool(threads);
    for (op, m, k, n) in shapes() {
        let label = format!("{} {m}×{k}×{n}", op.name());
        if !label.contains(only) {
            continue;
        }
        let ops = Operands::<T>::new(op, m, k, n);
        let mut c = Array2::<T>::zeros((m, n));
        let flops = 2.0 * (m * k * n) as f64;
        let candidates: Vec<Candidate> =
            TIMED.iter().copied().filter(|c| !matches!(c, Candidate::Ferronet(isa) if !isa.available())).collect();
        let mut best = vec![f64::INFINITY; candidates.len()];
        let (reps, numpy) = pool.install(|| {
            let once = time(Candidate::Ferronet(Isa::Avx2), &ops, &mut c, 2);
            let reps = ((5e-3 / once) as usize).clamp(1, 100_000);
            let rounds = if flops > 1e9 { rounds.min(5) } else { rounds };
            let mut numpy = [f64::INFINITY; 2];
            for round in 0..rounds {
                for (slot, &which) in best.iter_mut().zip(&candidates) {
                    *slot = slot.min(time(which, &ops, &mut c, reps));
                }
                // NumPy in the middle of the rounds and at the end, so it sees the same load.
                if round == rounds / 2 || round + 1 == rounds {
                    for (slot, core) in numpy.iter_mut().zip(OPENBLAS_CORES) {
                        let seconds = numpy_seconds(op, m, k, n, T::NAME_SHORT, threads, (rounds / 2).max(2), reps, core);
                        *slot = slot.min(seconds);
                    }
                }
            }
            (reps, numpy)
        });
        let gf = |s: f64| flops / s / 1e9;
        let cells: Vec<String> = best.iter().map(|&s| format!("{:.1}", gf(s))).collect();
        let ours = |isa: Isa| candidates.iter().position(|&c| c == Candidate::Ferronet(isa)).map_or(f64::NAN, |i| gf(best[i]));
        let [np_avx2, np_avx512] = numpy.map(gf);
        println!(
            "| {} | {threads} | {label} | {np_avx512:.1} | {np_avx2:.1} | {} | {:.2} | {:.2} | {reps} |",
            T::NAME_SHORT,
            cells.join(" | "),
            ours(Isa::Avx512) / np_avx512,
            ours(Isa::Avx2) / np_avx2
        );
    }
}

trait ShortName {
    const NAME_SHORT: &'static str;
}
impl<T: _core::scalar::Real> ShortName for T {
    const NAME_SHORT: &'static str = if std::mem::size_of::<T>() == 4 { "f32" } else { "f64" };
}

/// Whether each candidate gives the same bits on 1, 2, 3 and 4 threads.
fn invariance<T: Elem>() {
    let pools: Vec<_> = (1..=4).map(pool).collect();
    let mut candidates: Vec<Candidate> = TIMED.to_vec();
    candidates.extend([Candidate::FaerOwnThreads, Candidate::GemmOwnThreads]);
    for which in candidates {
        if matches!(which, Candidate::Ferronet(isa) if !isa.available()) {
            continue;
        }
        let mut differ = Vec::new();
        let mut checked = 0;
        for (op, m, k, n) in shapes().into_iter().filter(|&(_, m, k, n)| m * k * n < 1 << 28) {
            let ops = Operands::<T>::new(op, m, k, n);
            let (a, b) = ops.views();
            let run = |pool: &rayon::ThreadPool| {
                let mut c = Array2::<T>::zeros((m, n).f());
                pool.install(|| product(which, a, b, c.view_mut()));
                c.iter().map(|v| v.bits()).collect::<Vec<_>>()
            };
            let one = run(&pools[0]);
            for (t, pool) in pools.iter().enumerate().skip(1) {
                checked += 1;
                if run(pool) != one {
                    differ.push(format!("{} {m}×{k}×{n} on {} threads", op.name(), t + 1));
                }
            }
        }
        let verdict = if differ.is_empty() {
            "INVARIANT".to_string()
        } else {
            format!("differs in {} cases, e.g. {:?}", differ.len(), &differ[..differ.len().min(3)])
        };
        println!("- {} {}: {verdict} ({checked} comparisons with 1 thread)", T::NAME_SHORT, which.name());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("all");
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let rounds = value("--rounds").and_then(|v| v.parse().ok()).unwrap_or(10);
    let threads: Vec<usize> = value("--threads").map_or(vec![1, 2], |t| t.split(',').filter_map(|x| x.parse().ok()).collect());
    let dtype = value("--dtype").unwrap_or_default();
    let only = value("--only").unwrap_or_default();
    if mode == "small" {
        for (m, k, n) in [(1, 784, 256), (8, 784, 256), (32, 784, 256), (128, 256, 1)] {
            let (x, w) = (noise::<f32>(m, k, 1), noise::<f32>(k, n, 2));
            let mut c = Array2::<f32>::zeros((m, n));
            for which in [Candidate::Ferronet(Isa::Avx512), Candidate::Faer, Candidate::Matrixmultiply] {
                let t = pool(1).install(|| {
                    let mut best = f64::INFINITY;
                    for _ in 0..3000 {
                        let start = Instant::now();
                        product(which, x.view(), w.view(), c.view_mut());
                        best = best.min(start.elapsed().as_secs_f64());
                    }
                    best
                });
                println!("{m}x{k}x{n} {}: {:.1} us", which.name(), t * 1e6);
            }
        }
        return;
    }
    if mode == "fresh" {
        fresh_outputs();
        return;
    }
    if mode == "invariance" || mode == "all" {
        println!("## Same bits on 1-4 threads\n");
        if dtype != "f64" {
            invariance::<f32>();
        }
        if dtype != "f32" {
            invariance::<f64>();
        }
    }
    if mode == "bench" || mode == "all" {
        let names: Vec<String> =
            TIMED.iter().filter(|c| !matches!(c, Candidate::Ferronet(isa) if !isa.available())).map(|c| c.name()).collect();
        println!("\n## GFLOP/s, best of {rounds} round-robin rounds\n");
        println!(
            "| dtype | thr | product m×k×n | NumPy AVX-512 | NumPy AVX2 | {} | ours-avx512 / NumPy AVX-512 | ours-avx2 / NumPy AVX2 | reps |",
            names.join(" | ")
        );
        println!("|---|---|---|---|---|{}---|---|---|", "---|".repeat(names.len()));
        for &t in &threads {
            if dtype != "f64" {
                bench::<f32>(rounds, t, &only);
            }
            if dtype != "f32" {
                bench::<f64>(rounds, t, &only);
            }
        }
    }
}

/// The engine's forward as Python calls it: a fresh (calloc'd) output per call, in the engine's pool, against
/// the same product into a reused output.
fn fresh_outputs() {
    let (m, k, n) = (512, 784, 256);
    let (x, w) = (noise::<f32>(m, k, 1), noise::<f32>(k, n, 2));
    let bias = vec![0.5f32; n];
    for threads in [1, 2] {
        let pool = pool(threads);
        let mut reused = Array2::<f32>::zeros((m, n));
        let (mut best_fresh, mut best_reused) = (f64::INFINITY, f64::INFINITY);
        pool.install(|| {
            for _ in 0..300 {
                let t = Instant::now();
                let mut fresh = Array2::<f32>::zeros((m, n));
                _core::gemm::gemm_bias_act(x.view(), w.view(), &bias, _core::kernels::activation::Activation::Linear, fresh.view_mut())
                    .ok();
                black_box(&fresh);
                best_fresh = best_fresh.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                _core::gemm::gemm_bias_act(x.view(), w.view(), &bias, _core::kernels::activation::Activation::Linear, reused.view_mut())
                    .ok();
                best_reused = best_reused.min(t.elapsed().as_secs_f64());
            }
        });
        let gf = |s: f64| 2.0 * (m * k * n) as f64 / s / 1e9;
        println!("{threads} threads: fresh output {:.0} GF/s, reused output {:.0} GF/s", gf(best_fresh), gf(best_reused));
    }
}
