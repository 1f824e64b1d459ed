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
use crate::optim::Step;
use crate::scalar::Real;

/// Penalty weights and whether any applies.
#[derive(Clone, Copy)]
struct Penalty<T> {
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
        let optimizer = self.optimizer.ok_or_else(|| Error::value("optimizer", "no optimizer is set: call set_optimizer first"))?;
        self.forward_online()?;
        let (loss, correct) = self.loss_workspace(1, weighted)?;
        if !loss.is_finite() {
            return Ok(BatchResult { objective: loss.f64(), correct });
        }
        let step = optimizer.at_step(self.updates + 1);
        let total = if weighted { self.ws.weights.first().map_or(0.0, |w| w.f64()) } else { 1.0 };
        let (l1, l2) = self.penalty_coefficients(total);
        let penalty = Penalty { l1: T::of(l1), l2: T::of(l2), active: l1 != 0.0 || l2 != 0.0 };
        let mut penalty_value = T::zero();
        let mut current = 0usize;
        let last = self.layers.len().saturating_sub(1);
        let fused_head = self.fused_head;
        let Network { layers, ws, .. } = self;
        let Workspace { acts, grad, row_grad, .. } = ws;
        let [g0, g1] = grad;
        for (index, layer) in layers.iter_mut().enumerate().rev() {
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
                    penalty_value +=
                        update_dense_row(d, x.get(..d.fan_in).ok_or_else(short)?, dz, dx, row_grad, &optimizer, &step, penalty)?;
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
        self.step += 1;
        self.updates += 1;
        Ok(BatchResult { objective: (loss + penalty_value).f64(), correct })
    }

    /// Forward pass of the workspace's single row, with GEMVs.
    fn forward_online(&mut self) -> Result<()> {
        let last = self.layers.len().saturating_sub(1);
        for index in 0..self.layers.len() {
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

fn short() -> Error {
    Error::value("online step", "buffer too small")
}

/// Backward and update of one dense layer for one row: for each row i of W, `dx_i = W[i,:]·dz` (old weights),
/// then `g = x_i·dz + l2·W[i,:] + l1·sign(W[i,:])` and the optimizer step on the row. Returns the penalty value
/// of W before the update.
#[allow(clippy::too_many_arguments)]
fn update_dense_row<T: Real>(
    d: &mut Dense<T>,
    x: &[T],
    dz: &[T],
    mut dx: Option<&mut [T]>,
    row_grad: &mut [T],
    optimizer: &crate::optim::Optimizer,
    step: &Step,
    penalty: Penalty<T>,
) -> Result<T> {
    let fan_out = d.fan_out;
    optimizer.prepare(&mut d.weight.slots, d.weight.value.len());
    optimizer.prepare(&mut d.bias.slots, d.bias.value.len());
    let plain_sgd = matches!(step, Step::Sgd { momentum, .. } if *momentum == 0.0);
    let mut penalty_value = T::zero();
    let crate::optim::Slots { first, second } = &mut d.weight.slots;
    for (i, w_row) in d.weight.value.chunks_exact_mut(fan_out).enumerate() {
        let xi = x.get(i).copied().ok_or_else(short)?;
        if let Some(dx) = dx.as_deref_mut() {
            *dx.get_mut(i).ok_or_else(short)? = dense::dot(w_row, dz);
        }
        if xi == T::zero() && plain_sgd && !penalty.active {
            continue; // a zero gradient row: plain SGD leaves it exactly as it is
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
    let crate::optim::Slots { first, second } = &mut d.bias.slots;
    step.apply(&mut d.bias.value, dz, first, second)?;
    Ok(penalty_value)
}
