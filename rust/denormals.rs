//! Denormal (subnormal) floats are flushed to zero on the training pool's threads only: on x86 an operation that
//! produces or reads one can take a hundred times longer, and a network whose small weights or gradients decay
//! towards zero would slow to a crawl. The mode (MXCSR's FTZ and DAZ bits) is per thread and is set once, when a
//! training-pool thread starts (`threads.rs`); no other thread ever has it, so predict, evaluate and the kernels
//! of `ferronet.ops` keep the caller's IEEE semantics even while a model trains beside them.

/// MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// Flush denormals on this thread from now on (a no-op on other architectures).
pub fn flush_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    {
        let mut mode: u32 = 0;
        // SAFETY: stmxcsr stores the 32-bit control register into the given, valid and aligned u32.
        unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut mode, options(nostack, preserves_flags)) };
        let flushing = mode | FTZ_DAZ;
        // SAFETY: ldmxcsr loads the value stmxcsr stored with only the FTZ/DAZ bits set (both valid on every SSE2
        // machine, i.e. every x86_64 one), so no reserved bit is set.
        unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &flushing, options(nostack, readonly, preserves_flags)) };
    }
}
