//! Every buffer a training step needs, sized once for the largest batch seen so far and reused by every
//! batch and epoch after it (a smaller last batch uses a prefix): no allocation in the steady state.

use crate::buffer;
use crate::error::Result;
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
}

impl<T: Real> Workspace<T> {
    /// Make sure the buffers hold `rows` rows for these layers; reallocates only when the batch grows.
    pub fn ensure(&mut self, layers: &[Layer<T>], input_dim: usize, target_cols: usize, rows: usize) -> Result<()> {
        if rows <= self.rows && self.acts.len() == layers.len() + 1 {
            return Ok(());
        }
        let zeros = |n: usize| buffer::zeros(n, "training buffers");
        let area = |width: usize| buffer::area(rows, width, "training buffers");
        let widest = layers.iter().map(|l| l.out_dim()).chain([input_dim]).max().unwrap_or(input_dim);
        // Build everything first: a failed allocation leaves the old workspace intact.
        let acts = std::iter::once(input_dim)
            .chain(layers.iter().map(|l| l.out_dim()))
            .map(|width| zeros(area(width)?))
            .collect::<Result<Vec<_>>>()?;
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
        };
        Ok(())
    }
}
