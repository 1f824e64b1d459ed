//! The few vector operations the GEMM kernels need, one implementation per instruction set and element type.
//!
//! Every operation is `#[inline(always)]` and is only ever inlined into an entry point compiled for its
//! instruction set (`#[target_feature]` in `entries.rs`), which is only called after `cpu::Isa::available`.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
// AVX-512 intrinsics are stable since Rust 1.89, the crate's rust-version.
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod generic;

use num_traits::Zero;

use crate::scalar::Real;

/// A vector of `LANES` values of `T`.
///
/// # Safety
/// Implementations for an instruction set may only be used inside code compiled for that set, on a CPU that has
/// it. Pointers passed to the loads and stores must be valid for `LANES` values of `T` (no alignment needed).
pub unsafe trait Simd {
    type T: Real;
    type V: Copy;
    const LANES: usize;

    /// # Safety
    /// See the trait.
    unsafe fn splat(x: Self::T) -> Self::V;
    /// # Safety
    /// See the trait.
    unsafe fn load(p: *const Self::T) -> Self::V;
    /// # Safety
    /// See the trait.
    unsafe fn store(p: *mut Self::T, v: Self::V);
    /// The first `n` lanes from `p` (n < LANES), the others zero.
    ///
    /// # Safety
    /// See the trait; `p` valid for `n` values (only those are touched).
    unsafe fn load_partial(p: *const Self::T, n: usize) -> Self::V;
    /// Store the first `n` lanes to `p` (n < LANES).
    ///
    /// # Safety
    /// See the trait; `p` valid for `n` values (only those are touched).
    unsafe fn store_partial(p: *mut Self::T, v: Self::V, n: usize);
    /// `acc + a·b`, rounded once where the set has FMA (twice in the generic set).
    ///
    /// # Safety
    /// See the trait.
    unsafe fn mul_add(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
    /// # Safety
    /// See the trait.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// # Safety
    /// See the trait.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `v > 0 ? v : 0` lane by lane (NaN and -0 give +0), exactly `activation::relu_forward`.
    ///
    /// # Safety
    /// See the trait.
    unsafe fn relu(v: Self::V) -> Self::V;
    /// `v > 0 ? v : v·slope`, exactly `activation::leaky_relu_forward`.
    ///
    /// # Safety
    /// See the trait.
    unsafe fn leaky_relu(v: Self::V, slope: Self::V) -> Self::V;

    /// Side of the square blocks `transpose` moves.
    const TB: usize;
    /// `dst[r·ld_dst + c] = src[c·ld_src + r]` for r, c < TB: a block of a column-major matrix into a row-major
    /// panel.
    ///
    /// # Safety
    /// See the trait; both blocks valid for TB rows of TB values at their strides.
    unsafe fn transpose(src: *const Self::T, ld_src: isize, dst: *mut Self::T, ld_dst: isize);

    /// # Safety
    /// See the trait.
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: forwarded contract.
        unsafe { Self::splat(Self::T::zero()) }
    }
}
