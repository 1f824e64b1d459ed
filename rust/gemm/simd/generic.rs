//! Portable vectors: arrays the compiler vectorizes for whatever the build targets (SSE2 on baseline x86_64).

use super::Simd;

/// `L` lanes of f32 or f64 as a plain array.
#[derive(Clone, Copy)]
pub struct Generic<T, const L: usize>(std::marker::PhantomData<T>);

pub type GenericF32 = Generic<f32, 8>;
pub type GenericF64 = Generic<f64, 4>;

#[inline(always)]
fn lanes<T: Copy, const L: usize>(a: [T; L], b: [T; L], f: impl Fn(T, T) -> T) -> [T; L] {
    let mut out = a;
    for (o, &y) in out.iter_mut().zip(&b) {
        *o = f(*o, y);
    }
    out
}

// SAFETY: plain Rust on arrays: valid on every CPU; loads and stores read/write exactly L values (the trait's
// pointer contract).
unsafe impl<T: crate::scalar::Real, const L: usize> Simd for Generic<T, L> {
    type T = T;
    type V = [T; L];
    const LANES: usize = L;

    const TB: usize = 4;

    #[inline(always)]
    unsafe fn transpose(src: *const T, ld_src: isize, dst: *mut T, ld_dst: isize) {
        for r in 0..4 {
            for c in 0..4 {
                // SAFETY: the trait's contract: r, c < TB.
                unsafe { *dst.offset(r * ld_dst + c as isize) = *src.offset(c as isize * ld_src + r) };
            }
        }
    }

    #[inline(always)]
    unsafe fn splat(x: T) -> [T; L] {
        [x; L]
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> [T; L] {
        // SAFETY: the trait's contract: p is valid for L values; read_unaligned needs no alignment.
        unsafe { p.cast::<[T; L]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut T, v: [T; L]) {
        // SAFETY: as for `load`.
        unsafe { p.cast::<[T; L]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const T, n: usize) -> [T; L] {
        let mut v = [T::zero(); L];
        for (i, slot) in v.iter_mut().enumerate().take(n) {
            // SAFETY: the trait's contract: i < n.
            *slot = unsafe { *p.add(i) };
        }
        v
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut T, v: [T; L], n: usize) {
        for (i, &x) in v.iter().enumerate().take(n) {
            // SAFETY: the trait's contract: i < n.
            unsafe { *p.add(i) = x };
        }
    }
    #[inline(always)]
    unsafe fn mul_add(a: [T; L], b: [T; L], acc: [T; L]) -> [T; L] {
        let product = lanes(a, b, |x, y| x * y);
        lanes(acc, product, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn add(a: [T; L], b: [T; L]) -> [T; L] {
        lanes(a, b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn mul(a: [T; L], b: [T; L]) -> [T; L] {
        lanes(a, b, |x, y| x * y)
    }
    #[inline(always)]
    unsafe fn relu(v: [T; L]) -> [T; L] {
        lanes(v, v, |x, _| if x > T::zero() { x } else { T::zero() })
    }
    #[inline(always)]
    unsafe fn leaky_relu(v: [T; L], slope: [T; L]) -> [T; L] {
        lanes(v, slope, |x, s| if x > T::zero() { x } else { x * s })
    }
}
