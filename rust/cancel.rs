//! Ctrl-C inside long engine calls. The binding that runs a call polls Python's signal handlers while the call
//! works on the pool; on a KeyboardInterrupt it raises this flag, and the engine's long loops (batches, GEMM
//! tasks, inference blocks, dataset copies) stop at their next check and return `Error::Interrupted`. The flag
//! is process-wide: other calls running at that moment stop too (the user interrupted the program).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// Interruptible calls in progress: the flag is lowered when the last of them ends.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Ask every interruptible call in progress to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// `Err(Interrupted)` once an interruption was requested.
pub fn check() -> Result<()> {
    if REQUESTED.load(Ordering::Relaxed) { Err(Error::Interrupted) } else { Ok(()) }
}

/// In a child after `fork`: the parent's calls in progress do not exist here.
pub fn after_fork() {
    ACTIVE.store(0, Ordering::SeqCst);
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Marks an interruptible call for its lifetime; the last one to end lowers the flag.
pub struct Active {
    _private: (),
}

impl Active {
    pub fn begin() -> Self {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Active { _private: () }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if ACTIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
            REQUESTED.store(false, Ordering::SeqCst);
        }
    }
}
