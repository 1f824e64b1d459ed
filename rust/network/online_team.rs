//! The online path on a team of threads, for whole chunks of batch-1 SGD steps.
//!
//! At batch 1 the first Dense layer holds almost all the weights, and per sample a thread pool would be woken
//! and put to sleep several times (a futex round trip costs about as much as the arithmetic). So for a run of
//! samples the engine's threads form a team: the first layer's rows are split between them in fixed blocks,
//! each thread keeping the same rows (and their velocity) in its own cache for the whole run. Per sample:
//!
//! 1. the leader (thread 0) forms the first layer's output from per-block partial sums, runs the smaller layers
//!    forward and backward with the serial online path (updating them), and publishes dz of the first layer;
//! 2. every thread updates its blocks of rows in place (momentum fused) and, in the same pass over each row,
//!    adds the NEXT sample's input times the freshly updated row into its block's partial sum.
//!
//! W is read once per sample instead of twice, and two spin barriers per sample replace the pool's wake-ups.
//! Partial sums are per fixed block of `BLOCK_ROWS` rows and added in block order, and the penalty likewise:
//! results do not depend on how many threads share the blocks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::kernels::dense;
use crate::network::dataset::Dataset;
use crate::network::layer::Layer;
use crate::network::network::Network;
use crate::network::online::{BLOCK_ROWS, short};
use crate::network::train::EpochState;
use crate::optim::{Optimizer, Step, sgd};
use crate::scalar::Real;
use crate::spin_barrier::SpinBarrier;

/// A first layer smaller than this trains on the serial online path (the team's barriers would cost more than
/// they save). A property of the model, not of the thread count, so the choice never changes results.
pub(crate) const TEAM_MIN_WEIGHTS: usize = 1 << 15;

/// Only one team runs at a time: two teams sharing one pool could each hold a thread the other waits for.
/// A run that finds the team busy runs alone on its own thread (same results, see the module docs).
static TEAM: Mutex<()> = Mutex::new(());

/// Chunks to run alone before trying the team again. Set when the team's threads keep missing each other at the
/// barrier (an oversubscribed machine: another process holds the core a team member needs), where one thread
/// is faster than a team that waits on the scheduler twice per sample. Results do not change either way.
static SOLO_CHUNKS: AtomicUsize = AtomicUsize::new(0);
const SOLO_CHUNKS_AFTER_CONTENTION: usize = 10;

/// One thread's share of the first layer: whole blocks of rows of W and its velocity, and their partial sums.
struct Share<'a, T> {
    first_block: usize,
    w: &'a mut [T],
    velocity: &'a mut [T],
    /// One row of `fan_out` partial sums per block: Σ over the block's rows of x_next,i · W[i,:].
    partials: &'a mut [T],
    /// Penalty value per block, of the rows before this sample's update.
    penalties: &'a mut [T],
    /// This thread's copy of the published dz.
    dz: Vec<T>,
}

/// What the leader publishes for a sample.
struct Published<T> {
    dz: Vec<T>,
    /// Rows of the dataset: the sample being learned (None: no update, partial sums only) and the next one.
    now: Option<usize>,
    next: Option<usize>,
    stop: bool,
    penalty: Option<(T, T)>,
}

/// The SGD constants of the run.
#[derive(Clone, Copy)]
struct Rule<T> {
    lr: T,
    momentum: T,
    nesterov: bool,
}

