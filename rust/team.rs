//! A team of threads for a whole training chunk: the engine's threads stay awake between the phases of the
//! training steps instead of going back to the pool.
//!
//! A training step at batch 32-512 is a dozen parallel phases (products, packing, element-wise updates) a few
//! to a few hundred microseconds long, separated by short serial work (the loss, the small last layer). On the
//! rayon pool every phase wakes the other threads and lets them go back to sleep, at a cost comparable to a
//! small phase. In a team, the thread that runs the chunk (the leader) publishes each phase as a list of tasks;
//! the other members spin while they wait for the next one (and sleep only if it does not come within
//! `SPIN_FOR`), claim tasks one at a time, and the leader claims them too, then waits for the claimed ones.
//!
//! The leader is the thread that runs the chunk; the members are jobs on the pool that idle threads pick up.
//! Tasks are claimed dynamically, so a member that is late (not yet picked up, or descheduled) simply gets fewer
//! tasks; the leader only ever waits for tasks that are running, never for a given thread, so a team cannot
//! deadlock with other work on the pool. What a task computes depends on its index
//! alone (fixed plans: `gemm/plan.rs`), so results never depend on which thread ran it.
//!
//! A team has at most one member per core: more would spin on each other's cores. Only one team runs at a
//! time: two teams on one pool could each hold a thread the other waits for. A chunk
//! that finds the team busy runs on the pool as before (same results).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::parking::Parking;

/// How long an idle member spins before it sleeps: longer than the leader's serial work between two phases of
/// a step, far shorter than a scheduler time slice.
const SPIN_FOR: Duration = Duration::from_micros(100);
/// After this long a waiting thread yields between checks: a thread it waits for may need its core.
const YIELD_AFTER: Duration = Duration::from_micros(10);

/// Spin once while waiting since `started`: a pause, or a yield once the wait is no longer short.
fn spin_once(started: Instant, spins: u32) {
    if spins.is_multiple_of(64) && started.elapsed() >= YIELD_AFTER {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// A phase: `tasks` calls of `run`, one per index.
#[derive(Clone, Copy)]
struct Phase {
    run: *const (dyn Fn(usize) + Sync),
    tasks: usize,
}

/// The state the members share. `claims` packs the phase's generation (high 32 bits) and the next unclaimed
/// task (low 32 bits), so a member can only claim a task of the phase it read.
struct Shared {
    claims: AtomicU64,
    phase: Mutex<Option<Phase>>,
    done: AtomicUsize,
    stop: AtomicBool,
    parking: Parking,
}

// SAFETY: `Phase::run` points to a `Fn + Sync` closure that the leader keeps alive until every claimed task of
// its phase has returned (`Team::run` waits for them), and a task can only be claimed while its phase is
// published.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

const TASK_BITS: u32 = 32;
const TASK_MASK: u64 = (1 << TASK_BITS) - 1;

fn generation(claims: u64) -> u64 {
    claims >> TASK_BITS
}

fn lock<X>(mutex: &Mutex<X>) -> std::sync::MutexGuard<'_, X> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new() -> Self {
        Shared {
            claims: AtomicU64::new(0),
            phase: Mutex::new(None),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            parking: Parking::new(),
        }
    }

    /// Claim and run tasks of the phase of `generation` until none is left.
    fn work(&self, phase_gen: u64) {
        let Some(phase) = *lock(&self.phase) else { return };
        let mut claims = self.claims.load(Ordering::Acquire);
        loop {
            let task = (claims & TASK_MASK) as usize;
            if generation(claims) != phase_gen || task >= phase.tasks {
                return;
            }
            match self.claims.compare_exchange_weak(claims, claims + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // SAFETY: the task is claimed, so its phase is still published and `run` alive (module docs).
                    let run = unsafe { &*phase.run };
                    run(task);
                    self.done.fetch_add(1, Ordering::Release);
                    claims = self.claims.load(Ordering::Acquire);
                }
                Err(now) => claims = now,
            }
        }
    }

    /// A member's loop: wait for each new phase (or the stop), work on it.
    fn serve(&self) {
        let mut seen = generation(self.claims.load(Ordering::Acquire));
        loop {
            let started = Instant::now();
            let mut spins = 0u32;
            let next = loop {
                if self.stop.load(Ordering::Acquire) {
                    return;
                }
                let phase_gen = generation(self.claims.load(Ordering::Acquire));
                if phase_gen != seen {
                    break phase_gen;
                }
                spins = spins.wrapping_add(1);
                spin_once(started, spins);
                if spins.is_multiple_of(64) && started.elapsed() >= SPIN_FOR {
                    self.parking.sleep_until(|| self.stop.load(Ordering::SeqCst) || generation(self.claims.load(Ordering::SeqCst)) != seen);
                }
            };
            seen = next;
            self.work(next);
        }
    }
}

