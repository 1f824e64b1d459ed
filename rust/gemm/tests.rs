//! The driver against a naive product on every instruction set this machine has, at 1-4 threads.

use ndarray::{Array2, ArrayView2, s};

use super::*;
use crate::kernels::dense::{bias_activation, column_sums};

fn naive(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    let (m, k) = a.dim();
    Array2::from_shape_fn((m, b.ncols()), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
}

/// Small integers: every product and sum is exact in f64 (and in f32 up to 2^24).
fn integers(rows: usize, cols: usize, seed: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 31 + j * 17 + seed * 7) % 13) as f64 - 6.0)
}

/// Values whose rounding shows any change in the order of operations.
fn noisy(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 7 + j * 3 + seed) as f32 * 0.618).sin() * 0.37)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

const SHAPES: [(usize, usize, usize); 12] = [
    (1, 1, 1),
    (3, 5, 7),
    (17, 1, 2),
    (1, 300, 1),
    (13, 33, 65),
    (64, 33, 129),
    (100, 600, 10),
    (128, 8, 256),
    (128, 256, 1),
    (300, 40, 200),
    (37, 1000, 61),
    (250, 257, 77),
];

#[test]
fn matches_naive_product_on_every_instruction_set() -> Result<()> {
    for isa in Isa::all_available() {
        for (m, k, n) in SHAPES {
            let (a, b) = (integers(m, k, 1), integers(k, n, 2));
            let expected = naive(a.view(), b.view());
            let mut c = Array2::<f64>::from_elem((m, n), f64::NAN);
            gemm_on(isa, 1.0, a.view(), b.view(), 0.0, c.view_mut())?;
            assert_eq!(c, expected, "{isa:?} f64 {m}x{k}x{n}");
            let mut c32 = Array2::<f32>::from_elem((m, n), f32::NAN);
            gemm_on(isa, 1.0, a.mapv(|v| v as f32).view(), b.mapv(|v| v as f32).view(), 0.0, c32.view_mut())?;
            assert_eq!(c32.mapv(f64::from), expected, "{isa:?} f32 {m}x{k}x{n}");
        }
    }
    Ok(())
}

#[test]
fn f32_is_within_rounding_of_the_f64_product() -> Result<()> {
    for isa in Isa::all_available() {
        for (m, k, n) in [(128, 784, 96), (33, 129, 47)] {
            let (a, b) = (noisy(m, k, 1), noisy(k, n, 2));
            let mut c = Array2::<f32>::zeros((m, n));
            gemm_on(isa, 1.0, a.view(), b.view(), 0.0, c.view_mut())?;
            let expected = naive(a.mapv(f64::from).view(), b.mapv(f64::from).view());
            let worst = c.iter().zip(&expected).map(|(&x, &y)| (f64::from(x) - y).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-4 * k as f64, "{isa:?} {m}x{k}x{n}: {worst}");
        }
    }
    Ok(())
}

#[test]
fn transposed_and_strided_views() -> Result<()> {
    for isa in Isa::all_available() {
        for (m, k, n) in [(13, 33, 65), (64, 130, 40), (5, 3, 2)] {
            let (a, b) = (integers(m, k, 3), integers(k, n, 4));
            let expected = naive(a.view(), b.view());
            // Aᵀ and Bᵀ stored, viewed transposed (column-major operands, as the backward passes see them).
            let (at, bt) = (a.t().to_owned(), b.t().to_owned());
            let mut c = Array2::<f64>::zeros((m, n));
            gemm_on(isa, 1.0, at.t(), bt.t(), 0.0, c.view_mut())?;
            assert_eq!(c, expected, "{isa:?} transposed {m}x{k}x{n}");
            // Every other row and column of larger matrices, into a strided and a transposed C.
            let (a2, b2) = (integers(2 * m, 2 * k, 3), integers(2 * k, 2 * n, 4));
            let (a_s, b_s) = (a2.slice(s![..;2, ..;2]), b2.slice(s![..;2, ..;2]));
            let expected = naive(a_s, b_s);
            let mut big = Array2::<f64>::zeros((2 * m, 3 * n));
            gemm_on(isa, 1.0, a_s, b_s, 0.0, big.slice_mut(s![..;2, ..;3]))?;
            assert_eq!(big.slice(s![..;2, ..;3]), expected, "{isa:?} strided {m}x{k}x{n}");
            let mut ct = Array2::<f64>::zeros((n, m));
            gemm_on(isa, 1.0, a_s, b_s, 0.0, ct.view_mut().reversed_axes())?;
            assert_eq!(ct.t(), expected, "{isa:?} into Cᵀ {m}x{k}x{n}");
        }
    }
    Ok(())
}

