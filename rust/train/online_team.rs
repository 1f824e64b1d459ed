//! The online path on a team of threads, for whole chunks of batch-1 SGD steps.
//!
//! At batch 1 the first Dense layer holds almost all the weights, and per sample a thread pool would be woken
//! and put to sleep several times (a futex round trip costs about as much as the arithmetic). So for a run of
//! samples the engine's threads form a team: the first layer's rows are split between them in fixed blocks,
//! each thread keeping the same rows (and their velocity) in its own cache for the whole run. Per sample:
//!
//! 1. the leader (thread 0) forms the first layer's output from per-block partial sums, runs the later layers
//!    forward and the layers after the second backward with the serial online path (updating them), and
//!    publishes dz of the second layer;
//! 2. every thread takes its blocks of the second layer's rows: `dx_i = W[i,:]·dz` from the old row, then the
//!    row's update (the serial path's own block kernel);
//! 3. the leader gathers dx into dz of the first layer and publishes it;
//! 4. every thread updates its blocks of the first layer's rows in place (momentum fused) and, in the same pass
//!    over each row, adds the NEXT sample's input times the freshly updated row into its block's partial sum.
//!
//! The first layer's W is read once per sample instead of twice, the two large layers are updated by all
//! threads, and four barriers per sample (spinning, a few hundred nanoseconds each) replace the pool's wake-ups.
//! Partial sums are per fixed block of `BLOCK_ROWS` rows and added in block order, and the penalty likewise:
//! results do not depend on how many threads share the blocks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::kernels::dense;
use crate::network::layer::Layer;
use crate::optim::{Optimizer, SgdRule, Step};
use crate::scalar::Real;
use crate::spin_barrier::SpinBarrier;
use crate::train::dataset::Dataset;
use crate::train::epoch::{Budget, EpochState};
use crate::train::online::{BLOCK_ROWS, Penalty, sgd_block, short, update_row};
use crate::train::parts::Parts;

/// A first layer smaller than this trains on the serial online path (the team's barriers would cost more than
/// they save). A property of the model, not of the thread count, so the choice never changes results.
pub(crate) const TEAM_MIN_WEIGHTS: usize = 1 << 15;

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
    /// Its blocks of the second layer's rows, when that layer is shared too.
    second: Option<SecondShare<'a, T>>,
}

/// One thread's blocks of the second Dense layer: rows of W and velocity, their input gradients and penalties.
struct SecondShare<'a, T> {
    first_block: usize,
    w: &'a mut [T],
    velocity: &'a mut [T],
    dx: &'a mut [T],
    penalties: &'a mut [T],
    /// Copies of the published input (the first layer's output) and dz of the second layer.
    x: Vec<T>,
    dz: Vec<T>,
}

/// What the leader publishes for a sample.
struct Published<T> {
    /// dz of the first layer (phase 4).
    dz: Vec<T>,
    /// Input and dz of the second layer (phase 2), when it is shared.
    second_x: Vec<T>,
    second_dz: Vec<T>,
    /// Rows of the dataset: the sample being learned (None: no update, partial sums only) and the next one.
    now: Option<usize>,
    next: Option<usize>,
    stop: bool,
    penalty: Penalty<T>,
}

fn lock<X>(mutex: &Mutex<X>) -> MutexGuard<'_, X> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A Dense layer's weights and velocity, taken out of the network while the team shares them.
struct Taken<T> {
    w: Vec<T>,
    velocity: Vec<T>,
}

