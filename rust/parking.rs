//! Sleeping until a condition holds, for threads that spin first and sleep only when the wait goes on (the
//! spin-then-sleep barrier of the batch-1 team, the idle members of a chunk team).
//!
//! Whoever makes the condition true publishes it first (with `SeqCst`), then calls `wake_all`: a sleeper either
//! sees the condition before it sleeps, or is counted and gets woken (it checks the condition under the lock
//! that `wake_all` takes before notifying), so no wake-up is lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

#[derive(Debug, Default)]
pub struct Parking {
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Parking {
    pub const fn new() -> Self {
        Parking { sleepers: AtomicUsize::new(0), lock: Mutex::new(()), wake: Condvar::new() }
    }

    /// Sleep until `ready()` holds.
    pub fn sleep_until(&self, ready: impl Fn() -> bool) {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while !ready() {
            guard = self.wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wake every sleeper, after the condition it waits for was made true.
    pub fn wake_all(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.wake.notify_all();
        }
    }
}
