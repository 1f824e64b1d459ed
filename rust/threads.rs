//! The engine's own rayon pool: its size, and a guard that rebuilds it in a child process after `fork`.
//!
//! The size comes from `set_num_threads`, else `FERRONET_NUM_THREADS`, else `OMP_NUM_THREADS`, else the number of
//! cores. Results never depend on it (see `gemm/plan.rs`); only speed does.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Upper bound on the pool size (a guard against typos such as 10**9 threads).
pub const MAX_THREADS: usize = 1024;

struct Pool {
    pool: Arc<ThreadPool>,
    threads: usize,
    /// The process that built the pool: a forked child has none of its threads and must build its own.
    pid: u32,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Pool>> {
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The default size: `FERRONET_NUM_THREADS` if it is a valid count, else `OMP_NUM_THREADS` (its first level, as
/// OpenMP reads "4,2"), which joblib's workers and Dask's nanny set to share the cores with other processes, else
/// the number of cores.
pub fn default_threads() -> usize {
    env_threads("FERRONET_NUM_THREADS")
        .or_else(|| env_threads("OMP_NUM_THREADS"))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A valid thread count in the variable `name` (the first of a comma-separated list), if any.
fn env_threads(name: &str) -> Option<usize> {
    let text = std::env::var(name).ok()?;
    let first = text.split(',').next()?;
    first.trim().parse::<usize>().ok().filter(|&n| (1..=MAX_THREADS).contains(&n))
}

fn build(threads: usize) -> Result<Pool> {
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferronet-{i}"))
        .build()
        .map_err(|e| Error::value("num_threads", format!("could not start {threads} threads: {e}")))?;
    Ok(Pool { pool: Arc::new(pool), threads, pid: std::process::id() })
}

/// The pool, built on first use (or again in a forked child).
pub fn pool() -> Result<Arc<ThreadPool>> {
    let mut guard = lock();
    let stale = guard.as_ref().is_none_or(|p| p.pid != std::process::id());
    if stale {
        let threads = guard.as_ref().map_or_else(default_threads, |p| p.threads);
        if let Some(old) = guard.take() {
            // Its threads do not exist in this process: dropping it could wait on them forever.
            std::mem::forget(old.pool);
        }
        *guard = Some(build(threads)?);
    }
    guard.as_ref().map(|p| Arc::clone(&p.pool)).ok_or_else(|| Error::value("thread pool", "could not be created"))
}

/// Run `work` inside the engine's pool (nested `rayon::join` calls then use it).
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool()?.install(work))
}

pub fn num_threads() -> usize {
    lock().as_ref().filter(|p| p.pid == std::process::id()).map_or_else(default_threads, |p| p.threads)
}

/// Resize the pool (takes effect for the next call into the engine).
pub fn set_num_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Error::value("n", format!("must be between 1 and {MAX_THREADS}; got {threads}")));
    }
    let mut guard = lock();
    if guard.as_ref().is_some_and(|p| p.threads == threads && p.pid == std::process::id()) {
        return Ok(());
    }
    *guard = Some(build(threads)?);
    Ok(())
}
