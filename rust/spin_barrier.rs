//! A barrier for a team of threads that meet twice per training sample (every few microseconds): waiting
//! threads spin instead of sleeping, because a futex sleep and wake-up costs more than the work between two
//! meetings. After a while they yield, so an oversubscribed machine still makes progress.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Spins before each `yield_now` once waiting has gone on for a while (about 50 µs of `spin_loop`).
const SPINS_BEFORE_YIELDING: u32 = 1 << 14;

#[derive(Debug)]
pub struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    pub fn new(parties: usize) -> Self {
        Self { parties: parties.max(1), arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }

    /// Wait until all parties have arrived. Everything a party wrote before arriving is visible to every party
    /// after they leave.
    pub fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < SPINS_BEFORE_YIELDING {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn no_party_passes_before_all_arrive() {
        let barrier = SpinBarrier::new(3);
        let counter = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for round in 1..=1000u64 {
                        counter.fetch_add(1, Ordering::SeqCst);
                        barrier.wait();
                        // Everyone has added this round's increment, nobody the next one yet.
                        assert_eq!(counter.load(Ordering::SeqCst), 3 * round);
                        barrier.wait();
                    }
                });
            }
        });
    }
}
