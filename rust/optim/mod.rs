//! Optimizers: the update rules of torch.optim (`shared/FACTS.md`) applied to one parameter tensor at a time,
//! right after its gradient is computed. Hyperparameters are f64; state (velocity, moments) lives beside each
//! parameter in `Slots` and is allocated on the first update.

pub mod adam;
pub mod rmsprop;
pub mod sgd;

use crate::error::{Error, Result};
use crate::scalar::Real;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `v = μ·v + g`; `p -= lr·v`, or Nesterov `p -= lr·(g + μ·v)`; μ = 0 is plain SGD.
    Sgd { lr: f64, momentum: f64, nesterov: bool },
    /// Bias-corrected Adam, eps outside the square root.
    Adam { lr: f64, beta1: f64, beta2: f64, eps: f64 },
    /// RMSprop without centering or momentum (torch's alpha is `rho`).
    RmsProp { lr: f64, rho: f64, eps: f64 },
}

/// Per-parameter optimizer state: SGD momentum uses `first` (velocity); Adam `first`/`second` (m, v);
/// RMSProp `second` (the running mean of g²).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slots<T> {
    pub first: Vec<T>,
    pub second: Vec<T>,
}

impl<T: Real> Slots<T> {
    /// Allocate zeroed state of `len` values for the buffers this optimizer needs (once).
    fn ensure(&mut self, len: usize, first: bool, second: bool) {
        if first && self.first.len() != len {
            self.first = vec![T::zero(); len];
        }
        if second && self.second.len() != len {
            self.second = vec![T::zero(); len];
        }
    }

    pub fn clear(&mut self) {
        self.first = Vec::new();
        self.second = Vec::new();
    }
}

fn in_unit_interval(what: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) { Ok(()) } else { Err(Error::value(what, format!("must be in [0, 1); got {value}"))) }
}

impl Optimizer {
    pub fn kind(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
            Optimizer::RmsProp { .. } => "rmsprop",
        }
    }

    pub fn lr(&self) -> f64 {
        match *self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } => lr,
        }
    }

    /// Check every hyperparameter (the Python side checks first, with friendlier names).
    pub fn validate(&self) -> Result<()> {
        let lr = self.lr();
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::value("lr", format!("must be a finite number >= 0; got {lr}")));
        }
        match *self {
            Optimizer::Sgd { momentum, nesterov, .. } => {
                in_unit_interval("momentum", momentum)?;
                if nesterov && momentum == 0.0 {
                    return Err(Error::value("nesterov", "needs momentum > 0"));
                }
            }
            Optimizer::Adam { beta1, beta2, eps, .. } => {
                in_unit_interval("beta1", beta1)?;
                in_unit_interval("beta2", beta2)?;
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(Error::value("eps", format!("must be > 0; got {eps}")));
                }
            }
            Optimizer::RmsProp { rho, eps, .. } => {
                in_unit_interval("rho", rho)?;
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(Error::value("eps", format!("must be > 0; got {eps}")));
                }
            }
        }
        Ok(())
    }

    /// Whether switching from `self` to `other` keeps the state (same kind: only hyperparameters changed).
    pub fn same_kind(&self, other: &Optimizer) -> bool {
        self.kind() == other.kind()
    }

    /// Which state buffers this optimizer uses: (first, second).
    pub fn uses_slots(&self) -> (bool, bool) {
        match *self {
            Optimizer::Sgd { momentum, .. } => (momentum != 0.0, false),
            Optimizer::Adam { .. } => (true, true),
            Optimizer::RmsProp { .. } => (false, true),
        }
    }

    /// Allocate this optimizer's state for a parameter of `len` values (once; a no-op afterwards).
    pub fn prepare<T: Real>(&self, state: &mut Slots<T>, len: usize) {
        let (first, second) = self.uses_slots();
        state.ensure(len, first, second);
    }

    /// One update of `param` from its gradient; `t` is the 1-based update count (Adam's bias correction).
    pub fn update<T: Real>(&self, param: &mut [T], grad: &[T], state: &mut Slots<T>, t: u64) -> Result<()> {
        self.prepare(state, param.len());
        let Slots { first, second } = state;
        self.at_step(t).apply_parallel(param, grad, first, second)
    }

    /// The constants of update number `t` (Adam's bias corrections), computed once and applied to any number of
    /// slices (whole tensors, or row by row on the online path).
    pub fn at_step(&self, t: u64) -> Step {
        match *self {
            Optimizer::Sgd { lr, momentum, nesterov } => Step::Sgd { lr, momentum, nesterov },
            Optimizer::Adam { lr, beta1, beta2, eps } => Step::Adam(adam::AdamStep::new(lr, beta1, beta2, eps, t)),
            Optimizer::RmsProp { lr, rho, eps } => Step::RmsProp { lr, rho, eps },
        }
    }
}

