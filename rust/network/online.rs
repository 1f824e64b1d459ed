//! The online path: one training step on a single row (batch size 1, the classic tutorials' online SGD).
//!
//! A GEMM at one row spends more time packing W than multiplying, and a dW buffer doubles the memory traffic,
//! so here each Dense layer runs as a GEMV forward and, backward, as ONE pass over W's rows that computes the
//! input gradient `dx_i = W[i,:]·dz` from the old row, forms the row's gradient `x_i·dz` (+ penalty) in a small
//! buffer, and applies the optimizer to the row in place. Weights are streamed through the caches twice per
//! sample (forward, then update) instead of five or more times.

use crate::error::{Error, Result};
use crate::kernels::activation::Activation;
use crate::kernels::dense;
use crate::network::layer::{Dense, Layer};
use crate::network::network::{BatchResult, Network};
use crate::network::workspace::Workspace;
use rayon::prelude::*;

use crate::optim::{Step, sgd};
use crate::scalar::Real;

/// Penalty weights and whether any applies.
#[derive(Clone, Copy)]
pub(crate) struct Penalty<T> {
    l1: T,
    l2: T,
    active: bool,
}

impl<T: Real> Network<T> {
    /// Whether a one-row step can take the online path: Dense and Activation layers only (Dropout, DropConnect
    /// and BatchNorm take the general path).
    pub(crate) fn online_eligible(&self) -> bool {
        self.layers.iter().all(|layer| match layer {
            Layer::Dense(d) => d.dropconnect == 0.0,
            Layer::Activation { .. } => true,
            Layer::Dropout { .. } | Layer::BatchNorm(_) => false,
        })
    }

    /// A training step on the single row in the workspace (see the module docs).
    pub(crate) fn train_online(&mut self, weighted: bool) -> Result<BatchResult> {
        self.forward_online(0)?;
        let (loss, correct) = self.loss_workspace(1, weighted)?;
        if !loss.is_finite() {
            return Ok(BatchResult { objective: loss.f64(), correct });
        }
        let (penalty_value, _) = self.backward_online(0, weighted)?;
        self.step += 1;
        self.updates += 1;
        Ok(BatchResult { objective: (loss + penalty_value).f64(), correct })
    }

