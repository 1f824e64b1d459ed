//! The online path: one training step on a single row (batch size 1, the classic tutorials' online SGD).
//!
//! A GEMM at one row spends more time packing W than multiplying, and a dW buffer doubles the memory traffic,
//! so here each Dense layer runs as a GEMV forward and, backward, as ONE pass over W's rows that computes the
//! input gradient `dx_i = W[i,:]·dz` from the old row, forms the row's gradient `x_i·dz` (+ penalty) in a small
//! buffer, and applies the optimizer to the row in place. Weights are streamed through the caches twice per
//! sample (forward, then update) instead of five or more times.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::kernels::activation::Activation;
use crate::kernels::dense;
use crate::network::BatchResult;
use crate::network::layer::{Dense, Layer};
use crate::optim::{SgdRule, Slots, Step};
use crate::scalar::Real;
use crate::train::parts::Parts;

/// Penalty weights, when any applies.
pub(crate) type Penalty<T> = Option<(T, T)>;

/// Rows per task of the online update. Fixed, so that the penalty's partial sums (the only reduction) are the
/// same whatever the thread count.
pub(crate) const BLOCK_ROWS: usize = 32;
/// Weight matrices at least this large are updated on several threads.
const PARALLEL_MIN_WEIGHTS: usize = 1 << 16;

pub(crate) fn short() -> Error {
    Error::value("online step", "buffer too small")
}

impl<T: Real> Parts<'_, T> {
    /// Whether a one-row step can take the online path: Dense and Activation layers only (Dropout, DropConnect
    /// and BatchNorm take the general path).
    pub(crate) fn online_eligible(&self) -> bool {
        self.net.layers.iter().all(|layer| match layer {
            Layer::Dense(d) => d.dropconnect == 0.0,
            Layer::Activation { .. } => true,
            Layer::Dropout { .. } | Layer::BatchNorm(_) => false,
        })
    }

    /// The online path's scratch and the optimizer state, allocated before anything changes.
    pub(crate) fn prepare_online(&mut self) -> Result<()> {
        let widest = self.net.layers.iter().map(Layer::out_dim).chain([self.net.input_dim]).max().unwrap_or(1);
        self.scratch.ensure(widest, widest.div_ceil(BLOCK_ROWS))?;
        self.prepare_optimizer_state()
    }

    /// A training step on the single row in the workspace (see the module docs).
    pub(crate) fn train_online(&mut self, weighted: bool) -> Result<BatchResult> {
        self.forward_online(0)?;
        let (loss, correct) = self.net.loss_workspace(self.ws, 1, weighted)?;
        if !loss.is_finite() {
            return Ok(BatchResult { objective: loss.f64(), correct });
        }
        self.prepare_online()?;
        let (penalty_value, _) = self.backward_online(0, weighted)?;
        self.counters.step += 1;
        self.opt.updates += 1;
        Ok(BatchResult { objective: (loss + penalty_value).f64(), correct })
    }

    /// The penalty of the single row's step (scaled by its sample weight when the penalty is per sample).
    pub(crate) fn online_penalty(&self, weighted: bool) -> Penalty<T> {
        let (l1, l2) = self.net.penalty_coefficients(self.online_weight(weighted));
        (l1 != 0.0 || l2 != 0.0).then(|| (T::of(l1), T::of(l2)))
    }

    /// Backward pass and update of layers `stop..` for the workspace's single row, from the loss gradient in
    /// `ws.grad[0]` (state prepared by `prepare_online`). Returns the penalty value of the updated layers (before
    /// their update) and which of the two gradient buffers holds d loss / d (output of layer `stop - 1`).
    pub(crate) fn backward_online(&mut self, stop: usize, weighted: bool) -> Result<(T, usize)> {
        let step = self.opt.next_step()?;
        let penalty = self.online_penalty(weighted);
        let mut penalty_value = T::zero();
        let mut current = 0usize;
        let last = self.net.layers.len().saturating_sub(1);
        let fused_head = self.net.fused_head;
        let Parts { net, ws, opt, scratch, .. } = self;
        let [g0, g1] = &mut ws.grad;
        for (index, layer) in net.layers.iter_mut().enumerate().rev().take_while(|(index, _)| *index >= stop) {
            let skip_activation = fused_head && index == last;
            let (grad_out, grad_in) = if current == 0 { (&mut *g0, &mut *g1) } else { (&mut *g1, &mut *g0) };
            let (Some(x), Some(y)) = (ws.acts.get(index), ws.acts.get(index + 1)) else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            match layer {
                Layer::Dense(d) => {
                    let dz = grad_out.get_mut(..d.fan_out).ok_or_else(short)?;
                    if !skip_activation {
                        d.activation.backward(dz, y.get(..d.fan_out).ok_or_else(short)?, d.fan_out);
                    }
                    let dx = if index > 0 { Some(grad_in.get_mut(..d.fan_in).ok_or_else(short)?) } else { None };
                    let [w_slots, b_slots] = opt.slots.get_mut(index).ok_or_else(short)?;
                    let row = RowStep { x: x.get(..d.fan_in).ok_or_else(short)?, dz, step: &step, penalty };
                    penalty_value += update_dense_row(d, w_slots, b_slots, &row, dx, scratch)?;
                    current = 1 - current;
                }
                Layer::Activation { dim, activation } => {
                    if !skip_activation {
                        activation.backward(grad_out.get_mut(..*dim).ok_or_else(short)?, y.get(..*dim).ok_or_else(short)?, *dim);
                    }
                }
                Layer::Dropout { .. } | Layer::BatchNorm(_) => {
                    return Err(Error::value("network", "layer not supported on the online path"));
                }
            }
        }
        Ok((penalty_value, current))
    }

    /// The single row's sample weight (1 when unweighted): what the penalty is scaled by.
    pub(crate) fn online_weight(&self, weighted: bool) -> f64 {
        if weighted { self.ws.weights.first().map_or(0.0, |w| w.f64()) } else { 1.0 }
    }

    /// Forward pass of the workspace's single row through layers `start..`, with GEMVs.
    pub(crate) fn forward_online(&mut self, start: usize) -> Result<()> {
        let last = self.net.layers.len().saturating_sub(1);
        for index in start..self.net.layers.len() {
            let skip_activation = self.net.fused_head && index == last;
            let (inputs, outputs) = self.ws.acts.split_at_mut(index + 1);
            let (Some(x), Some(y), Some(layer)) = (inputs.last(), outputs.first_mut(), self.net.layers.get(index)) else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            match layer {
                Layer::Dense(d) => {
                    let activation = if skip_activation { Activation::Linear } else { d.activation };
                    let x = x.get(..d.fan_in).ok_or_else(short)?;
                    dense::dense_forward_row(x, &d.weight.value, &d.bias.value, activation, y.get_mut(..d.fan_out).ok_or_else(short)?)?;
                }
                Layer::Activation { dim, activation } => {
                    let y = y.get_mut(..*dim).ok_or_else(short)?;
                    y.copy_from_slice(x.get(..*dim).ok_or_else(short)?);
                    if !skip_activation {
                        activation.forward(y, *dim);
                    }
                }
                Layer::Dropout { .. } | Layer::BatchNorm(_) => {
                    return Err(Error::value("network", "layer not supported on the online path"));
                }
            }
        }
        Ok(())
    }
}