impl<T: Real> Parts<'_, T> {
    /// Whether batch-1 training takes the team path: the online path's layers, plain/momentum/Nesterov SGD, and
    /// a first Dense layer large enough to share.
    pub(crate) fn team_eligible(&self) -> bool {
        let sgd = matches!(self.opt.in_use(), Some(Optimizer::Sgd(_)));
        let large_first = match self.net.layers.first() {
            Some(Layer::Dense(d)) => d.fan_in * d.fan_out >= TEAM_MIN_WEIGHTS,
            _ => false,
        };
        sgd && large_first && self.net.layers.len() > 1 && self.online_eligible()
    }

    /// Whether the second layer is a Dense layer the team updates too (else the leader's serial pass does).
    fn second_shared(&self) -> bool {
        matches!(self.net.layers.get(1), Some(Layer::Dense(_)))
    }

    /// Take a Dense layer's weights and velocity out while the team shares them (state prepared first).
    fn take_dense(&mut self, index: usize) -> Option<Taken<T>> {
        let Some(Layer::Dense(d)) = self.net.layers.get_mut(index) else { return None };
        let velocity = self.opt.slots.get_mut(index).map(|[w, _]| std::mem::take(&mut w.first)).unwrap_or_default();
        Some(Taken { w: std::mem::take(&mut d.weight.value), velocity })
    }

    fn put_back(&mut self, index: usize, taken: Option<Taken<T>>) {
        if let (Some(Layer::Dense(d)), Some(taken)) = (self.net.layers.get_mut(index), taken) {
            d.weight.value = taken.w;
            if let Some([w, _]) = self.opt.slots.get_mut(index) {
                w.first = taken.velocity;
            }
        }
    }

    /// Train single-row batches of the current epoch from `state.next` until the epoch ends or `budget` has
    /// passed since `started` (at least one sample). A non-finite objective stops before its update and is
    /// returned as an error, the epoch state left at the failing sample.
    pub(crate) fn train_team(&mut self, data: &Dataset<T>, state: &mut EpochState, budget: &Budget) -> Result<()> {
        let Step::Sgd(rule) = self.opt.next_step()? else {
            return Err(Error::value("optimizer", "the team path runs SGD only"));
        };
        let rule = rule.cast::<T>();
        self.prepare_online()?;
        let mut first = self.take_dense(0);
        let mut second = if self.second_shared() { self.take_dense(1) } else { None };
        let outcome = match first.as_mut() {
            Some(first) => self.run_team(first, second.as_mut(), data, state, rule, budget),
            None => Err(Error::value("network", "the team path needs a Dense first layer")),
        };
        self.put_back(0, first);
        self.put_back(1, second);
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    fn run_team(
        &mut self,
        first: &mut Taken<T>,
        second: Option<&mut Taken<T>>,
        data: &Dataset<T>,
        state: &mut EpochState,
        rule: SgdRule<T>,
        budget: &Budget,
    ) -> Result<()> {
        let (Some(Layer::Dense(d0)), second_dims) = (self.net.layers.first(), second.is_some().then(|| self.net.layers.get(1)).flatten())
        else {
            return Err(short());
        };
        let (fan_in, fan_out) = (d0.fan_in, d0.fan_out);
        let second_out = match second_dims {
            Some(Layer::Dense(d1)) => d1.fan_out,
            _ => 0,
        };
        let blocks = fan_in.div_ceil(BLOCK_ROWS);
        let second_blocks = if second.is_some() { fan_out.div_ceil(BLOCK_ROWS) } else { 0 };
        let solo = SOLO_CHUNKS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok();
        // One team at a time, of either kind (`team.rs`); a run that finds one running runs alone (same results).
        let team_lock = if solo { None } else { crate::team::reserve() };
        let threads = if team_lock.is_some() { crate::threads::available().clamp(1, blocks) } else { 1 };
        let first_sample = state.next;
        let zeros = |n: usize| crate::buffer::zeros::<T>(n, "the online team's buffers");
        let (mut partials, mut penalties) = (zeros(blocks * fan_out)?, zeros(blocks)?);
        let (mut second_dx, mut second_penalties) = (zeros(fan_out)?, zeros(second_blocks)?);
        let first_layer =
            Layer1 { w: &mut first.w, velocity: &mut first.velocity, partials: &mut partials, penalties: &mut penalties, fan_out };
        let second_layer = second.map(|taken| Layer2 {
            w: &mut taken.w,
            velocity: &mut taken.velocity,
            dx: &mut second_dx,
            penalties: &mut second_penalties,
            fan_in: fan_out,
            fan_out: second_out,
        });
        let shares = split_shares(first_layer, second_layer, threads)?;
        let published = Mutex::new(Published {
            dz: zeros(fan_out)?,
            second_x: zeros(fan_out)?,
            second_dz: zeros(second_out)?,
            now: None,
            next: None,
            stop: false,
            penalty: None,
        });
        let barrier = SpinBarrier::new(threads);
        let leader = Mutex::new((self, state, None::<Result<()>>));
        let cols = data.cols;
        let row_of = |index: usize| data.x.get(index * cols..(index + 1) * cols);
        let member = |thread: usize| {
            let Some(share) = shares.get(thread) else { return };
            if thread == 0 {
                let mut guard = lock(&leader);
                let (net, state, outcome) = &mut *guard;
                let result = net.lead(data, state, &shares, &published, &barrier, rule, budget, &row_of);
                *outcome = Some(result);
                // Release the others, whatever happened.
                lock(&published).stop = true;
                barrier.wait();
            } else {
                loop {
                    barrier.wait();
                    if !second_layer_phase(share, &published, rule) {
                        return;
                    }
                    barrier.wait();
                    barrier.wait();
                    first_layer_phase(share, &published, rule, fan_out, &row_of);
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
        // Four barrier waits per sample: if more than one sample in four put a member to sleep, run alone for a while.
        if threads > 1 && barrier.sleeps() * 4 > state.next - first_sample {
            SOLO_CHUNKS.store(SOLO_CHUNKS_AFTER_CONTENTION, Ordering::Relaxed);
        }
        outcome.unwrap_or_else(|| Err(Error::value("online team", "the leader did not run")))
    }

    /// The leader's loop (see the module docs). Workers wait at the barrier between the phases.
    #[allow(clippy::too_many_arguments)]
    fn lead<'d>(
        &mut self,
        data: &Dataset<T>,
        state: &mut EpochState,
        shares: &[Mutex<Share<'_, T>>],
        published: &Mutex<Published<T>>,
        barrier: &SpinBarrier,
        rule: SgdRule<T>,
        budget: &Budget,
        row_of: &(dyn Fn(usize) -> Option<&'d [T]> + Sync),
    ) -> Result<()> {
        let rows = state.order.len();
        let weighted = data.weights.is_some();
        let fan_out = match self.net.layers.first() {
            Some(Layer::Dense(d)) => d.fan_out,
            _ => return Err(short()),
        };
        let second = self.second_shared();
        let index_at = |position: usize| state.order.get(position).map(|&i| i as usize);
        let own = shares.first().ok_or_else(short)?;
        // Partial sums of the first sample (no update): every thread computes its blocks.
        {
            let mut p = lock(published);
            p.now = None;
            p.next = index_at(state.next);
        }
        barrier.wait();
        second_layer_phase(own, published, rule);
        barrier.wait();
        barrier.wait();
        first_layer_phase(own, published, rule, fan_out, row_of);
        barrier.wait();
        while state.next < rows {
            let index = index_at(state.next).ok_or_else(short)?;
            data.gather(&[index as u32], self.ws)?;
            self.first_layer_output(shares, fan_out)?;
            if second {
                self.second_layer_output(shares)?;
                self.forward_online(2)?;
            } else {
                self.forward_online(1)?;
            }
            let (loss, correct) = self.net.loss_workspace(self.ws, 1, weighted)?;
            if !loss.is_finite() {
                return Err(Error::NonFinite { value: loss.f64(), batch: Some(state.batch_index) });
            }
            let penalty = self.online_penalty(weighted);
            let (rest_penalty, current) = self.backward_online(if second { 2 } else { 1 }, weighted)?;
            {
                let mut p = lock(published);
                p.now = Some(index);
                p.next = index_at(state.next + 1);
                p.penalty = penalty;
                if second {
                    self.publish_second(current, &mut p)?;
                } else {
                    let grad = self.ws.grad.get(current).ok_or_else(short)?;
                    self.first_layer_dz(grad, &mut p.dz)?;
                }
            }
            barrier.wait();
            second_layer_phase(own, published, rule);
            barrier.wait();
            if second {
                let mut p = lock(published);
                let dx = self.scratch.row_grad.get_mut(..fan_out).ok_or_else(short)?;
                gather_second_dx(shares, dx)?;
                self.first_layer_dz(&self.scratch.row_grad, &mut p.dz)?;
            }
            self.update_bias(0, &lock(published).dz)?;
            barrier.wait();
            first_layer_phase(own, published, rule, fan_out, row_of);
            barrier.wait();
            let (mut first_penalty, mut second_penalty) = (T::zero(), T::zero());
            for share in shares {
                let share = lock(share);
                first_penalty = share.penalties.iter().fold(first_penalty, |sum, &p| sum + p);
                if let Some(s) = &share.second {
                    second_penalty = s.penalties.iter().fold(second_penalty, |sum, &p| sum + p);
                }
            }
            self.counters.step += 1;
            self.opt.updates += 1;
            state.loss_sum += (loss + ((rest_penalty + second_penalty) + first_penalty)).f64();
            state.correct += correct;
            state.next += 1;
            state.batch_index += 1;
            if budget.spent(state) {
                break;
            }
        }
        Ok(())
    }

    /// The second layer's input (the first layer's output) and its dz, from d loss / d (its output) in
    /// `ws.grad[current]`; also its bias update.
    fn publish_second(&mut self, current: usize, p: &mut Published<T>) -> Result<()> {
        let fused_last = self.net.fused_head && self.net.layers.len() == 2;
        let Some(Layer::Dense(d)) = self.net.layers.get(1) else { return Err(short()) };
        let (n_in, n_out) = (d.fan_in, d.fan_out);
        let grad = self.ws.grad.get(current).and_then(|g| g.get(..n_out)).ok_or_else(short)?;
        let dz = p.second_dz.get_mut(..n_out).ok_or_else(short)?;
        dz.copy_from_slice(grad);
        if !fused_last {
            d.activation.backward(dz, self.ws.acts.get(2).and_then(|a| a.get(..n_out)).ok_or_else(short)?, n_out);
        }
        let x = self.ws.acts.get(1).and_then(|a| a.get(..n_in)).ok_or_else(short)?;
        p.second_x.get_mut(..n_in).ok_or_else(short)?.copy_from_slice(x);
        self.update_bias(1, &p.second_dz)
    }

    /// The first layer's output for the gathered sample: bias plus the block partial sums in block order, then
    /// the activation.
    fn first_layer_output(&mut self, shares: &[Mutex<Share<'_, T>>], fan_out: usize) -> Result<()> {
        let Some(Layer::Dense(d)) = self.net.layers.first() else { return Err(short()) };
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

    /// The second layer's output, its rows read from the shares in row order (the team holds them): bias plus
    /// `Σ_i x_i·W[i,:]`, then the activation (unless the loss fuses it).
    fn second_layer_output(&mut self, shares: &[Mutex<Share<'_, T>>]) -> Result<()> {
        let fused_last = self.net.fused_head && self.net.layers.len() == 2;
        let Some(Layer::Dense(d)) = self.net.layers.get(1) else { return Err(short()) };
        let (n_in, n_out) = (d.fan_in, d.fan_out);
        let (inputs, outputs) = self.ws.acts.split_at_mut(2);
        let x = inputs.get(1).and_then(|a| a.get(..n_in)).ok_or_else(short)?;
        let out = outputs.first_mut().and_then(|a| a.get_mut(..n_out)).ok_or_else(short)?;
        out.copy_from_slice(d.bias.value.get(..n_out).ok_or_else(short)?);
        for share in shares {
            let share = lock(share);
            let Some(second) = &share.second else { continue };
            let start = second.first_block * BLOCK_ROWS;
            let x = x.get(start..).ok_or_else(short)?;
            for (row, &xi) in second.w.chunks_exact(n_out).zip(x) {
                if xi != T::zero() {
                    dense::axpy(out, xi, row);
                }
            }
        }
        if !fused_last {
            d.activation.forward(out, n_out);
        }
        Ok(())
    }

    /// dz of the first layer from d loss / d (its output) in `grad`.
    fn first_layer_dz(&self, grad: &[T], dz: &mut [T]) -> Result<()> {
        let Some(Layer::Dense(d)) = self.net.layers.first() else { return Err(short()) };
        let n = d.fan_out;
        let dz = dz.get_mut(..n).ok_or_else(short)?;
        dz.copy_from_slice(grad.get(..n).ok_or_else(short)?);
        d.activation.backward(dz, self.ws.acts.get(1).and_then(|a| a.get(..n)).ok_or_else(short)?, n);
        Ok(())
    }

    fn update_bias(&mut self, index: usize, dz: &[T]) -> Result<()> {
        let step = self.opt.next_step()?;
        let Some(Layer::Dense(d)) = self.net.layers.get_mut(index) else { return Err(short()) };
        let slots = self.opt.slots_mut(index, 1)?;
        step.apply(&mut d.bias.value, dz.get(..d.fan_out).ok_or_else(short)?, &mut slots.first, &mut slots.second)
    }
}

/// The second layer's dx, gathered from the shares in row order into `out`.
fn gather_second_dx<T: Real>(shares: &[Mutex<Share<'_, T>>], out: &mut [T]) -> Result<()> {
    let mut rest = out;
    for share in shares {
        if let Some(second) = &lock(share).second {
            take_front(&mut rest, second.dx.len())?.copy_from_slice(second.dx);
        }
    }
    Ok(())
}

/// The first layer, split by `split_shares`.
struct Layer1<'a, T> {
    w: &'a mut [T],
    velocity: &'a mut [T],
    partials: &'a mut [T],
    penalties: &'a mut [T],
    fan_out: usize,
}

/// The second layer, split by `split_shares`.
struct Layer2<'a, T> {
    w: &'a mut [T],
    velocity: &'a mut [T],
    dx: &'a mut [T],
    penalties: &'a mut [T],
    fan_in: usize,
    fan_out: usize,
}

/// Take the first `n` elements off the front of `slice`.
fn take_front<'a, T>(slice: &mut &'a mut [T], n: usize) -> Result<&'a mut [T]> {
    let (front, rest) = std::mem::take(slice).split_at_mut_checked(n).ok_or_else(short)?;
    *slice = rest;
    Ok(front)
}

/// Rows and blocks of a layer with `rows` rows in blocks of `BLOCK_ROWS`, for thread `thread` of `threads`:
/// (first block, number of blocks, number of rows).
fn blocks_of(rows: usize, thread: usize, threads: usize) -> (usize, usize, usize) {
    let blocks = rows.div_ceil(BLOCK_ROWS);
    let (first, end) = (thread * blocks / threads, (thread + 1) * blocks / threads);
    let n_rows = (end * BLOCK_ROWS).min(rows) - (first * BLOCK_ROWS).min(rows);
    (first, end - first, n_rows)
}

/// Split the layers into `threads` shares of whole blocks of rows.
fn split_shares<'a, T: Real>(first: Layer1<'a, T>, second: Option<Layer2<'a, T>>, threads: usize) -> Result<Vec<Mutex<Share<'a, T>>>> {
    let Layer1 { mut w, mut velocity, mut partials, mut penalties, fan_out } = first;
    let rows = w.len() / fan_out.max(1);
    let mut second = second;
    let mut shares = Vec::with_capacity(threads);
    for thread in 0..threads {
        let (first_block, n_blocks, n_rows) = blocks_of(rows, thread, threads);
        let v_len = if velocity.is_empty() { 0 } else { n_rows * fan_out };
        let second_share = match second.as_mut() {
            Some(layer) => {
                let (first_block, n_blocks, n_rows) = blocks_of(layer.fan_in, thread, threads);
                let v_len = if layer.velocity.is_empty() { 0 } else { n_rows * layer.fan_out };
                Some(SecondShare {
                    first_block,
                    w: take_front(&mut layer.w, n_rows * layer.fan_out)?,
                    velocity: take_front(&mut layer.velocity, v_len)?,
                    dx: take_front(&mut layer.dx, n_rows)?,
                    penalties: take_front(&mut layer.penalties, n_blocks)?,
                    x: crate::buffer::zeros(layer.fan_in, "the online team's buffers")?,
                    dz: crate::buffer::zeros(layer.fan_out, "the online team's buffers")?,
                })
            }
            None => None,
        };
        shares.push(Mutex::new(Share {
            first_block,
            w: take_front(&mut w, n_rows * fan_out)?,
            velocity: take_front(&mut velocity, v_len)?,
            partials: take_front(&mut partials, n_blocks * fan_out)?,
            penalties: take_front(&mut penalties, n_blocks)?,
            dz: crate::buffer::zeros(fan_out, "the online team's buffers")?,
            second: second_share,
        }));
    }
    Ok(shares)
}

/// Phase 2: this thread's blocks of the second layer — dx from the old rows, then their update (the serial
/// online path's block kernel, so the arithmetic is the same). Returns false when the team is done.
fn second_layer_phase<T: Real>(share: &Mutex<Share<'_, T>>, published: &Mutex<Published<T>>, rule: SgdRule<T>) -> bool {
    let mut share = lock(share);
    let Some(second) = share.second.as_mut() else { return !lock(published).stop };
    let SecondShare { first_block, w, velocity, dx, penalties, x, dz } = second;
    let (now, penalty) = {
        let p = lock(published);
        if p.stop {
            return false;
        }
        x.iter_mut().zip(&p.second_x).for_each(|(mine, &v)| *mine = v);
        dz.iter_mut().zip(&p.second_dz).for_each(|(mine, &v)| *mine = v);
        (p.now, p.penalty)
    };
    if now.is_none() {
        return true; // the run's first phase only forms partial sums
    }
    let fan_out = dz.len();
    let chunk = BLOCK_ROWS * fan_out;
    let has_velocity = !velocity.is_empty();
    for (k, (w_block, dx_block)) in w.chunks_mut(chunk).zip(dx.chunks_mut(BLOCK_ROWS)).enumerate() {
        let start = (*first_block + k) * BLOCK_ROWS;
        let x_block = x.get(start..start + dx_block.len()).unwrap_or(&[]);
        let v_block = if has_velocity { velocity.get_mut(k * chunk..k * chunk + w_block.len()).unwrap_or(&mut []) } else { &mut [] };
        let value = sgd_block(w_block, v_block, x_block, dz, Some(dx_block), fan_out, &rule, penalty);
        if let Some(slot) = penalties.get_mut(k) {
            *slot = value;
        }
    }
    true
}

/// Phase 4: this thread's blocks of the first layer — the update from the published dz, and the next sample's
/// partial sums with the updated rows.
fn first_layer_phase<'d, T: Real>(
    share: &Mutex<Share<'_, T>>,
    published: &Mutex<Published<T>>,
    rule: SgdRule<T>,
    fan_out: usize,
    row_of: &(dyn Fn(usize) -> Option<&'d [T]> + Sync),
) {
    let mut share = lock(share);
    let Share { first_block, w, velocity, partials, penalties, dz, .. } = &mut *share;
    let (now, next, penalty) = {
        let p = lock(published);
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
        let value = team_block(w_block, v_block, x_now, dz, x_next, partial, fan_out, &rule, penalty);
        if let Some(slot) = penalties.get_mut(k) {
            *slot = value;
        }
    }
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
    rule: &SgdRule<T>,
    penalty: Penalty<T>,
) -> T {
    let mut value = T::zero();
    partial.fill(T::zero());
    for (r, w_row) in w.chunks_exact_mut(fan_out).enumerate() {
        if let Some(xi) = x_now.and_then(|x| x.get(r)).copied() {
            value += update_row(w_row, velocity, r, xi, dz, rule, penalty);
        }
        if let Some(a) = x_next.and_then(|x| x.get(r)).copied()
            && a != T::zero()
        {
            dense::axpy(partial, a, w_row);
        }
    }
    value
}