/// The leader's handle on its team.
pub struct Team {
    shared: Shared,
}

thread_local! {
    /// The team this thread leads, while it leads one and is not inside one of its phases.
    static LEADING: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
}

/// Only one team at a time, of either kind: this chunk team or the batch-1 team (`train/online_team.rs`), which
/// both hold every pool thread until they end (module docs).
static BUSY: AtomicBool = AtomicBool::new(false);

/// The right to run a team, until dropped; `None` while another team runs.
pub(crate) fn reserve() -> Option<Reservation> {
    (!BUSY.swap(true, Ordering::Acquire)).then_some(Reservation { _private: () })
}

/// Frees the team slot when dropped, even if the team's leader panicked.
pub(crate) struct Reservation {
    _private: (),
}

impl Drop for Reservation {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// In a child after `fork`: a team the parent was running has no threads here, and must not keep the next
/// chunks from forming their own.
pub fn after_fork() {
    BUSY.store(false, Ordering::SeqCst);
}

impl Team {
    /// Run `task(0..tasks)` on the team and return when all have returned. `task` must not panic (a panic is
    /// caught and returned as an error).
    fn run(&self, tasks: usize, task: &(dyn Fn(usize) -> Result<()> + Sync)) -> Result<()> {
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let guarded = |t: usize| {
            let outcome = catch_unwind(AssertUnwindSafe(|| task(t))).unwrap_or_else(|_| Err(Error::value("team", "a task panicked")));
            if let Err(error) = outcome {
                lock(&failure).get_or_insert(error);
            }
        };
        let run: &(dyn Fn(usize) + Sync) = &guarded;
        // SAFETY: erases the closure's lifetime; it outlives every use, as this function waits below until every
        // claimed task has returned, and no task can be claimed once all are.
        let run: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(run) };
        let shared = &self.shared;
        shared.done.store(0, Ordering::Relaxed);
        *lock(&shared.phase) = Some(Phase { run, tasks });
        let phase_gen = generation(shared.claims.load(Ordering::Acquire)) + 1;
        shared.claims.store(phase_gen << TASK_BITS, Ordering::SeqCst);
        shared.parking.wake_all();
        shared.work(phase_gen);
        let (started, mut spins) = (Instant::now(), 0u32);
        while shared.done.load(Ordering::Acquire) < tasks {
            spins = spins.wrapping_add(1);
            spin_once(started, spins);
        }
        failure.into_inner().unwrap_or_else(PoisonError::into_inner).map_or(Ok(()), Err)
    }
}

/// Run `lead` as the leader of a team of the current pool's threads (see the module docs); phases it submits
/// through `parallel::for_each` run on the team. Runs `lead` alone when the pool has one thread or another team
/// is running. Must be called on one of the engine's pools.
pub fn with_team<R: Send>(lead: impl FnOnce() -> R + Send) -> R {
    // More members than cores would spin on each other's cores: the extra pool threads stay out.
    let threads = crate::threads::available().min(crate::threads::cores());
    let reservation = if threads < 2 { None } else { reserve() };
    let Some(_reservation) = reservation else { return lead() };
    let team = Team { shared: Shared::new() };
    // The members are jobs that idle pool threads pick up; the leader is this thread. Nobody waits for a given
    // thread: a member job no thread has taken by the end runs here after `lead`, sees the stop, and returns.
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| team.shared.serve());
        }
        // Whatever happens to `lead`, the members are released.
        let _release = Release(&team.shared);
        let _leading = Leading::begin(&team);
        lead()
    })
}

/// Stops the members when the leader is done, even if it panicked.
struct Release<'a>(&'a Shared);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
        self.0.parking.wake_all();
    }
}

/// Marks this thread as the team's leader for its lifetime.
struct Leading(*const Team);

impl Leading {
    fn begin(team: &Team) -> Self {
        Leading(LEADING.replace(team))
    }
}

impl Drop for Leading {
    fn drop(&mut self) {
        LEADING.set(self.0);
    }
}

/// If this thread leads a team: run the phase on it (`Some`), with nested phases run inline by their caller.
pub(crate) fn run_on_team(tasks: usize, task: &(dyn Fn(usize) -> Result<()> + Sync)) -> Option<Result<()>> {
    let team = LEADING.replace(std::ptr::null());
    if team.is_null() {
        return None;
    }
    // SAFETY: LEADING only holds a team while its `with_team` frame (which owns it) runs on this thread.
    let outcome = unsafe { &*team }.run(tasks, task);
    LEADING.set(team);
    Some(outcome)
}

/// Whether this thread leads a team (outside its phases).
pub fn leading() -> bool {
    !LEADING.get().is_null()
}