/// What one Dense layer's online update needs besides the layer: its input row, dz, the optimizer's step and
/// the penalty.
struct RowStep<'a, T> {
    x: &'a [T],
    dz: &'a [T],
    step: &'a Step,
    penalty: Penalty<T>,
}

/// Backward and update of one dense layer for one row: for each row i of W, `dx_i = W[i,:]·dz` (old weights),
/// then `g = x_i·dz + l2·W[i,:] + l1·sign(W[i,:])` and the optimizer step on the row. Returns the penalty value
/// of W before the update.
fn update_dense_row<T: Real>(
    d: &mut Dense<T>,
    w_slots: &mut Slots<T>,
    b_slots: &mut Slots<T>,
    row: &RowStep<'_, T>,
    dx: Option<&mut [T]>,
    scratch: &mut crate::train::parts::OnlineScratch<T>,
) -> Result<T> {
    let value = match row.step {
        Step::Sgd(rule) => sgd_rows(
            &mut d.weight.value,
            &mut w_slots.first,
            row.x,
            row.dz,
            dx,
            &mut scratch.block_partials,
            d.fan_out,
            &rule.cast(),
            row.penalty,
        )?,
        _ => generic_rows(d, w_slots, row, dx, &mut scratch.row_grad)?,
    };
    row.step.apply(&mut d.bias.value, row.dz, &mut b_slots.first, &mut b_slots.second)?;
    Ok(value)
}

/// One block of rows: `dx_r = W[r,:]·dz` from the old row, then the fused update (one dispatch for the block).
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub(crate) fn sgd_block<T: Real>(
    w: &mut [T],
    velocity: &mut [T],
    x: &[T],
    dz: &[T],
    mut dx: Option<&mut [T]>,
    fan_out: usize,
    rule: &SgdRule<T>,
    penalty: Penalty<T>,
) -> T {
    let mut value = T::zero();
    for (r, w_row) in w.chunks_exact_mut(fan_out).enumerate() {
        if let Some(slot) = dx.as_deref_mut().and_then(|dx| dx.get_mut(r)) {
            *slot = dense::dot(w_row, dz);
        }
        let xi = x.get(r).copied().unwrap_or_else(T::zero);
        value += update_row(w_row, velocity, r, xi, dz, rule, penalty);
    }
    value
}

