//! The mutable pieces one training step works on, borrowed together from the trainer and the network: the
//! network, its workspace, the optimizer state, the counters and the online path's scratch.

use crate::buffer;
use crate::error::Result;
use crate::network::layer::LayerCache;
use crate::network::{Network, Workspace};
use crate::optim::OptimizerState;
use crate::scalar::Real;

/// What training counts in the model's life (the optimizer state counts its own updates and epochs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Updates in the model's life: keys the dropout masks.
    pub step: u64,
    /// Epochs in the model's life: keys the shuffle.
    pub epochs: u64,
}

/// Scratch of the online (batch-1) path: one row of a parameter gradient, and one partial penalty sum per
/// block of rows. Sized for the widest layer.
#[derive(Clone, Debug, Default)]
pub struct OnlineScratch<T> {
    pub row_grad: Vec<T>,
    pub block_partials: Vec<T>,
}

impl<T: Real> OnlineScratch<T> {
    pub fn ensure(&mut self, widest: usize, blocks: usize) -> Result<()> {
        if self.row_grad.len() < widest {
            self.row_grad = buffer::zeros(widest, "the online path's buffers")?;
        }
        if self.block_partials.len() < blocks {
            self.block_partials = buffer::zeros(blocks, "the online path's buffers")?;
        }
        Ok(())
    }
}

/// What the small-net step (`small_net.rs`) keeps between steps: Wᵀ (n × k) per layer for the Dense layers that
/// need it (every layer but the first, for the input gradient, and narrow ones, for the forward pass; empty for
/// other layers), and the buffers of each group of rows of the largest batch seen.
#[derive(Clone, Debug, Default)]
pub struct SmallNetScratch<T> {
    pub transposed: Vec<Vec<T>>,
    pub groups: Vec<SmallNetGroup<T>>,
}

/// One group of rows in the small-net step: a tile's output of every layer, two gradient buffers for a tile, a
/// layer cache (Activation layers need none, but their passes take one), and the group's sums: every parameter
/// gradient (`[layer][param]`, a narrow layer's W transposed), its share of the loss and its correct count.
#[derive(Clone, Debug, Default)]
pub struct SmallNetGroup<T> {
    pub acts: Vec<Vec<T>>,
    pub grad: [Vec<T>; 2],
    pub cache: LayerCache<T>,
    pub param_grads: Vec<Vec<Vec<T>>>,
    pub loss: T,
    pub correct: f64,
}

pub struct Parts<'a, T: Real> {
    pub net: &'a mut Network<T>,
    pub ws: &'a mut Workspace<T>,
    pub opt: &'a mut OptimizerState<T>,
    pub counters: &'a mut Counters,
    pub scratch: &'a mut OnlineScratch<T>,
    pub small: &'a mut SmallNetScratch<T>,
}
