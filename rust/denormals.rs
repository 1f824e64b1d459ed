//! Denormal (subnormal) floats are flushed to zero inside the training loop only: on x86 an operation that
//! produces or reads one can take a hundred times longer, and a network whose small weights or gradients
//! decay towards zero would slow to a crawl. Outside training (predict, the kernels of `ferronet.ops`) the
//! caller's IEEE semantics are untouched.
//!
//! The mode is per thread (MXCSR's FTZ and DAZ bits), so it is set on every thread of the engine's pool for the
//! duration of a training chunk, and each thread's previous mode is put back afterwards.

use std::cell::Cell;

thread_local! {
    /// The thread's control register before the flush began (None: not flushing).
    static SAVED: Cell<Option<u32>> = const { Cell::new(None) };
}

/// MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
fn read_mode() -> u32 {
    let mut mode: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit control register into the given, valid and aligned u32.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut mode, options(nostack, preserves_flags)) };
    mode
}

#[cfg(target_arch = "x86_64")]
fn write_mode(mode: u32) {
    // SAFETY: ldmxcsr loads a value that came from stmxcsr with only the FTZ/DAZ bits changed (both valid on every
    // SSE2 machine, i.e. every x86_64 one), so no reserved bit is set.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &mode, options(nostack, readonly, preserves_flags)) };
}

/// Start flushing on this thread (no-op if it already does, or on other architectures).
pub fn begin_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    SAVED.with(|saved| {
        if saved.get().is_none() {
            let mode = read_mode();
            saved.set(Some(mode));
            write_mode(mode | FTZ_DAZ);
        }
    });
}

/// Put back this thread's mode from before `begin_on_this_thread`.
pub fn end_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    SAVED.with(|saved| {
        if let Some(mode) = saved.take() {
            write_mode(mode);
        }
    });
}

/// Flushing on every thread of the current rayon pool until dropped.
pub struct FlushGuard {
    _private: (),
}

impl FlushGuard {
    /// Call from inside the pool (`threads::install`).
    pub fn on_pool() -> Self {
        rayon::broadcast(|_| begin_on_this_thread());
        begin_on_this_thread(); // the calling thread, in case it is not one of the pool's
        FlushGuard { _private: () }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        rayon::broadcast(|_| end_on_this_thread());
        end_on_this_thread();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denormals_are_flushed_only_while_the_guard_lives() {
        let tiny = black_box(f64::MIN_POSITIVE);
        assert!(black_box(tiny * 0.5) > 0.0, "denormal results exist before");
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("test pool");
        pool.install(|| {
            let guard = FlushGuard::on_pool();
            let flushed = rayon::broadcast(|_| black_box(black_box(f64::MIN_POSITIVE) * 0.5));
            assert!(flushed.iter().all(|&v| v == 0.0), "{flushed:?}");
            assert_eq!(black_box(black_box(f32::MIN_POSITIVE) * 0.5), 0.0);
            drop(guard);
            let kept = rayon::broadcast(|_| black_box(black_box(f64::MIN_POSITIVE) * 0.5));
            assert!(kept.iter().all(|&v| v > 0.0), "{kept:?}");
        });
        assert!(black_box(tiny * 0.5) > 0.0, "the caller's mode is back");
    }
}
