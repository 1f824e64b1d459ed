//! Sparse input: a network whose X is a CSR matrix. Only the first layer sees X, and it must be a Dense layer:
//! it multiplies the sparse rows by its dense weights (`kernels::sparse`), and its gradient with respect to X is
//! never needed. Every other layer, the loss and the optimizers work as with a dense X.
//!
//! In training, the batch is kept in CSR in the workspace (`SparseInput`, gathered row by row from the engine
//! dataset or copied from a batch handed in); no dense copy of the batch exists. A batch of one row is also
//! written densely into `acts[0]` (one row of `input_dim` values), so that the online (batch-1) path runs on it
//! unchanged. Inference takes blocks of rows of the CSR matrix as they are (views, no copy).

use crate::error::{Error, Result};
use crate::kernels::sparse::{self, CsrView, Transpose};
use crate::network::input::Features;
use crate::network::layer::{Layer, LayerCache, PassContext};
use crate::network::workspace::Workspace;
use crate::scalar::Real;

impl<T: Real> Workspace<T> {
    /// Load rows `rows` of a sparse matrix (all of them for `None`) as the batch, in a workspace sized by
    /// `ensure_sparse`; a batch of one row is also written densely into `acts[0]` (for the online path).
    pub fn load_sparse(&mut self, source: &CsrView<'_, T>, rows: Option<&[u32]>) -> Result<()> {
        self.sparse.load(source, rows)?;
        if self.sparse.rows() == 1 {
            let batch = self.sparse.view(1)?;
            let short = || Error::value("batch", "workspace too small for the sparse batch");
            let row = self.acts.first_mut().and_then(|a| a.get_mut(..batch.cols())).ok_or_else(short)?;
            batch.densify_row(0, row)?;
        }
        Ok(())
    }
}

fn not_dense<T: Real>(layer: &Layer<T>) -> Error {
    Error::value("X", format!("is sparse: only a Dense layer can take it; got a {} layer", layer.kind()))
}

impl<T: Real> Layer<T> {
    /// The forward pass of the layer that takes the network's input (dense or sparse), `rows` rows.
    pub fn forward_features(
        &self,
        x: Features<'_, T>,
        y: &mut [T],
        rows: usize,
        cache: &mut LayerCache<T>,
        ctx: PassContext,
    ) -> Result<()> {
        match x {
            Features::Dense(x) => self.forward(x, y, rows, cache, ctx),
            Features::Sparse(x) => self.forward_sparse(x, y, cache, ctx),
        }
    }

    /// Forward pass of a Dense layer on a CSR input: `y ← activation(x·W + b)` (W masked by DropConnect in
    /// training mode, as `forward`).
    pub fn forward_sparse(&self, x: CsrView<'_, T>, y: &mut [T], cache: &mut LayerCache<T>, ctx: PassContext) -> Result<()> {
        let Layer::Dense(d) = self else { return Err(not_dense(self)) };
        let y = y.get_mut(..x.rows() * d.fan_out).ok_or_else(|| Error::value("output", "buffer too small"))?;
        let activation = if ctx.skip_activation { crate::kernels::activation::Activation::Linear } else { d.activation };
        let weight = d.pass_weight(cache, ctx)?;
        sparse::sparse_dense_forward(x, weight, &d.bias.value, activation, y)
    }

    /// Backward pass of a Dense layer on a CSR input: the parameter gradients only (as `backward` without an
    /// input gradient). `grad` holds d loss / d output and is overwritten.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_sparse(
        &self,
        x: CsrView<'_, T>,
        y: &[T],
        grad: &mut [T],
        cache: &LayerCache<T>,
        param_grads: &mut [Vec<T>],
        transpose: &mut Transpose<T>,
        ctx: PassContext,
    ) -> Result<()> {
        let Layer::Dense(d) = self else { return Err(not_dense(self)) };
        let len = x.rows() * d.fan_out;
        let short = || Error::value("backward", "buffer too small");
        let (y, grad) = (y.get(..len).ok_or_else(short)?, grad.get_mut(..len).ok_or_else(short)?);
        if !ctx.skip_activation {
            d.activation.backward_parallel(grad, y, d.fan_out)?;
        }
        let [dw, db] = param_grads else {
            return Err(Error::value("backward", "a dense layer has two parameter gradients"));
        };
        sparse::sparse_dense_weight_grads(x, grad, dw, db, transpose)?;
        if ctx.training && d.dropconnect > 0.0 {
            crate::kernels::dropout::dropout_backward(dw, &cache.mask)?;
        }
        Ok(())
    }
}