/// An optimizer at a given update number.
#[derive(Clone, Debug)]
pub enum Step {
    Sgd { lr: f64, momentum: f64, nesterov: bool },
    Adam(adam::AdamStep),
    RmsProp { lr: f64, rho: f64, eps: f64 },
}

/// Tensors at least this long are updated in parallel chunks of `PARALLEL_CHUNK` values.
const PARALLEL_MIN: usize = 1 << 16;
const PARALLEL_CHUNK: usize = 1 << 14;

impl Step {
    /// `apply` on a whole tensor, in chunks across the engine's threads when it is large. Element-wise updates
    /// do not depend on how the tensor is cut, so the result is the same for any number of threads.
    pub fn apply_parallel<T: Real>(&self, param: &mut [T], grad: &[T], first: &mut [T], second: &mut [T]) -> Result<()> {
        use rayon::prelude::*;
        if param.len() < PARALLEL_MIN || rayon::current_num_threads() < 2 {
            return self.apply(param, grad, first, second);
        }
        crate::error::expect_len("grad", grad.len(), param.len())?;
        let chunk = PARALLEL_CHUNK;
        let parts = param.par_chunks_mut(chunk).zip(grad.par_chunks(chunk));
        // Unused state buffers are empty: each chunk then gets an empty slice of its own.
        match (first.is_empty(), second.is_empty()) {
            (true, true) => parts.try_for_each(|(p, g)| self.apply(p, g, &mut [], &mut [])),
            (false, true) => parts.zip(first.par_chunks_mut(chunk)).try_for_each(|((p, g), f)| self.apply(p, g, f, &mut [])),
            (true, false) => parts.zip(second.par_chunks_mut(chunk)).try_for_each(|((p, g), s)| self.apply(p, g, &mut [], s)),
            (false, false) => parts
                .zip(first.par_chunks_mut(chunk))
                .zip(second.par_chunks_mut(chunk))
                .try_for_each(|(((p, g), f), s)| self.apply(p, g, f, s)),
        }
    }

    /// Update matching slices of a parameter, its gradient and its state (`Optimizer::prepare` first).
    pub fn apply<T: Real>(&self, param: &mut [T], grad: &[T], first: &mut [T], second: &mut [T]) -> Result<()> {
        match *self {
            Step::Sgd { lr, momentum, nesterov } => {
                if momentum == 0.0 {
                    sgd::sgd_update(param, grad, T::of(lr))
                } else if nesterov {
                    sgd::nesterov_update(param, grad, first, T::of(lr), T::of(momentum))
                } else {
                    sgd::momentum_update(param, grad, first, T::of(lr), T::of(momentum))
                }
            }
            Step::Adam(ref step) => adam::adam_update(param, grad, first, second, step),
            Step::RmsProp { lr, rho, eps } => rmsprop::rmsprop_update(param, grad, second, T::of(lr), T::of(rho), T::of(eps)),
        }
    }
}
