//! The lock around a model's engine state, and what a forked child does when a thread of its parent held it.
//!
//! `_core.Model` is a frozen pyclass whose state sits behind this lock (not PyO3's borrow flag), so that a child
//! process forked while another thread trained the model can take the state over: the thread that held the lock
//! does not exist in the child, `after_fork` releases it, and a fit that was in progress is rolled back to its
//! start (its snapshot is intact; the parameters may have been mid-update).

use parking_lot::{Mutex, MutexGuard};
use pyo3::prelude::*;

use crate::model::AnyModel;

pub struct ModelCell {
    inner: Mutex<AnyModel>,
}

impl ModelCell {
    pub fn new(model: AnyModel) -> Self {
        ModelCell { inner: Mutex::new(model) }
    }

    /// The state, waiting (without the GIL, which the holder may need to finish) when another call holds it.
    pub fn lock(&self, py: Python<'_>) -> MutexGuard<'_, AnyModel> {
        match self.inner.try_lock() {
            Some(guard) => guard,
            None => py.detach(|| self.inner.lock()),
        }
    }

    /// In a forked child: release a lock held by a thread of the parent and abandon the fit it was running.
    pub fn after_fork(&self) {
        if self.inner.is_locked() {
            // SAFETY: called in a forked child before it starts threads of its own that could use this model
            // (ferronet's fork hook runs first thing in the child); the holder was a thread of the parent, which
            // does not exist here, so nobody else can hold or use the guard.
            unsafe { self.inner.force_unlock() };
            let mut model = self.inner.lock();
            match &mut *model {
                AnyModel::F32(m) => m.trainer.end_fit(&mut m.network, false),
                AnyModel::F64(m) => m.trainer.end_fit(&mut m.network, false),
            }
        }
    }
}
