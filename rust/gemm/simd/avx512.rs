//! AVX-512F vectors: 16 f32 or 8 f64 per 512-bit register.

use std::arch::x86_64::*;

use super::Simd;
use super::avx2::{transpose_4x4_f64, transpose_8x8_f32};

pub struct Avx512F32;
pub struct Avx512F64;

// SAFETY: the trait's contract: only used inside functions compiled with `avx512f` on CPUs that have it; the
// unaligned loads and stores touch exactly 16 f32, the masked ones only their first n (< 16) lanes, and masked-off
// lanes never fault. `_mm512_max_ps(v, 0)` returns its second operand (0) when v
// is NaN or either zero, so it is `v > 0 ? v : 0`.
unsafe impl Simd for Avx512F32 {
    type T = f32;
    type V = __m512;
    const LANES: usize = 16;
    const TB: usize = 8;

    #[inline(always)]
    unsafe fn transpose(src: *const f32, ld_src: isize, dst: *mut f32, ld_dst: isize) {
        unsafe { transpose_8x8_f32(src, ld_src, dst, ld_dst) }
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> __m512 {
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) }
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut f32, v: __m512, n: usize) {
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512, b: __m512, acc: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, acc) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m512) -> __m512 {
        unsafe { _mm512_max_ps(v, _mm512_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn leaky_relu(v: __m512, slope: __m512) -> __m512 {
        unsafe {
            let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, _mm512_setzero_ps());
            _mm512_mask_blend_ps(positive, _mm512_mul_ps(v, slope), v)
        }
    }
}

// SAFETY: as for `Avx512F32`, with 8 f64 (masks of n < 8 lanes).
unsafe impl Simd for Avx512F64 {
    type T = f64;
    type V = __m512d;
    const LANES: usize = 8;
    const TB: usize = 4;

    #[inline(always)]
    unsafe fn transpose(src: *const f64, ld_src: isize, dst: *mut f64, ld_dst: isize) {
        unsafe { transpose_4x4_f64(src, ld_src, dst, ld_dst) }
    }

    #[inline(always)]
    unsafe fn splat(x: f64) -> __m512d {
        unsafe { _mm512_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m512d {
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m512d) {
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f64, n: usize) -> __m512d {
        unsafe { _mm512_maskz_loadu_pd(((1u32 << n) - 1) as __mmask8, p) }
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut f64, v: __m512d, n: usize) {
        unsafe { _mm512_mask_storeu_pd(p, ((1u32 << n) - 1) as __mmask8, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512d, b: __m512d, acc: __m512d) -> __m512d {
        unsafe { _mm512_fmadd_pd(a, b, acc) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
        unsafe { _mm512_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m512d) -> __m512d {
        unsafe { _mm512_max_pd(v, _mm512_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn leaky_relu(v: __m512d, slope: __m512d) -> __m512d {
        unsafe {
            let positive = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, _mm512_setzero_pd());
            _mm512_mask_blend_pd(positive, _mm512_mul_pd(v, slope), v)
        }
    }
}
