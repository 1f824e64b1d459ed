//! A barrier for a team of threads that meet twice per training sample (every few microseconds): a waiting
//! thread first spins, because a futex sleep and wake-up costs more than the work between two meetings; if the
//! wait goes on (the machine is oversubscribed and the thread it waits for is not running), it sleeps on a
//! condition variable, so that it gives its core to that thread instead of spinning it away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::parking::Parking;

/// How long a waiting thread spins before it sleeps: longer than the leader's serial work per sample on a
/// quiet machine, far shorter than a scheduler time slice.
const SPIN_FOR: Duration = Duration::from_micros(40);

#[derive(Debug)]
pub struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// How many waits ended in sleep: many mean the team's threads do not get their cores.
    sleeps: AtomicUsize,
    parking: Parking,
}

impl SpinBarrier {
    pub fn new(parties: usize) -> Self {
        Self {
            parties: parties.max(1),
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            sleeps: AtomicUsize::new(0),
            parking: Parking::new(),
        }
    }

    /// Wait until all parties have arrived. Everything a party wrote before arriving is visible to every party
    /// after they leave.
    pub fn wait(&self) {
        let generation = self.generation.load(Ordering::SeqCst);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            // Release first, then wake the sleepers (see `parking.rs`).
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.parking.wake_all();
            return;
        }
        let released = || self.generation.load(Ordering::SeqCst) != generation;
        let started = Instant::now();
        let mut spins = 0u32;
        while !released() {
            spins = spins.wrapping_add(1);
            std::hint::spin_loop();
            if spins.is_multiple_of(64) && started.elapsed() >= SPIN_FOR {
                self.sleeps.fetch_add(1, Ordering::Relaxed);
                self.parking.sleep_until(released);
                return;
            }
        }
    }

    /// How many waits so far ended in sleep.
    pub fn sleeps(&self) -> usize {
        self.sleeps.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn sleeping_parties_are_woken() {
        // One party arrives long after the others, which have gone to sleep by then.
        let barrier = SpinBarrier::new(3);
        std::thread::scope(|s| {
            for delay in [0u64, 0, 5] {
                let barrier = &barrier;
                s.spawn(move || {
                    for _ in 0..20 {
                        std::thread::sleep(Duration::from_millis(delay));
                        barrier.wait();
                    }
                });
            }
        });
    }

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