    /// Backward pass and update of layers `stop..` for the workspace's single row, from the loss gradient in
    /// `ws.grad[0]`. Returns the penalty value of the updated layers (before their update) and which of the two
    /// gradient buffers holds d loss / d (output of layer `stop - 1`).
    pub(crate) fn backward_online(&mut self, stop: usize, weighted: bool) -> Result<(T, usize)> {
        let optimizer = self.optimizer.ok_or_else(|| Error::value("optimizer", "is not set: call set_optimizer first"))?;
        let step = optimizer.at_step(self.updates + 1);
        let (l1, l2) = self.penalty_coefficients(self.online_weight(weighted));
        let penalty = Penalty { l1: T::of(l1), l2: T::of(l2), active: l1 != 0.0 || l2 != 0.0 };
        let mut penalty_value = T::zero();
        let mut current = 0usize;
        let last = self.layers.len().saturating_sub(1);
        let fused_head = self.fused_head;
        let Network { layers, ws, .. } = self;
        let Workspace { acts, grad, row_grad, block_partials, .. } = ws;
        let [g0, g1] = grad;
        for (index, layer) in layers.iter_mut().enumerate().rev().take_while(|(index, _)| *index >= stop) {
            let skip_activation = fused_head && index == last;
            let (grad_out, grad_in) = if current == 0 { (&mut *g0, &mut *g1) } else { (&mut *g1, &mut *g0) };
            let (Some(x), Some(y)) = (acts.get(index), acts.get(index + 1)) else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            match layer {
                Layer::Dense(d) => {
                    let dz = grad_out.get_mut(..d.fan_out).ok_or_else(short)?;
                    if !skip_activation {
                        d.activation.backward(dz, y.get(..d.fan_out).ok_or_else(short)?, d.fan_out);
                    }
                    let dx = if index > 0 { Some(grad_in.get_mut(..d.fan_in).ok_or_else(short)?) } else { None };
                    let row_grad = row_grad.get_mut(..d.fan_out).ok_or_else(short)?;
                    penalty_value += update_dense_row(
                        d,
                        x.get(..d.fan_in).ok_or_else(short)?,
                        dz,
                        dx,
                        row_grad,
                        block_partials,
                        &optimizer,
                        &step,
                        penalty,
                    )?;
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
        let last = self.layers.len().saturating_sub(1);
        for index in start..self.layers.len() {
            let skip_activation = self.fused_head && index == last;
            let (inputs, outputs) = self.ws.acts.split_at_mut(index + 1);
            let (Some(x), Some(y), Some(layer)) = (inputs.last(), outputs.first_mut(), self.layers.get(index)) else {
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

pub(crate) fn short() -> Error {
    Error::value("online step", "buffer too small")
}

/// Rows per task of the online update. Fixed, so that the penalty's partial sums (the only reduction) are the
/// same whatever the thread count.
pub(crate) const BLOCK_ROWS: usize = 32;
/// Weight matrices at least this large are updated on several threads.
const PARALLEL_MIN_WEIGHTS: usize = 1 << 16;

/// Backward and update of one dense layer for one row: for each row i of W, `dx_i = W[i,:]·dz` (old weights),
/// then `g = x_i·dz + l2·W[i,:] + l1·sign(W[i,:])` and the optimizer step on the row. Returns the penalty value
/// of W before the update.
#[allow(clippy::too_many_arguments)]
fn update_dense_row<T: Real>(
    d: &mut Dense<T>,
    x: &[T],
    dz: &[T],
    dx: Option<&mut [T]>,
    row_grad: &mut [T],
    partials: &mut [T],
    optimizer: &crate::optim::Optimizer,
    step: &Step,
    penalty: Penalty<T>,
) -> Result<T> {
    optimizer.prepare(&mut d.weight.slots, d.weight.value.len());
    optimizer.prepare(&mut d.bias.slots, d.bias.value.len());
    let value = match *step {
        Step::Sgd { lr, momentum, nesterov } => {
            let rule = SgdRule { lr: T::of(lr), momentum: T::of(momentum), nesterov, penalty };
            sgd_rows(&mut d.weight.value, &mut d.weight.slots.first, x, dz, dx, partials, d.fan_out, &rule)?
        }
        _ => generic_rows(d, x, dz, dx, row_grad, step, penalty)?,
    };
    let crate::optim::Slots { first, second } = &mut d.bias.slots;
    step.apply(&mut d.bias.value, dz, first, second)?;
    Ok(value)
}

/// An SGD step's constants on the online path.
struct SgdRule<T> {
    lr: T,
    momentum: T,
    nesterov: bool,
    penalty: Penalty<T>,
}

impl<T: Real> SgdRule<T> {
    /// dx and the update of one block of rows; returns the block's penalty value.
    fn block(&self, w: &mut [T], velocity: &mut [T], x: &[T], dz: &[T], dx: Option<&mut [T]>, fan_out: usize) -> T {
        let penalty = self.penalty.active.then_some((self.penalty.l1, self.penalty.l2));
        sgd_block(w, velocity, x, dz, dx, fan_out, self.lr, self.momentum, self.nesterov, penalty)
    }
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
    lr: T,
    momentum: T,
    nesterov: bool,
    penalty: Option<(T, T)>,
) -> T {
    let mut value = T::zero();
    for (r, w_row) in w.chunks_exact_mut(fan_out).enumerate() {
        if let Some(slot) = dx.as_deref_mut().and_then(|dx| dx.get_mut(r)) {
            *slot = dense::dot(w_row, dz);
        }
        let xi = x.get(r).copied().unwrap_or_else(T::zero);
        value += update_row(w_row, velocity, r, xi, dz, lr, momentum, nesterov, penalty);
    }
    value
}

/// The SGD update of row `r` of a block (`velocity` holds the block's rows, or is empty for plain SGD) from the
/// gradient `x_i·dz` (+ penalty). Returns the row's penalty value before the update. A zero row under plain SGD
/// without penalty is left exactly as it is, untouched. Inlined into the AVX2 block drivers that call it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn update_row<T: Real>(
    w_row: &mut [T],
    velocity: &mut [T],
    r: usize,
    xi: T,
    dz: &[T],
    lr: T,
    momentum: T,
    nesterov: bool,
    penalty: Option<(T, T)>,
) -> T {
    if xi == T::zero() && velocity.is_empty() && penalty.is_none() {
        return T::zero();
    }
    let fan_out = w_row.len();
    let v_row = velocity.get_mut(r * fan_out..(r + 1) * fan_out).unwrap_or(&mut []);
    let (sum_sq, sum_abs) = sgd::outer_product_update(w_row, v_row, xi, dz, lr, momentum, nesterov, penalty);
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
    let x_blocks = x.par_chunks(BLOCK_ROWS);
    let min_len = if w.len() >= PARALLEL_MIN_WEIGHTS && rayon::current_num_threads() > 1 { 1 } else { blocks.max(1) };
    let w_blocks = w.par_chunks_mut(chunk).with_min_len(min_len);
    match (velocity.is_empty(), dx) {
        (false, Some(dx)) => w_blocks
            .zip(velocity.par_chunks_mut(chunk))
            .zip(x_blocks)
            .zip(dx.par_chunks_mut(BLOCK_ROWS))
            .zip(partials.par_iter_mut())
            .for_each(|((((w, v), x), dx), partial)| *partial = rule.block(w, v, x, dz, Some(dx), fan_out)),
        (false, None) => w_blocks
            .zip(velocity.par_chunks_mut(chunk))
            .zip(x_blocks)
            .zip(partials.par_iter_mut())
            .for_each(|(((w, v), x), partial)| *partial = rule.block(w, v, x, dz, None, fan_out)),
        (true, Some(dx)) => w_blocks
            .zip(x_blocks)
            .zip(dx.par_chunks_mut(BLOCK_ROWS))
            .zip(partials.par_iter_mut())
            .for_each(|(((w, x), dx), partial)| *partial = rule.block(w, &mut [], x, dz, Some(dx), fan_out)),
        (true, None) => w_blocks
            .zip(x_blocks)
            .zip(partials.par_iter_mut())
            .for_each(|((w, x), partial)| *partial = rule.block(w, &mut [], x, dz, None, fan_out)),
    }
    Ok(partials.iter().fold(T::zero(), |sum, &p| sum + p))
}

/// Any other optimizer (Adam, RMSProp), row by row on one thread: the row's gradient goes through `row_grad`.
fn generic_rows<T: Real>(
    d: &mut Dense<T>,
    x: &[T],
    dz: &[T],
    mut dx: Option<&mut [T]>,
    row_grad: &mut [T],
    step: &Step,
    penalty: Penalty<T>,
) -> Result<T> {
    let fan_out = d.fan_out;
    let mut penalty_value = T::zero();
    let crate::optim::Slots { first, second } = &mut d.weight.slots;
    for (i, w_row) in d.weight.value.chunks_exact_mut(fan_out).enumerate() {
        let xi = x.get(i).copied().ok_or_else(short)?;
        if let Some(dx) = dx.as_deref_mut() {
            *dx.get_mut(i).ok_or_else(short)? = dense::dot(w_row, dz);
        }
        for (g, &d) in row_grad.iter_mut().zip(dz) {
            *g = xi * d;
        }
        if penalty.active {
            penalty_value += crate::kernels::penalty::penalty_grad(w_row, penalty.l1, penalty.l2, row_grad)?;
        }
        let span = i * fan_out..(i + 1) * fan_out;
        let first_row = first.get_mut(span.clone()).unwrap_or(&mut []);
        let second_row = second.get_mut(span).unwrap_or(&mut []);
        step.apply(w_row, row_grad, first_row, second_row)?;
    }
    Ok(penalty_value)
}