fn lock<X>(mutex: &Mutex<X>) -> MutexGuard<'_, X> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T: Real> Network<T> {
    /// Whether batch-1 training takes the team path: the online path's layers, plain/momentum/Nesterov SGD, and
    /// a first Dense layer large enough to share.
    pub(crate) fn team_eligible(&self) -> bool {
        let sgd = matches!(self.optimizer, Some(Optimizer::Sgd { .. }));
        let large_first = match self.layers.first() {
            Some(Layer::Dense(d)) => d.fan_in * d.fan_out >= TEAM_MIN_WEIGHTS,
            _ => false,
        };
        sgd && large_first && self.layers.len() > 1 && self.online_eligible()
    }

    /// Train single-row batches of the current epoch from `state.next` until the epoch ends or `budget` has
    /// passed since `started` (at least one sample). A non-finite objective stops before its update and is
    /// returned as an error, the epoch state left at the failing sample.
    pub(crate) fn train_team(&mut self, data: &Dataset<T>, state: &mut EpochState, budget: Duration, started: Instant) -> Result<()> {
        let optimizer = self.optimizer.ok_or_else(|| Error::value("optimizer", "is not set: call set_optimizer first"))?;
        let Step::Sgd { lr, momentum, nesterov } = optimizer.at_step(self.updates + 1) else {
            return Err(Error::value("optimizer", "the team path runs SGD only"));
        };
        let rule = Rule { lr: T::of(lr), momentum: T::of(momentum), nesterov };
        let (w, velocity) = match self.layers.first_mut() {
            Some(Layer::Dense(d)) => {
                optimizer.prepare(&mut d.weight.slots, d.weight.value.len());
                optimizer.prepare(&mut d.bias.slots, d.bias.value.len());
                (std::mem::take(&mut d.weight.value), std::mem::take(&mut d.weight.slots.first))
            }
            _ => return Err(Error::value("network", "the team path needs a Dense first layer")),
        };
        let (mut w, mut velocity) = (w, velocity);
        let outcome = self.run_team(&mut w, &mut velocity, data, state, rule, budget, started);
        if let Some(Layer::Dense(d)) = self.layers.first_mut() {
            d.weight.value = w;
            d.weight.slots.first = velocity;
        }
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    fn run_team(
        &mut self,
        w: &mut [T],
        velocity: &mut [T],
        data: &Dataset<T>,
        state: &mut EpochState,
        rule: Rule<T>,
        budget: Duration,
        started: Instant,
    ) -> Result<()> {
        let (fan_in, fan_out) = match self.layers.first() {
            Some(Layer::Dense(d)) => (d.fan_in, d.fan_out),
            _ => return Err(short()),
        };
        let blocks = fan_in.div_ceil(BLOCK_ROWS);
        let solo = SOLO_CHUNKS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok();
        let team_lock = if solo { None } else { TEAM.try_lock().ok() };
        let threads = if team_lock.is_some() { rayon::current_num_threads().clamp(1, blocks) } else { 1 };
        let first_sample = state.next;
        let mut partials = crate::buffer::zeros(blocks * fan_out, "the online team's partial sums")?;
        let mut penalties = crate::buffer::zeros(blocks, "the online team's partial sums")?;
        let shares = split_shares(w, velocity, &mut partials, &mut penalties, fan_out, blocks, threads)?;
        let published =
            Mutex::new(Published { dz: crate::buffer::zeros(fan_out, "dz")?, now: None, next: None, stop: false, penalty: None });
        let barrier = SpinBarrier::new(threads);
        let leader = Mutex::new((self, state, None::<Result<()>>));
        let cols = data.cols;
        let row_of = |index: usize| data.x.get(index * cols..(index + 1) * cols);
        let member = |thread: usize| {
            let Some(share) = shares.get(thread) else { return };
            if thread == 0 {
                let mut guard = lock(&leader);
                let (net, state, outcome) = &mut *guard;
                let result = net.lead(data, state, &shares, &published, &barrier, rule, budget, started, &row_of);
                *outcome = Some(result);
                // Release the others, whatever happened.
                lock(&published).stop = true;
                barrier.wait();
            } else {
                loop {
                    barrier.wait();
                    if !work_on_share(share, &published, rule, fan_out, &row_of) {
                        return;
                    }
                    barrier.wait();
                }
            }
        };
        if threads > 1 {
            rayon::broadcast(|ctx| member(ctx.index()));
        } else {
            member(0);
        }
        drop(team_lock);
        let (_, state, outcome) = leader.into_inner().unwrap_or_else(PoisonError::into_inner);
        // Two barrier waits per sample: if more than one sample in four put a member to sleep, run alone for a while.
        if threads > 1 && barrier.sleeps() * 4 > state.next - first_sample {
            SOLO_CHUNKS.store(SOLO_CHUNKS_AFTER_CONTENTION, Ordering::Relaxed);
        }
        outcome.unwrap_or_else(|| Err(Error::value("online team", "the leader did not run")))
    }

    /// The leader's loop (see the module docs). Workers wait at the barrier between the two phases.
    #[allow(clippy::too_many_arguments)]
    fn lead<'d>(
        &mut self,
        data: &Dataset<T>,
        state: &mut EpochState,
        shares: &[Mutex<Share<'_, T>>],
        published: &Mutex<Published<T>>,
        barrier: &SpinBarrier,
        rule: Rule<T>,
        budget: Duration,
        started: Instant,
        row_of: &(dyn Fn(usize) -> Option<&'d [T]> + Sync),
    ) -> Result<()> {
        let rows = state.order.len();
        let weighted = data.weights.is_some();
        let fan_out = match self.layers.first() {
            Some(Layer::Dense(d)) => d.fan_out,
            _ => return Err(short()),
        };
        let index_at = |position: usize| state.order.get(position).map(|&i| i as usize);
        // Partial sums of the first sample (no update): every thread computes its blocks.
        {
            let mut p = lock(published);
            p.now = None;
            p.next = index_at(state.next);
        }
        let first = shares.first().ok_or_else(short)?;
        barrier.wait();
        work_on_share(first, published, rule, fan_out, row_of);
        barrier.wait();
        while state.next < rows {
            let index = index_at(state.next).ok_or_else(short)?;
            data.gather(&[index as u32], &mut self.ws)?;
            self.first_layer_output(shares, fan_out)?;
            self.forward_online(1)?;
            let (loss, correct) = self.loss_workspace(1, weighted)?;
            if !loss.is_finite() {
                return Err(Error::NonFinite { epoch: state.epoch, batch: state.batch_index, value: loss.f64() });
            }
            let (rest_penalty, current) = self.backward_online(1, weighted)?;
            let (l1, l2) = self.penalty_coefficients(self.online_weight(weighted));
            {
                let mut p = lock(published);
                self.first_layer_dz(current, &mut p.dz)?;
                p.now = Some(index);
                p.next = index_at(state.next + 1);
                p.penalty = (l1 != 0.0 || l2 != 0.0).then(|| (T::of(l1), T::of(l2)));
                self.update_first_bias(&p.dz)?;
            }
            barrier.wait();
            work_on_share(first, published, rule, fan_out, row_of);
            barrier.wait();
            let first_penalty = shares.iter().fold(T::zero(), |sum, share| lock(share).penalties.iter().fold(sum, |s, &p| s + p));
            self.step += 1;
            self.updates += 1;
            state.loss_sum += (loss + (rest_penalty + first_penalty)).f64();
            state.correct += correct;
            state.next += 1;
            state.batch_index += 1;
            if started.elapsed() >= budget {
                break;
            }
        }
        Ok(())
    }

    /// The first layer's output for the gathered sample: bias plus the block partial sums in block order, then
    /// the activation.
    fn first_layer_output(&mut self, shares: &[Mutex<Share<'_, T>>], fan_out: usize) -> Result<()> {
        let Some(Layer::Dense(d)) = self.layers.first() else { return Err(short()) };
        let out = self.ws.acts.get_mut(1).and_then(|a| a.get_mut(..fan_out)).ok_or_else(short)?;
        out.copy_from_slice(d.bias.value.get(..fan_out).ok_or_else(short)?);
        for share in shares {
            for partial in lock(share).partials.chunks_exact(fan_out) {
                dense::axpy(out, T::one(), partial);
            }
        }
        d.activation.forward(out, fan_out);
        Ok(())
    }

    /// dz of the first layer from d loss / d (its output) in `ws.grad[current]`.
    fn first_layer_dz(&self, current: usize, dz: &mut [T]) -> Result<()> {
        let Some(Layer::Dense(d)) = self.layers.first() else { return Err(short()) };
        let n = d.fan_out;
        let grad = self.ws.grad.get(current).and_then(|g| g.get(..n)).ok_or_else(short)?;
        let dz = dz.get_mut(..n).ok_or_else(short)?;
        dz.copy_from_slice(grad);
        d.activation.backward(dz, self.ws.acts.get(1).and_then(|a| a.get(..n)).ok_or_else(short)?, n);
        Ok(())
    }

    fn update_first_bias(&mut self, dz: &[T]) -> Result<()> {
        let optimizer = self.optimizer.ok_or_else(short)?;
        let step = optimizer.at_step(self.updates + 1);
        let Some(Layer::Dense(d)) = self.layers.first_mut() else { return Err(short()) };
        let crate::optim::Slots { first, second } = &mut d.bias.slots;
        step.apply(&mut d.bias.value, dz, first, second)
    }
}

/// Split W, its velocity and the partial sums into `threads` shares of whole blocks.
fn split_shares<'a, T: Real>(
    mut w: &'a mut [T],
    mut velocity: &'a mut [T],
    mut partials: &'a mut [T],
    mut penalties: &'a mut [T],
    fan_out: usize,
    blocks: usize,
    threads: usize,
) -> Result<Vec<Mutex<Share<'a, T>>>> {
    let mut shares = Vec::with_capacity(threads);
    let rows_total = w.len() / fan_out.max(1);
    for thread in 0..threads {
        let (first_block, end_block) = (thread * blocks / threads, (thread + 1) * blocks / threads);
        let rows = (end_block * BLOCK_ROWS).min(rows_total) - (first_block * BLOCK_ROWS).min(rows_total);
        let (w_here, w_rest) = std::mem::take(&mut w).split_at_mut_checked(rows * fan_out).ok_or_else(short)?;
        let v_len = if velocity.is_empty() { 0 } else { rows * fan_out };
        let (v_here, v_rest) = std::mem::take(&mut velocity).split_at_mut_checked(v_len).ok_or_else(short)?;
        let n_blocks = end_block - first_block;
        let (p_here, p_rest) = std::mem::take(&mut partials).split_at_mut_checked(n_blocks * fan_out).ok_or_else(short)?;
        let (pen_here, pen_rest) = std::mem::take(&mut penalties).split_at_mut_checked(n_blocks).ok_or_else(short)?;
        (w, velocity, partials, penalties) = (w_rest, v_rest, p_rest, pen_rest);
        let dz = crate::buffer::zeros(fan_out, "dz")?;
        shares.push(Mutex::new(Share { first_block, w: w_here, velocity: v_here, partials: p_here, penalties: pen_here, dz }));
    }
    Ok(shares)
}

