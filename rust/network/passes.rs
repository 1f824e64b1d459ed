//! Training-mode passes over a workspace: a batch is copied into `ws.acts[0]` (a sparse one into `ws.sparse`,
//! read by the first layer: `network/sparse.rs`), the forward pass fills the
//! activations, the loss writes d loss / d output into `ws.grad[0]`, and the backward pass walks the layers in
//! reverse, handing each layer's parameter gradients to a callback right after they are computed (the trainer
//! updates the layer there, while its gradients are in cache).

use crate::error::{Error, Result};
use crate::kernels::loss::Targets;
use crate::kernels::penalty;
use crate::network::input::Features;
use crate::network::layer::Layer;
use crate::network::network::{Batch, Network};
use crate::network::workspace::Workspace;
use crate::scalar::Real;

/// Called by the backward pass for each trainable tensor: (layer index, parameter index, value, gradient).
pub type ParamHook<'a, T> = &'a mut dyn FnMut(usize, usize, &mut [T], &mut [T]) -> Result<()>;

fn short() -> Error {
    Error::value("batch", "workspace too small")
}

impl<T: Real> Network<T> {
    /// Copy a batch into the workspace (sized for it).
    pub fn load_batch(&self, ws: &mut Workspace<T>, batch: &Batch<'_, T>) -> Result<()> {
        self.check_batch(batch)?;
        let rows = batch.rows;
        match batch.x {
            Features::Dense(x) => {
                ws.ensure(&self.layers, self.input_dim, self.target_cols(), rows)?;
                ws.acts.first_mut().and_then(|a| a.get_mut(..x.len())).ok_or_else(short)?.copy_from_slice(x);
            }
            Features::Sparse(x) => {
                ws.ensure_sparse(&self.layers, self.input_dim, self.target_cols(), rows, x.nnz())?;
                ws.load_sparse(&x, None)?;
            }
        }
        match batch.targets {
            Targets::Labels(labels) => ws.labels.get_mut(..rows).ok_or_else(short)?.copy_from_slice(labels),
            Targets::Dense(values) => ws.targets.get_mut(..values.len()).ok_or_else(short)?.copy_from_slice(values),
        }
        if let Some(weights) = batch.weights {
            ws.weights.get_mut(..rows).ok_or_else(short)?.copy_from_slice(weights);
        }
        Ok(())
    }

    /// Training-mode forward pass over the workspace's first `rows` rows (masks keyed by `step`).
    pub fn forward_workspace(&self, ws: &mut Workspace<T>, rows: usize, step: u64) -> Result<()> {
        self.check_training_rows(rows)?;
        for (index, layer) in self.layers.iter().enumerate() {
            crate::cancel::check()?;
            let ctx = self.context(index, true, step);
            let Workspace { acts, caches, sparse, .. } = &mut *ws;
            let (inputs, outputs) = acts.split_at_mut(index + 1);
            let (Some(x), Some(y), Some(cache)) = (inputs.last(), outputs.first_mut(), caches.get_mut(index)) else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            if index == 0 && sparse.enabled() {
                layer.forward_sparse(sparse.view(rows)?, y, cache, ctx)?;
            } else {
                layer.forward(x, y, rows, cache, ctx)?;
            }
        }
        Ok(())
    }

    /// The loss of the workspace's output and its gradient into `ws.grad[0]`; returns (loss, correct count).
    pub fn loss_workspace(&self, ws: &mut Workspace<T>, rows: usize, weighted: bool) -> Result<(T, f64)> {
        let cols = self.output_dim();
        let Workspace { acts, grad, labels, targets, weights, .. } = ws;
        let z = acts.last().and_then(|a| a.get(..rows * cols)).ok_or_else(short)?;
        let targets = if self.loss.uses_labels() {
            Targets::Labels(labels.get(..rows).ok_or_else(short)?)
        } else {
            Targets::Dense(targets.get(..rows * cols).ok_or_else(short)?)
        };
        let weights = if weighted { Some(weights.get(..rows).ok_or_else(short)?) } else { None };
        let g = grad[0].get_mut(..rows * cols).ok_or_else(short)?;
        let loss = self.loss.loss_and_grad(z, cols, targets, weights, g)?;
        Ok((loss, self.loss.count_correct(z, cols, targets)))
    }

