//! What an optimizer remembers between updates: per-parameter buffers (velocity, moments) and the update count.
//! The network's parameters know nothing of it; the trainer keeps one `OptimizerState` beside the network.

use crate::buffer;
use crate::error::{Error, Result};
use crate::optim::{Optimizer, Step, check_lr};
use crate::scalar::Real;

/// Per-parameter optimizer state: SGD momentum uses `first` (velocity); Adam `first`/`second` (m, v);
/// RMSProp `second` (the running mean of g²). Empty until the first update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slots<T> {
    pub first: Vec<T>,
    pub second: Vec<T>,
}

impl<T: Real> Slots<T> {
    /// Allocate zeroed state of `len` values for the buffers `optimizer` uses (once; a no-op afterwards).
    /// Fallible: the state of a large layer is as large as the layer.
    pub fn prepare(&mut self, optimizer: &Optimizer, len: usize) -> Result<()> {
        let (first, second) = optimizer.uses_slots();
        if first && self.first.len() != len {
            self.first = buffer::zeros(len, "the optimizer state")?;
        }
        if second && self.second.len() != len {
            self.second = buffer::zeros(len, "the optimizer state")?;
        }
        Ok(())
    }

    pub fn try_clone(&self) -> Result<Self> {
        Ok(Slots {
            first: buffer::copy_of(&self.first, "the optimizer state")?,
            second: buffer::copy_of(&self.second, "the optimizer state")?,
        })
    }
}

/// The state of every trainable tensor of a network: `slots[layer][param]` (a layer has at most two
/// trainable tensors: W and b, or gamma and beta).
pub type LayerSlots<T> = [Slots<T>; 2];

/// The optimizer as configured, the rate in use, its per-parameter state and how many updates it made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState<T> {
    /// As configured (its `lr` is the base rate a schedule starts from).
    pub configured: Option<Optimizer>,
    /// The rate the next updates use (a schedule or callback may change it between epochs).
    pub lr: f64,
    pub slots: Vec<LayerSlots<T>>,
    /// Updates made with this state (Adam's t − 1).
    pub updates: u64,
    /// Epochs trained with this state: the epoch index a schedule sees.
    pub epochs: u64,
}

impl<T: Real> OptimizerState<T> {
    /// The optimizer the next update uses (the configured one at the rate in use).
    pub fn in_use(&self) -> Option<Optimizer> {
        self.configured.map(|optimizer| optimizer.with_lr(self.lr))
    }

    pub fn require(&self) -> Result<Optimizer> {
        self.in_use().ok_or_else(|| Error::value("optimizer", "is not set: call set_optimizer first"))
    }

    /// Use `optimizer` from now on. The state is kept when only hyperparameters change, unless `reset`.
    pub fn configure(&mut self, optimizer: Optimizer, reset: bool) -> Result<()> {
        optimizer.validate()?;
        if reset || !self.configured.is_some_and(|current| current.same_kind(&optimizer)) {
            self.clear();
        }
        self.configured = Some(optimizer);
        self.lr = optimizer.lr();
        Ok(())
    }

    /// The configuration alone (no per-parameter state), to put back with `restore_config`.
    pub fn clone_config(&self) -> Self {
        OptimizerState { configured: self.configured, lr: self.lr, slots: Vec::new(), updates: self.updates, epochs: self.epochs }
    }

    pub fn restore_config(&mut self, saved: Self) {
        self.configured = saved.configured;
        self.lr = saved.lr;
    }

    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }

    /// Forget velocities and moments (the next update starts from zero state, update count 1, epoch 0).
    pub fn clear(&mut self) {
        self.slots.iter_mut().flatten().for_each(|slots| *slots = Slots::default());
        self.updates = 0;
        self.epochs = 0;
    }

    /// The constants of the next update.
    pub fn next_step(&self) -> Result<Step> {
        Ok(self.require()?.at_step(self.updates + 1))
    }

    /// Allocate the state of every trainable tensor (`lens`: per layer, the lengths of its at most two
    /// tensors) before an update touches anything, so that running out of memory changes nothing.
    pub fn prepare(&mut self, lens: impl ExactSizeIterator<Item = [Option<usize>; 2]>) -> Result<()> {
        let optimizer = self.require()?;
        self.slots.resize_with(lens.len(), Default::default);
        for (layer, lens) in self.slots.iter_mut().zip(lens) {
            for (slots, len) in layer.iter_mut().zip(lens) {
                if let Some(len) = len {
                    slots.prepare(&optimizer, len)?;
                }
            }
        }
        Ok(())
    }

    /// The state of parameter `param` of layer `layer` (allocated by `prepare`).
    pub fn slots_mut(&mut self, layer: usize, param: usize) -> Result<&mut Slots<T>> {
        self.slots
            .get_mut(layer)
            .and_then(|l| l.get_mut(param))
            .ok_or_else(|| Error::value("optimizer state", "has no slot for this parameter"))
    }

    pub fn try_clone(&self) -> Result<Self> {
        let slots = self.slots.iter().map(|[a, b]| Ok([a.try_clone()?, b.try_clone()?])).collect::<Result<Vec<_>>>()?;
        Ok(OptimizerState { configured: self.configured, lr: self.lr, slots, updates: self.updates, epochs: self.epochs })
    }
}
