//! AVX2 + FMA vectors: 8 f32 or 4 f64 per 256-bit register.

use std::arch::x86_64::*;

use super::Simd;

pub struct Avx2F32;
pub struct Avx2F64;

// SAFETY: the trait's contract: only used inside functions compiled with `avx2,fma` on CPUs that have them; the
// unaligned loads and stores touch exactly 8 f32. `_mm256_max_ps(v, 0)` returns its second operand (0) when v
// is NaN or either zero, so it is `v > 0 ? v : 0`.
unsafe impl Simd for Avx2F32 {
    type T = f32;
    type V = __m256;
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256, b: __m256, acc: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, acc) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m256) -> __m256 {
        unsafe { _mm256_max_ps(v, _mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn leaky_relu(v: __m256, slope: __m256) -> __m256 {
        unsafe { _mm256_blendv_ps(_mm256_mul_ps(v, slope), v, _mm256_cmp_ps::<_CMP_GT_OQ>(v, _mm256_setzero_ps())) }
    }
}

// SAFETY: as for `Avx2F32`, with 4 f64.
unsafe impl Simd for Avx2F64 {
    type T = f64;
    type V = __m256d;
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn splat(x: f64) -> __m256d {
        unsafe { _mm256_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m256d {
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m256d) {
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256d, b: __m256d, acc: __m256d) -> __m256d {
        unsafe { _mm256_fmadd_pd(a, b, acc) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
        unsafe { _mm256_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
        unsafe { _mm256_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m256d) -> __m256d {
        unsafe { _mm256_max_pd(v, _mm256_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn leaky_relu(v: __m256d, slope: __m256d) -> __m256d {
        unsafe { _mm256_blendv_pd(_mm256_mul_pd(v, slope), v, _mm256_cmp_pd::<_CMP_GT_OQ>(v, _mm256_setzero_pd())) }
    }
}