#[test]
fn alpha_beta_nan_in_c_and_empty_shapes() -> Result<()> {
    for isa in Isa::all_available() {
        let (a, b) = (integers(40, 300, 5), integers(300, 70, 6));
        let product = naive(a.view(), b.view());
        let mut c = integers(40, 70, 7);
        let c0 = c.clone();
        gemm_on(isa, 2.0, a.view(), b.view(), 0.5, c.view_mut())?;
        assert_eq!(c, &product * 2.0 + &c0 * 0.5, "{isa:?} alpha 2 beta 0.5 (three k-blocks)");
        let mut c = c0.clone();
        gemm_on(isa, 1.0, a.view(), b.view(), 1.0, c.view_mut())?;
        assert_eq!(c, &product + &c0, "{isa:?} beta 1");
        let mut c = Array2::from_elem((40, 70), f64::NAN);
        gemm_on(isa, 1.0, a.view(), b.view(), 0.0, c.view_mut())?;
        assert_eq!(c, product, "{isa:?} beta 0 must not read C");
        // k = 0: C ← beta·C.
        let mut c = c0.clone();
        gemm_on(isa, 1.0, Array2::<f64>::zeros((40, 0)).view(), Array2::<f64>::zeros((0, 70)).view(), 0.5, c.view_mut())?;
        assert_eq!(c, &c0 * 0.5);
        let mut c = Array2::from_elem((40, 70), f64::NAN);
        gemm_on(isa, 1.0, Array2::<f64>::zeros((40, 0)).view(), Array2::<f64>::zeros((0, 70)).view(), 0.0, c.view_mut())?;
        assert!(c.iter().all(|&v| v == 0.0));
        // m = 0 or n = 0: nothing to do, and no error.
        let mut empty = Array2::<f64>::zeros((0, 70));
        gemm_on(isa, 1.0, Array2::<f64>::zeros((0, 300)).view(), b.view(), 0.0, empty.view_mut())?;
        let mut empty = Array2::<f64>::zeros((40, 0));
        gemm_on(isa, 1.0, a.view(), Array2::<f64>::zeros((300, 0)).view(), 0.0, empty.view_mut())?;
    }
    Ok(())
}

#[test]
fn rejects_mismatched_shapes() {
    let a = Array2::<f32>::zeros((2, 3));
    let b = Array2::<f32>::zeros((4, 5));
    let mut c = Array2::<f32>::zeros((2, 5));
    assert!(matches!(gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()), Err(Error::Shape { .. })));
    let b = Array2::<f32>::zeros((3, 5));
    assert!(gemm_bias_act(a.view(), b.view(), &[0.0; 4], Activation::Relu, c.view_mut()).is_err());
    let mut dw = Array2::<f32>::zeros((3, 5));
    let dy = Array2::<f32>::zeros((2, 5));
    assert!(gemm_weight_grad(a.view(), dy.view(), dw.view_mut(), &mut [0.0; 4]).is_err());
}

/// The fused forward equals gemm + `bias_activation` bit for bit (same operations, same order).
#[test]
fn bias_and_activation_match_the_unfused_path() -> Result<()> {
    for isa in Isa::all_available() {
        for (m, k, n) in [(48, 300, 100), (37, 300, 10), (5, 7, 33), (41, 70, 1), (1, 70, 41)] {
            let (x, w) = (noisy(m, k, 1) * 4.0, noisy(k, n, 2));
            let bias: Vec<f32> = (0..n).map(|j| (j as f32 * 0.37).cos() * 0.5).collect();
            for activation in Activation::ALL {
                let mut fused = Array2::<f32>::from_elem((m, n), f32::NAN);
                gemm_bias_act_on(isa, x.view(), w.view(), &bias, activation, fused.view_mut())?;
                let mut unfused = Array2::<f32>::zeros((m, n));
                gemm_on(isa, 1.0, x.view(), w.view(), 0.0, unfused.view_mut())?;
                bias_activation(unfused.as_slice_mut().unwrap(), &bias, activation)?;
                assert_eq!(fused, unfused, "{isa:?} {activation:?} {m}x{k}x{n}");
                // A strided output takes the element-by-element path: same bits.
                let mut strided = Array2::<f32>::zeros((n, m));
                gemm_bias_act_on(isa, x.view(), w.view(), &bias, activation, strided.view_mut().reversed_axes())?;
                assert_eq!(strided.t(), unfused, "{isa:?} {activation:?} {m}x{k}x{n} into a transposed output");
            }
        }
    }
    Ok(())
}