/// One thread's phase: read what the leader published, then update its rows and form the next partial sums.
/// Returns false when the team is done.
fn work_on_share<'d, T: Real>(
    share: &Mutex<Share<'_, T>>,
    published: &Mutex<Published<T>>,
    rule: Rule<T>,
    fan_out: usize,
    row_of: &(dyn Fn(usize) -> Option<&'d [T]> + Sync),
) -> bool {
    let mut share = lock(share);
    let Share { first_block, w, velocity, partials, penalties, dz } = &mut *share;
    let (now, next, penalty) = {
        let p = lock(published);
        if p.stop {
            return false;
        }
        dz.iter_mut().zip(&p.dz).for_each(|(mine, &published)| *mine = published);
        (p.now, p.next, p.penalty)
    };
    let x_now = now.and_then(row_of);
    let x_next = next.and_then(row_of);
    let chunk = BLOCK_ROWS * fan_out;
    let has_velocity = !velocity.is_empty();
    for (k, (w_block, partial)) in w.chunks_mut(chunk).zip(partials.chunks_exact_mut(fan_out)).enumerate() {
        let start = (*first_block + k) * BLOCK_ROWS;
        let rows = start..start + w_block.len() / fan_out.max(1);
        let v_block = if has_velocity { velocity.get_mut(k * chunk..k * chunk + w_block.len()).unwrap_or(&mut []) } else { &mut [] };
        let x_now = x_now.and_then(|x| x.get(rows.clone()));
        let x_next = x_next.and_then(|x| x.get(rows));
        let value = team_block(w_block, v_block, x_now, dz, x_next, partial, fan_out, rule.lr, rule.momentum, rule.nesterov, penalty);
        if let Some(slot) = penalties.get_mut(k) {
            *slot = value;
        }
    }
    true
}

