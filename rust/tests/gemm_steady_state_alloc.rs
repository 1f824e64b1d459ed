//! The GEMM driver allocates nothing in the steady state: its packing buffers are per thread and reused. A
//! counting global allocator watches repeated products (plain, fused forward, weight gradient) on pools of 1 to
//! 4 threads, after a warm-up that lets every thread's buffers grow to the sizes in use.

#![allow(clippy::expect_used)] // a test: a failed setup step should stop it with its message

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use _core::cpu::Isa;
use _core::gemm::{gemm_bias_act_on, gemm_on, gemm_weight_grad_on};
use _core::kernels::activation::Activation;
use ndarray::Array2;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; we only count.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The three products of a dense layer at one shape, `rounds` times.
fn layer_products(isa: Isa, m: usize, k: usize, n: usize, rounds: usize, bufs: &mut Buffers) {
    for _ in 0..rounds {
        gemm_bias_act_on(isa, bufs.x.view(), bufs.w.view(), &bufs.bias, Activation::Relu, bufs.out.view_mut()).expect("forward");
        gemm_on(isa, 1.0, bufs.dy.view(), bufs.w.t(), 0.0, bufs.dx.view_mut()).expect("input gradient");
        gemm_weight_grad_on(isa, bufs.x.view(), bufs.dy.view(), bufs.dw.view_mut(), &mut bufs.db).expect("weight gradient");
    }
    assert_eq!(bufs.out.dim(), (m, n));
    assert_eq!(bufs.dw.dim(), (k, n));
}

struct Buffers {
    x: Array2<f32>,
    w: Array2<f32>,
    dy: Array2<f32>,
    bias: Vec<f32>,
    out: Array2<f32>,
    dx: Array2<f32>,
    dw: Array2<f32>,
    db: Vec<f32>,
}

fn buffers(m: usize, k: usize, n: usize) -> Buffers {
    Buffers {
        x: Array2::from_shape_fn((m, k), |(i, j)| ((i + 2 * j) % 7) as f32 - 3.0),
        w: Array2::from_shape_fn((k, n), |(i, j)| ((3 * i + j) % 5) as f32 - 2.0),
        dy: Array2::from_shape_fn((m, n), |(i, j)| ((i + j) % 3) as f32 - 1.0),
        bias: vec![0.5; n],
        out: Array2::zeros((m, n)),
        dx: Array2::zeros((m, k)),
        dw: Array2::zeros((k, n)),
        db: vec![0.0; n],
    }
}

#[test]
fn products_allocate_nothing_once_warm() {
    let shapes = [(96, 300, 70), (32, 64, 48), (40, 128, 10), (7, 3, 5)];
    for threads in 1..=4 {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        for isa in Isa::all_available() {
            let mut all: Vec<_> = shapes.iter().map(|&(m, k, n)| (m, k, n, buffers(m, k, n))).collect();
            // Warm-up: any thread may run any task, or drive a product while it waits for another (a nested use
            // of its buffers): every thread drives the products itself, all at once, until its buffers have grown.
            pool.broadcast(|_| {
                for &(m, k, n) in &shapes {
                    layer_products(isa, m, k, n, 4, &mut buffers(m, k, n));
                }
            });
            pool.install(|| {
                for (m, k, n, bufs) in &mut all {
                    layer_products(isa, *m, *k, *n, 4, bufs);
                }
                ALLOCATIONS.store(0, Ordering::SeqCst);
                COUNTING.store(true, Ordering::SeqCst);
                for (m, k, n, bufs) in &mut all {
                    layer_products(isa, *m, *k, *n, 2, bufs);
                }
                COUNTING.store(false, Ordering::SeqCst);
            });
            let count = ALLOCATIONS.load(Ordering::SeqCst);
            assert_eq!(count, 0, "{isa:?} on {threads} threads: {count} allocations in 24 warm products");
        }
    }
}