#[test]
fn weight_gradient_and_bias_gradient_in_one_pass() -> Result<()> {
    for isa in Isa::all_available() {
        // fan_out = 1: the product with column sums runs directly, the plain one transposed (Cᵀ = dYᵀ·X): same bits.
        for (rows, fan_in, fan_out) in [(64, 300, 96), (33, 7, 10), (1, 5, 3), (0, 4, 6), (70, 300, 1), (700, 9, 1)] {
            let (x, dy) = (noisy(rows, fan_in, 1), noisy(rows, fan_out, 2));
            let (mut dw, mut db) = (Array2::<f32>::from_elem((fan_in, fan_out), f32::NAN), vec![f32::NAN; fan_out]);
            gemm_weight_grad_on(isa, x.view(), dy.view(), dw.view_mut(), &mut db)?;
            let mut expected_dw = Array2::<f32>::zeros((fan_in, fan_out));
            gemm_on(isa, 1.0, x.t(), dy.view(), 0.0, expected_dw.view_mut())?;
            let mut expected_db = vec![0.0; fan_out];
            column_sums(dy.view(), &mut expected_db);
            assert_eq!(dw, expected_dw, "{isa:?} dW {rows}x{fan_in}x{fan_out}");
            assert_eq!(db, expected_db, "{isa:?} db {rows}x{fan_in}x{fan_out}");
            // dY as a transposed view: the column sums come from the column-by-column packing.
            let dy_t = dy.t().to_owned();
            gemm_weight_grad_on(isa, x.view(), dy_t.t(), dw.view_mut(), &mut db)?;
            assert_eq!(db, expected_db, "{isa:?} db from a transposed dY");
        }
    }
    Ok(())
}

/// The fixed plan: 1, 2, 3 and 4 threads give the same bits, for the three products of a dense layer and the
/// fused variants.
#[test]
fn identical_bits_on_1_to_4_threads() -> Result<()> {
    let shapes =
        [(100, 600, 130), (32, 784, 64), (128, 256, 128), (37, 129, 61), (300, 128, 10), (130, 300, 200), (600, 256, 1), (1, 784, 256)];
    let pools: Vec<_> = (1..=4).map(pool).collect();
    for isa in Isa::all_available() {
        for (m, k, n) in shapes {
            let (x, w, dy) = (noisy(m, k, 1), noisy(k, n, 2), noisy(m, n, 3));
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01).collect();
            let run = |pool: &rayon::ThreadPool| -> Result<_> {
                pool.install(|| {
                    let mut forward = Array2::<f32>::zeros((m, n));
                    gemm_bias_act_on(isa, x.view(), w.view(), &bias, Activation::Tanh, forward.view_mut())?;
                    let mut dx = Array2::<f32>::zeros((m, k));
                    gemm_on(isa, 1.0, dy.view(), w.t(), 0.0, dx.view_mut())?;
                    let (mut dw, mut db) = (Array2::<f32>::zeros((k, n)), vec![0.0; n]);
                    gemm_weight_grad_on(isa, x.view(), dy.view(), dw.view_mut(), &mut db)?;
                    Ok((forward, dx, dw, db))
                })
            };
            let serial = run(&pools[0])?;
            for (threads, pool) in pools.iter().enumerate().skip(1) {
                assert!(run(pool)? == serial, "{isa:?} {m}x{k}x{n}: {} threads differ from 1", threads + 1);
            }
        }
    }
    Ok(())
}

#[test]
fn plans_ignore_the_thread_count() {
    // The plan's inputs are the shapes and the kernel's parameters, nothing else: a compile-time fact, pinned
    // here by building the same plan from inside pools of different sizes.
    let params = f32::entries(Isa::Generic, 512, 256).params;
    let plans: Vec<_> = (1..=4).map(|t| pool(t).install(|| Plan::new(512, 256, 784, params))).collect();
    assert!(plans.windows(2).all(|w| w[0] == w[1]));
}