    /// The total sample weight of the workspace's first `rows` rows (rows when unweighted).
    pub fn batch_weight(&self, ws: &Workspace<T>, rows: usize, weighted: bool) -> f64 {
        if weighted { ws.weights.iter().take(rows).map(|w| w.f64()).sum() } else { rows as f64 }
    }

    /// Fold the batch statistics of the last training forward pass into the BatchNorm running averages.
    pub fn update_running_statistics(&mut self, ws: &Workspace<T>, rows: usize) -> Result<()> {
        for (layer, cache) in self.layers.iter_mut().zip(&ws.caches) {
            layer.update_running_statistics(cache, rows)?;
        }
        Ok(())
    }

    /// Backward pass from `ws.grad[0]`. Leaves every parameter gradient (penalty included) in
    /// `ws.param_grads` and hands each to `hook` as soon as it is complete (the trainer updates the parameter
    /// there); with `record` (one buffer of rows × width per layer), keeps a copy of d loss / d output of every layer. Returns the penalty at the
    /// weights before any update.
    pub fn backward_workspace(
        &mut self,
        ws: &mut Workspace<T>,
        rows: usize,
        weighted: bool,
        step: u64,
        mut record: Option<&mut Vec<Vec<T>>>,
        hook: ParamHook<'_, T>,
    ) -> Result<T> {
        let (l1, l2) = self.penalty_coefficients(self.batch_weight(ws, rows, weighted));
        let penalized = l1 != 0.0 || l2 != 0.0;
        let (l1, l2) = (T::of(l1), T::of(l2));
        let mut penalty_value = T::zero();
        let mut current = 0usize;
        for index in (0..self.layers.len()).rev() {
            let ctx = self.context(index, true, step);
            let Workspace { acts, grad, caches, param_grads, sparse, .. } = &mut *ws;
            let (g0, g1) = grad.split_at_mut(1);
            let (Some(g0), Some(g1)) = (g0.first_mut(), g1.first_mut()) else {
                return Err(Error::value("network", "workspace has no gradient buffers"));
            };
            let (grad_out, grad_in) = if current == 0 { (g0, g1) } else { (g1, g0) };
            let (Some(layer), Some(x), Some(y), Some(cache), Some(pgrads)) =
                (self.layers.get_mut(index), acts.get(index), acts.get(index + 1), caches.get(index), param_grads.get_mut(index))
            else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            if let Some(slot) = record.as_deref_mut().and_then(|record| record.get_mut(index)) {
                let len = slot.len();
                slot.copy_from_slice(grad_out.get(..len).ok_or_else(short)?);
            }
            if index == 0 && sparse.enabled() {
                let (x, transpose) = sparse.view_and_scratch(rows)?;
                layer.backward_sparse(x, y, grad_out, cache, pgrads, transpose, ctx)?;
            } else {
                let needs_input_grad = index > 0 || matches!(layer, Layer::BatchNorm(_));
                if layer.backward(x, y, grad_out, needs_input_grad.then_some(grad_in), rows, cache, pgrads, ctx)? {
                    current = 1 - current;
                }
            }
            let is_dense = matches!(layer, Layer::Dense(_));
            for (param_index, ((_, param), g)) in layer.params_mut().zip(pgrads.iter_mut()).enumerate() {
                if penalized && is_dense && param_index == 0 {
                    penalty_value += penalty::penalty_grad(&param.value, l1, l2, g)?;
                }
                hook(index, param_index, &mut param.value, g)?;
            }
        }
        Ok(penalty_value)
    }
}
