//! AVX2 + FMA vectors: 8 f32 or 4 f64 per 256-bit register.

use std::arch::x86_64::*;

use super::Simd;

pub struct Avx2F32;

/// All-ones in the first `n` of 8 32-bit lanes (the lanes masked loads and stores touch).
#[inline(always)]
unsafe fn lane_mask_32(n: usize) -> __m256i {
    unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
}

/// All-ones in the first `n` of 4 64-bit lanes.
#[inline(always)]
unsafe fn lane_mask_64(n: usize) -> __m256i {
    unsafe { _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3)) }
}
pub struct Avx2F64;

// SAFETY: the trait's contract: only used inside functions compiled with `avx2,fma` on CPUs that have them; the
// unaligned loads and stores touch exactly 8 f32, the masked ones only their first n (< 8) lanes (masked-off lanes
// never fault). `_mm256_max_ps(v, 0)` returns its second operand (0) when v
// is NaN or either zero, so it is `v > 0 ? v : 0`.
unsafe impl Simd for Avx2F32 {
    type T = f32;
    type V = __m256;
    const LANES: usize = 8;
    const TB: usize = 8;

    #[inline(always)]
    unsafe fn transpose(src: *const f32, ld_src: isize, dst: *mut f32, ld_dst: isize) {
        unsafe { transpose_8x8_f32(src, ld_src, dst, ld_dst) }
    }

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
    unsafe fn load_partial(p: *const f32, n: usize) -> __m256 {
        unsafe { _mm256_maskload_ps(p, lane_mask_32(n)) }
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut f32, v: __m256, n: usize) {
        unsafe { _mm256_maskstore_ps(p, lane_mask_32(n), v) }
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
    const TB: usize = 4;

    #[inline(always)]
    unsafe fn transpose(src: *const f64, ld_src: isize, dst: *mut f64, ld_dst: isize) {
        unsafe { transpose_4x4_f64(src, ld_src, dst, ld_dst) }
    }

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
    unsafe fn load_partial(p: *const f64, n: usize) -> __m256d {
        unsafe { _mm256_maskload_pd(p, lane_mask_64(n)) }
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut f64, v: __m256d, n: usize) {
        unsafe { _mm256_maskstore_pd(p, lane_mask_64(n), v) }
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

/// `dst[r·ld_dst + c] = src[c·ld_src + r]` for an 8 × 8 block, in registers.
///
/// # Safety
/// AVX enabled; both blocks valid for 8 rows of 8 values at their strides.
#[inline(always)]
pub unsafe fn transpose_8x8_f32(src: *const f32, ld_src: isize, dst: *mut f32, ld_dst: isize) {
    // SAFETY: the caller's contract.
    unsafe {
        let row = |i: isize| _mm256_loadu_ps(src.offset(i * ld_src));
        let (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7));
        let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
        let (u0, u1) = (_mm256_shuffle_ps::<0x44>(t0, t2), _mm256_shuffle_ps::<0xEE>(t0, t2));
        let (u2, u3) = (_mm256_shuffle_ps::<0x44>(t1, t3), _mm256_shuffle_ps::<0xEE>(t1, t3));
        let (u4, u5) = (_mm256_shuffle_ps::<0x44>(t4, t6), _mm256_shuffle_ps::<0xEE>(t4, t6));
        let (u6, u7) = (_mm256_shuffle_ps::<0x44>(t5, t7), _mm256_shuffle_ps::<0xEE>(t5, t7));
        let out = |i: isize, v: __m256| _mm256_storeu_ps(dst.offset(i * ld_dst), v);
        out(0, _mm256_permute2f128_ps::<0x20>(u0, u4));
        out(1, _mm256_permute2f128_ps::<0x20>(u1, u5));
        out(2, _mm256_permute2f128_ps::<0x20>(u2, u6));
        out(3, _mm256_permute2f128_ps::<0x20>(u3, u7));
        out(4, _mm256_permute2f128_ps::<0x31>(u0, u4));
        out(5, _mm256_permute2f128_ps::<0x31>(u1, u5));
        out(6, _mm256_permute2f128_ps::<0x31>(u2, u6));
        out(7, _mm256_permute2f128_ps::<0x31>(u3, u7));
    }
}

/// `dst[r·ld_dst + c] = src[c·ld_src + r]` for a 4 × 4 block of f64, in registers.
///
/// # Safety
/// AVX enabled; both blocks valid for 4 rows of 4 values at their strides.
#[inline(always)]
pub unsafe fn transpose_4x4_f64(src: *const f64, ld_src: isize, dst: *mut f64, ld_dst: isize) {
    // SAFETY: the caller's contract.
    unsafe {
        let row = |i: isize| _mm256_loadu_pd(src.offset(i * ld_src));
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let (t0, t1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
        let out = |i: isize, v: __m256d| _mm256_storeu_pd(dst.offset(i * ld_dst), v);
        out(0, _mm256_permute2f128_pd::<0x20>(t0, t2));
        out(1, _mm256_permute2f128_pd::<0x20>(t1, t3));
        out(2, _mm256_permute2f128_pd::<0x31>(t0, t2));
        out(3, _mm256_permute2f128_pd::<0x31>(t1, t3));
    }
}
