//! One training step on the batch already in the workspace, by the path the batch and the net call for: the
//! online path (one row), the small-net step (small nets, `small_net.rs`) or the general step: forward, loss, and
//! (if the loss is finite) the running statistics, the backward pass and the update of each layer right after
//! its gradients. A non-finite loss leaves every parameter and all optimizer state untouched.

use crate::error::Result;
use crate::network::BatchResult;
use crate::scalar::Real;
use crate::train::parts::Parts;

impl<T: Real> Parts<'_, T> {
    /// Allocate the optimizer state of every parameter (a no-op once allocated).
    pub fn prepare_optimizer_state(&mut self) -> Result<()> {
        self.opt.prepare(self.net.layers.iter().map(|layer| layer.param_lens()))
    }

    pub fn train_batch(&mut self, rows: usize, weighted: bool) -> Result<BatchResult> {
        if rows == 1 && self.online_eligible() {
            return self.train_online(weighted);
        }
        if self.small_net_eligible(rows, weighted) {
            return self.train_small_net(rows);
        }
        self.train_general(rows, weighted)
    }

    /// The general step: each layer over the whole batch, its products split over the threads.
    pub(crate) fn train_general(&mut self, rows: usize, weighted: bool) -> Result<BatchResult> {
        let step = self.counters.step;
        self.net.forward_workspace(self.ws, rows, step)?;
        let (loss, correct) = self.net.loss_workspace(self.ws, rows, weighted)?;
        if !loss.is_finite() {
            return Ok(BatchResult { objective: loss.f64(), correct });
        }
        let update = self.opt.next_step()?;
        self.prepare_optimizer_state()?;
        self.net.update_running_statistics(self.ws, rows)?;
        let opt = &mut *self.opt;
        let mut hook = |layer: usize, param: usize, value: &mut [T], grad: &mut [T]| -> Result<()> {
            let slots = opt.slots_mut(layer, param)?;
            update.apply_parallel(value, grad, &mut slots.first, &mut slots.second)
        };
        let penalty_value = self.net.backward_workspace(self.ws, rows, weighted, step, None, &mut hook)?;
        self.counters.step += 1;
        self.opt.updates += 1;
        Ok(BatchResult { objective: (loss + penalty_value).f64(), correct })
    }
}
