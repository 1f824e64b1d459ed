//! The engine's own rayon pools: one for training, one for everything else, their size, and a rebuild in a
//! child process after `fork`.
//!
//! Training runs on threads that flush denormals to zero (FTZ/DAZ, set once when each thread starts: see
//! `denormals.rs`); everything else (predict, evaluate, the kernels of `ferronet.ops`) runs on threads with the
//! default IEEE semantics. Two pools, so the mode of one never leaks into a call of the other, even when they run
//! at the same time. The size comes from `set_num_threads`, else `FERRONET_NUM_THREADS`, else `OMP_NUM_THREADS`,
//! else the number of cores, and is capped at `max(4, cores)`: more threads than that only wait for each other.
//! Results never depend on it (fixed plans, see `gemm/plan.rs`); only speed does.

use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Upper bound on what `set_num_threads` accepts (a guard against typos such as 10**9 threads).
pub const MAX_THREADS: usize = 1024;

/// What a pool runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Training steps: denormals flushed to zero.
    Training,
    /// Everything else: IEEE semantics.
    Compute,
}

struct Pools {
    training: Arc<ThreadPool>,
    compute: Arc<ThreadPool>,
    threads: usize,
    /// The process that built the pools: a forked child has none of their threads and must build its own.
    pid: u32,
}

static POOLS: Mutex<Option<Pools>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Pools>> {
    POOLS.lock()
}

/// In a child after `fork`: a parent thread that was resizing or looking up the pools at that instant does not
/// exist here, so its hold on the lock is released (the pools themselves are rebuilt on first use, see `pool`).
pub fn after_fork() {
    if POOLS.is_locked() {
        // SAFETY: the child has one thread, the one that forked, and it was not inside `lock()` (forking is a
        // Python call, made outside the engine): whichever thread held the guard is gone, and nobody else can
        // observe the mutex while it is released.
        unsafe { POOLS.force_unlock() };
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The most threads a pool gets on this machine.
pub fn thread_cap() -> usize {
    cores().max(4)
}

/// The default size: `FERRONET_NUM_THREADS` if it is a valid count, else `OMP_NUM_THREADS` (its first level, as
/// OpenMP reads "4,2"), which joblib's workers and Dask's nanny set to share the cores with other processes, else
/// the number of cores.
pub fn default_threads() -> usize {
    env_threads("FERRONET_NUM_THREADS").or_else(|| env_threads("OMP_NUM_THREADS")).unwrap_or_else(cores).min(thread_cap())
}

/// A valid thread count in the variable `name` (the first of a comma-separated list), if any.
fn env_threads(name: &str) -> Option<usize> {
    let text = std::env::var(name).ok()?;
    let first = text.split(',').next()?;
    first.trim().parse::<usize>().ok().filter(|&n| (1..=MAX_THREADS).contains(&n))
}

fn build_pool(threads: usize, work: Work) -> Result<ThreadPool> {
    let name = match work {
        Work::Training => "ferronet-train",
        Work::Compute => "ferronet",
    };
    let builder = ThreadPoolBuilder::new().num_threads(threads).thread_name(move |i| format!("{name}-{i}"));
    let builder = match work {
        Work::Training => builder.start_handler(|_| crate::denormals::flush_on_this_thread()),
        Work::Compute => builder,
    };
    builder.build().map_err(|e| Error::value("num_threads", format!("could not start {threads} threads: {e}")))
}

fn build(threads: usize) -> Result<Pools> {
    Ok(Pools {
        training: Arc::new(build_pool(threads, Work::Training)?),
        compute: Arc::new(build_pool(threads, Work::Compute)?),
        threads,
        pid: std::process::id(),
    })
}

/// The pool for `work`, built on first use (or again in a forked child).
pub fn pool(work: Work) -> Result<Arc<ThreadPool>> {
    let mut guard = lock();
    let stale = guard.as_ref().is_none_or(|p| p.pid != std::process::id());
    if stale {
        let threads = guard.as_ref().map_or_else(default_threads, |p| p.threads);
        if let Some(old) = guard.take() {
            // Their threads do not exist in this process: dropping the pools could wait on them forever.
            std::mem::forget(old.training);
            std::mem::forget(old.compute);
        }
        *guard = Some(build(threads)?);
    }
    let pools = guard.as_ref().ok_or_else(|| Error::value("thread pool", "could not be created"))?;
    Ok(Arc::clone(match work {
        Work::Training => &pools.training,
        Work::Compute => &pools.compute,
    }))
}

/// Threads the current call may spread its work over: the pool's size on one of the engine's pools, 1 on any
/// other thread. Small calls run inline on the caller's thread (`py/run.rs`); every parallel split checks this
/// first, so such a call never touches rayon (whose global pool would be dead in a forked child).
pub fn available() -> usize {
    if rayon::current_thread_index().is_some() { rayon::current_num_threads() } else { 1 }
}

/// Run `work` inside the compute pool (nested `rayon::join` calls then use it).
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool(Work::Compute)?.install(work))
}

/// Run `work` inside the training pool (denormals flushed to zero).
pub fn install_training<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool(Work::Training)?.install(work))
}

pub fn num_threads() -> usize {
    lock().as_ref().filter(|p| p.pid == std::process::id()).map_or_else(default_threads, |p| p.threads)
}

/// Resize the pools (takes effect for the next call into the engine); beyond `thread_cap()` the cap is used.
pub fn set_num_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Error::value("n", format!("must be between 1 and {MAX_THREADS}; got {threads}")));
    }
    let threads = threads.min(thread_cap());
    let mut guard = lock();
    if guard.as_ref().is_some_and(|p| p.threads == threads && p.pid == std::process::id()) {
        return Ok(());
    }
    *guard = Some(build(threads)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_training_pool_flushes_denormals() -> Result<()> {
        let tiny = std::hint::black_box(1e-40f32); // a subnormal
        let half = |x: f32| std::hint::black_box(x) * std::hint::black_box(0.5f32);
        assert_eq!(install_training(|| half(tiny))?, 0.0);
        assert!(install(|| half(tiny))? > 0.0);
        assert!(half(tiny) > 0.0); // and the calling thread is untouched
        Ok(())
    }

    #[test]
    fn the_size_is_capped() {
        assert!(thread_cap() >= 4);
        assert!(default_threads() <= thread_cap());
    }
}
