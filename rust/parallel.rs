//! Run a phase of independent tasks on the engine's threads: on the chunk's team when this thread leads one
//! (`team.rs`), else on the current rayon pool, else inline. Every task runs exactly once whichever way, and
//! what it computes depends on its index alone, so results never depend on the thread count.

use std::marker::PhantomData;

use rayon::prelude::*;

use crate::error::Result;

/// Run `task(0..tasks)`, in parallel when the engine has threads for it; the first error is returned.
pub fn for_each(tasks: usize, task: impl Fn(usize) -> Result<()> + Sync) -> Result<()> {
    if tasks <= 1 {
        return (0..tasks).try_for_each(&task);
    }
    if let Some(outcome) = crate::team::run_on_team(tasks, &task) {
        return outcome;
    }
    if crate::threads::available() > 1 { (0..tasks).into_par_iter().try_for_each(&task) } else { (0..tasks).try_for_each(task) }
}

/// Whether a phase of `work` units, given `team_min` and `pool_min` as the least work worth splitting on a
/// team and on the pool, should be split at all (a team's threads are awake already: splitting pays sooner).
pub fn worth_splitting(work: usize, team_min: usize, pool_min: usize) -> bool {
    if crate::team::leading() { work >= team_min } else { work >= pool_min && crate::threads::available() > 1 }
}

/// `task(index, chunk)` for each `size`-long chunk of `data` (the last may be shorter), as a phase.
pub fn for_each_chunk_mut<T: Send>(data: &mut [T], size: usize, task: impl Fn(usize, &mut [T]) -> Result<()> + Sync) -> Result<()> {
    let size = size.max(1);
    let chunks = data.len().div_ceil(size);
    let data = Disjoint::new(data);
    // SAFETY: `for_each` runs each index once, so the chunks handed out are disjoint.
    for_each(chunks, |index| task(index, unsafe { data.chunk(index, size) }))
}

/// A mutable slice whose disjoint chunks the tasks of one phase write.
pub struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a Disjoint hands out `&mut [T]` chunks to other threads, as `&mut [T]: Send` when `T: Send`; the
// callers of `chunk` keep them disjoint.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub fn new(data: &'a mut [T]) -> Self {
        Disjoint { ptr: data.as_mut_ptr(), len: data.len(), _borrow: PhantomData }
    }

    /// Chunk `index` of `size` values: the last may be shorter, and one past the end is empty.
    ///
    /// # Safety
    /// No two chunks in use at the same time overlap (each index is taken once per phase).
    pub unsafe fn chunk(&self, index: usize, size: usize) -> &'a mut [T] {
        let start = index.saturating_mul(size).min(self.len);
        let end = start.saturating_add(size).min(self.len);
        // SAFETY: start..end lies inside the borrowed slice, and the caller keeps the chunks disjoint.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::Error;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every task runs once, on a team, on the pool and inline, over many phases.
    #[test]
    fn every_task_runs_once_whoever_runs_it() -> Result<()> {
        for threads in 1..=4 {
            for with_team in [false, true] {
                let counts: Vec<AtomicUsize> = (0..97).map(|_| AtomicUsize::new(0)).collect();
                let phases = || -> Result<()> {
                    for tasks in (0..=97).chain([1, 2, 3]) {
                        for_each(tasks, |t| {
                            counts.get(t).map(|c| c.fetch_add(1, Ordering::Relaxed));
                            Ok(())
                        })?;
                    }
                    Ok(())
                };
                pool(threads).install(|| if with_team { crate::team::with_team(phases) } else { phases() })?;
                let expected = |t: usize| (t + 1..=97).count() + [1, 2, 3].iter().filter(|&&n| t < n).count();
                for (t, count) in counts.iter().enumerate() {
                    assert_eq!(count.load(Ordering::Relaxed), expected(t), "task {t}, {threads} threads, team {with_team}");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn chunks_are_disjoint_and_cover_the_slice() -> Result<()> {
        let mut data = vec![0usize; 1000];
        pool(3).install(|| {
            crate::team::with_team(|| {
                for_each_chunk_mut(&mut data, 64, |index, chunk| {
                    chunk.iter_mut().for_each(|v| *v += index + 1);
                    Ok(())
                })
            })
        })?;
        assert!(data.iter().enumerate().all(|(i, &v)| v == i / 64 + 1));
        Ok(())
    }

    #[test]
    fn an_error_or_a_panic_in_a_task_is_returned_and_the_team_goes_on() {
        pool(2).install(|| {
            crate::team::with_team(|| {
                let failed = for_each(8, |t| if t == 5 { Err(Error::value("t", "five")) } else { Ok(()) });
                assert!(matches!(failed, Err(Error::Value { .. })), "{failed:?}");
                let panicked = for_each(8, |t| if t == 3 { panic!("a task panics") } else { Ok(()) });
                assert!(panicked.is_err());
                let ran = AtomicUsize::new(0);
                for_each(8, |_| {
                    ran.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(ran.load(Ordering::Relaxed), 8);
            })
        });
    }

    /// A phase inside a phase runs inline on the thread that reached it; a second team waits for none.
    #[test]
    fn nested_phases_and_teams_run_inline() -> Result<()> {
        let total = AtomicUsize::new(0);
        pool(2).install(|| {
            crate::team::with_team(|| {
                for_each(4, |_| {
                    crate::team::with_team(|| {
                        for_each(3, |_| {
                            total.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        })
                    })
                })
            })
        })?;
        assert_eq!(total.load(Ordering::Relaxed), 12);
        Ok(())
    }
}
