//! Running engine work from Python: on one of the engine's pools, without the GIL, and interruptible by Ctrl-C.
//!
//! The calling thread waits for the work while polling Python's signal handlers every `POLL`; a
//! KeyboardInterrupt raises the engine's cancel flag (`crate::cancel`), the work stops at its next check, and the
//! KeyboardInterrupt is raised here. Work that must not stop half-way (an update in place) uses `uninterruptible`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;

use crate::cancel;
use crate::error::Result;
use crate::threads::{self, Work};

const POLL: Duration = Duration::from_millis(50);

/// Compute work of at most this many multiply-adds runs inline on the calling thread (still without the GIL):
/// handing it to a pool thread and waiting for it costs about 10 µs, more than such work takes, and the GEMM's
/// fixed plan gives it a single task anyway (`gemm/plan.rs`), so no thread would share it. The bits are the same
/// either way (fixed plans); the caller's thread has IEEE semantics like the compute pool's.
pub const INLINE_MAX_MACS: usize = 1 << 18;

/// Compute work of about `macs` multiply-adds: inline when small (see `INLINE_MAX_MACS`; too short to need
/// Ctrl-C), else on the compute pool, interruptible.
pub fn compute_sized<R: Send>(py: Python<'_>, macs: usize, work: impl FnOnce() -> Result<R> + Send) -> PyResult<R> {
    if macs <= INLINE_MAX_MACS {
        return Ok(py.detach(work)?);
    }
    interruptible(py, Work::Compute, work)
}

/// Run `work` on the `kind` pool without the GIL, stopping it on Ctrl-C.
pub fn interruptible<R: Send>(py: Python<'_>, kind: Work, work: impl FnOnce() -> Result<R> + Send) -> PyResult<R> {
    let pool = threads::pool(kind)?;
    let _active = cancel::Active::begin();
    let result: Mutex<Option<Result<R>>> = Mutex::new(None);
    let (finished, wake) = (AtomicBool::new(false), Condvar::new());
    let mut interruption: Option<PyErr> = None;
    py.detach(|| {
        pool.in_place_scope(|scope| {
            scope.spawn(|_| {
                let outcome = work();
                *result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
                finished.store(true, Ordering::Release);
                wake.notify_all();
            });
            let mut guard = result.lock().unwrap_or_else(PoisonError::into_inner);
            while !finished.load(Ordering::Acquire) {
                let (next, timeout) = wake.wait_timeout(guard, POLL).unwrap_or_else(PoisonError::into_inner);
                guard = next;
                if timeout.timed_out() && interruption.is_none() && !finished.load(Ordering::Acquire) {
                    drop(guard);
                    if let Err(error) = Python::attach(|py| py.check_signals()) {
                        interruption = Some(error);
                        cancel::request();
                    }
                    guard = result.lock().unwrap_or_else(PoisonError::into_inner);
                }
            }
        });
    });
    let outcome = result.into_inner().unwrap_or_else(PoisonError::into_inner);
    match (interruption, outcome) {
        // The signal handler's exception (KeyboardInterrupt, or whatever a custom handler raised) wins.
        (Some(error), _) => Err(error),
        (None, Some(outcome)) => Ok(outcome?),
        (None, None) => Err(pyo3::exceptions::PyRuntimeError::new_err("the engine's work ended without a result")),
    }
}

/// Run `work` on the `kind` pool without the GIL, to its end (an update in place must not stop half-way).
pub fn uninterruptible<R: Send>(py: Python<'_>, kind: Work, work: impl FnOnce() -> Result<R> + Send) -> PyResult<R> {
    let pool = threads::pool(kind)?;
    Ok(py.detach(|| pool.install(work))?)
}
