//! Every buffer a training step needs, sized once for the largest batch seen so far and reused by every
//! batch and epoch after it (a smaller last batch uses a prefix): no allocation in the steady state.
//!
//! A sparse input (`ensure_sparse`) is held as a CSR batch in `sparse` instead of a dense `acts[0]`, which then
//! holds one row only (the online path's, for batches of one row; see `network/sparse.rs`).

use crate::buffer;
use crate::error::Result;
use crate::network::input::SparseInput;
use crate::network::layer::{Layer, LayerCache};
use crate::scalar::Real;

#[derive(Clone, Debug, Default)]
pub struct Workspace<T> {
    /// The batch size the buffers hold.
    pub rows: usize,
    /// `acts[0]` is the input batch, `acts[l + 1]` the output of layer l (rows × width).
    pub acts: Vec<Vec<T>>,
    /// Two gradient buffers (rows × widest layer) used in turn by the backward pass.
    pub grad: [Vec<T>; 2],
    pub caches: Vec<LayerCache<T>>,
    /// Parameter gradients, per layer, in `Layer::params()` order.
    pub param_grads: Vec<Vec<Vec<T>>>,
    /// The batch's targets: class labels or a dense matrix, and optional sample weights.
    pub labels: Vec<u32>,
    pub targets: Vec<T>,
    pub weights: Vec<T>,
    /// The input batch in CSR form, when the workspace is sized for a sparse input (`ensure_sparse`).
    pub sparse: SparseInput<T>,
}

impl<T: Real> Workspace<T> {
    /// Make sure the buffers hold `rows` rows for these layers; reallocates only when the batch grows.
    pub fn ensure(&mut self, layers: &[Layer<T>], input_dim: usize, target_cols: usize, rows: usize) -> Result<()> {
        self.size(layers, input_dim, target_cols, rows, None)
    }

    /// `ensure` for a sparse input of batches of up to `rows` rows and `nnz` stored entries: the batch is kept
    /// in CSR (`sparse`) and `acts[0]` holds a single row; the first layer (a Dense one) computes no input
    /// gradient, so the gradient buffers need not be as wide as the input.
    pub fn ensure_sparse(&mut self, layers: &[Layer<T>], input_dim: usize, target_cols: usize, rows: usize, nnz: usize) -> Result<()> {
        self.size(layers, input_dim, target_cols, rows, Some(nnz))
    }

    fn size(&mut self, layers: &[Layer<T>], input_dim: usize, target_cols: usize, rows: usize, sparse: Option<usize>) -> Result<()> {
        let same_input = match sparse {
            None => !self.sparse.enabled(),
            Some(nnz) => self.sparse.enabled() && self.sparse.fits(input_dim, nnz),
        };
        if rows <= self.rows && self.acts.len() == layers.len() + 1 && same_input {
            return Ok(());
        }
        let zeros = |n: usize| buffer::zeros(n, "training buffers");
        let area = |width: usize| buffer::area(rows, width, "training buffers");
        let input_width = if sparse.is_some() { 0 } else { input_dim };
        let widest = layers.iter().map(|l| l.out_dim()).chain([input_width]).max().unwrap_or(input_dim);
        // Build everything first: a failed allocation leaves the old workspace intact.
        let input = match sparse {
            Some(_) => zeros(input_dim)?,
            None => zeros(area(input_dim)?)?,
        };
        let acts = std::iter::once(Ok(input)).chain(layers.iter().map(|l| zeros(area(l.out_dim())?))).collect::<Result<Vec<_>>>()?;
        let sparse = match sparse {
            Some(nnz) => SparseInput::new(rows, input_dim, nnz)?,
            None => SparseInput::default(),
        };
        let grad = [zeros(area(widest)?)?, zeros(area(widest)?)?];
        let caches = layers
            .iter()
            .map(|layer| {
                let mut cache = LayerCache::default();
                layer.size_cache(&mut cache, rows)?;
                Ok(cache)
            })
            .collect::<Result<Vec<_>>>()?;
        let param_grads =
            layers.iter().map(|l| l.param_sizes().into_iter().map(zeros).collect::<Result<Vec<_>>>()).collect::<Result<Vec<_>>>()?;
        *self = Workspace {
            rows,
            acts,
            grad,
            caches,
            param_grads,
            labels: buffer::zeros(rows, "training buffers")?,
            targets: zeros(area(target_cols)?)?,
            weights: zeros(rows)?,
            sparse,
        };
        Ok(())
    }
}