/// One block of rows: with `x_now`, the SGD update of each row from `x_i·dz` (+ penalty); with `x_next`, the
/// block's partial sum `Σ_i x_next,i · W[i,:]` of the updated rows. Returns the block's penalty value before the
/// update, summed row by row as the serial online path does.
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn team_block<T: Real>(
    w: &mut [T],
    velocity: &mut [T],
    x_now: Option<&[T]>,
    dz: &[T],
    x_next: Option<&[T]>,
    partial: &mut [T],
    fan_out: usize,
    lr: T,
    momentum: T,
    nesterov: bool,
    penalty: Option<(T, T)>,
) -> T {
    let skip_zero_rows = velocity.is_empty() && penalty.is_none();
    let half = T::of(0.5);
    let mut value = T::zero();
    partial.fill(T::zero());
    for (r, w_row) in w.chunks_exact_mut(fan_out).enumerate() {
        if let Some(xi) = x_now.and_then(|x| x.get(r)).copied()
            && !(xi == T::zero() && skip_zero_rows)
        {
            let v_row = velocity.get_mut(r * fan_out..(r + 1) * fan_out).unwrap_or(&mut []);
            let (sum_sq, sum_abs) = sgd::outer_product_update(w_row, v_row, xi, dz, lr, momentum, nesterov, penalty);
            if let Some((l1, l2)) = penalty {
                value += half * l2 * sum_sq + l1 * sum_abs;
            }
        }
        if let Some(a) = x_next.and_then(|x| x.get(r)).copied()
            && a != T::zero()
        {
            dense::axpy(partial, a, w_row);
        }
    }
    value
}