/// The SGD update of row `r` of a block (`velocity` holds the block's rows, or is empty for plain SGD) from the
/// gradient `x_i·dz` (+ penalty). Returns the row's penalty value before the update. A zero row under plain SGD
/// without penalty is left exactly as it is, untouched. Inlined into the AVX2 block drivers that call it.
#[inline(always)]
pub(crate) fn update_row<T: Real>(
    w_row: &mut [T],
    velocity: &mut [T],
    r: usize,
    xi: T,
    dz: &[T],
    rule: &SgdRule<T>,
    penalty: Penalty<T>,
) -> T {
    if xi == T::zero() && velocity.is_empty() && penalty.is_none() {
        return T::zero();
    }
    let fan_out = w_row.len();
    let v_row = velocity.get_mut(r * fan_out..(r + 1) * fan_out).unwrap_or(&mut []);
    let (sum_sq, sum_abs) = crate::optim::sgd::outer_product_update(w_row, v_row, xi, dz, rule, penalty);
    match penalty {
        Some((l1, l2)) => T::of(0.5) * l2 * sum_sq + l1 * sum_abs,
        None => T::zero(),
    }
}

/// The SGD update of every row of W in blocks of `BLOCK_ROWS`, on the engine's threads when W is large.
#[allow(clippy::too_many_arguments)]
fn sgd_rows<T: Real>(
    w: &mut [T],
    velocity: &mut [T],
    x: &[T],
    dz: &[T],
    dx: Option<&mut [T]>,
    partials: &mut [T],
    fan_out: usize,
    rule: &SgdRule<T>,
    penalty: Penalty<T>,
) -> Result<T> {
    if fan_out == 0 {
        return Ok(T::zero());
    }
    let chunk = BLOCK_ROWS * fan_out;
    let blocks = w.len().div_ceil(chunk);
    let partials = partials.get_mut(..blocks).ok_or_else(short)?;
    if !velocity.is_empty() && velocity.len() != w.len() {
        return Err(short());
    }
    let block = |w: &mut [T], v: &mut [T], x: &[T], dx: Option<&mut [T]>| sgd_block(w, v, x, dz, dx, fan_out, rule, penalty);
    let x_blocks = x.par_chunks(BLOCK_ROWS);
    let min_len = if w.len() >= PARALLEL_MIN_WEIGHTS && crate::threads::available() > 1 { 1 } else { blocks.max(1) };
    let w_blocks = w.par_chunks_mut(chunk).with_min_len(min_len);
    match (velocity.is_empty(), dx) {
        (false, Some(dx)) => w_blocks
            .zip(velocity.par_chunks_mut(chunk))
            .zip(x_blocks)
            .zip(dx.par_chunks_mut(BLOCK_ROWS))
            .zip(partials.par_iter_mut())
            .for_each(|((((w, v), x), dx), partial)| *partial = block(w, v, x, Some(dx))),
        (false, None) => w_blocks
            .zip(velocity.par_chunks_mut(chunk))
            .zip(x_blocks)
            .zip(partials.par_iter_mut())
            .for_each(|(((w, v), x), partial)| *partial = block(w, v, x, None)),
        (true, Some(dx)) => w_blocks
            .zip(x_blocks)
            .zip(dx.par_chunks_mut(BLOCK_ROWS))
            .zip(partials.par_iter_mut())
            .for_each(|(((w, x), dx), partial)| *partial = block(w, &mut [], x, Some(dx))),
        (true, None) => {
            w_blocks.zip(x_blocks).zip(partials.par_iter_mut()).for_each(|((w, x), partial)| *partial = block(w, &mut [], x, None))
        }
    }
    Ok(partials.iter().fold(T::zero(), |sum, &p| sum + p))
}

/// Any other optimizer (Adam, RMSProp), row by row on one thread: the row's gradient goes through `row_grad`.
fn generic_rows<T: Real>(
    d: &mut Dense<T>,
    slots: &mut Slots<T>,
    row: &RowStep<'_, T>,
    mut dx: Option<&mut [T]>,
    row_grad: &mut [T],
) -> Result<T> {
    let fan_out = d.fan_out;
    let row_grad = row_grad.get_mut(..fan_out).ok_or_else(short)?;
    let mut penalty_value = T::zero();
    let Slots { first, second } = slots;
    for (i, w_row) in d.weight.value.chunks_exact_mut(fan_out).enumerate() {
        let xi = row.x.get(i).copied().ok_or_else(short)?;
        if let Some(dx) = dx.as_deref_mut() {
            *dx.get_mut(i).ok_or_else(short)? = dense::dot(w_row, row.dz);
        }
        for (g, &d) in row_grad.iter_mut().zip(row.dz) {
            *g = xi * d;
        }
        if let Some((l1, l2)) = row.penalty {
            penalty_value += crate::kernels::penalty::penalty_grad(w_row, l1, l2, row_grad)?;
        }
        let span = i * fan_out..(i + 1) * fan_out;
        let first_row = first.get_mut(span.clone()).unwrap_or(&mut []);
        let second_row = second.get_mut(span).unwrap_or(&mut []);
        row.step.apply(w_row, row_grad, first_row, second_row)?;
    }
    Ok(penalty_value)
}
