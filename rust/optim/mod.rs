//! Optimizers: the update rules of torch.optim (docs/formulas.md) applied to one parameter tensor at a time,
//! right after its gradient is computed. `Optimizer` is the configuration (hyperparameters, f64);
//! `OptimizerState` (state.rs) holds the per-parameter buffers and the update count.

pub mod adam;
pub mod rmsprop;
pub mod sgd;
pub mod state;

use crate::error::{Error, Result};
use crate::scalar::Real;

pub use sgd::SgdRule;
pub use state::{OptimizerState, Slots};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `v = μ·v + g`; `p -= lr·v`, or Nesterov `p -= lr·(g + μ·v)`; μ = 0 is plain SGD.
    Sgd(SgdRule<f64>),
    /// Bias-corrected Adam, eps outside the square root.
    Adam { lr: f64, beta1: f64, beta2: f64, eps: f64 },
    /// RMSprop without centering or momentum (torch's alpha is `rho`).
    RmsProp { lr: f64, rho: f64, eps: f64 },
}

fn in_unit_interval(what: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) { Ok(()) } else { Err(Error::value(what, format!("must be in [0, 1); got {value}"))) }
}

fn positive(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 { Ok(()) } else { Err(Error::value(what, format!("must be a finite number > 0; got {value}"))) }
}

impl Optimizer {
    pub fn kind(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::Adam { .. } => "adam",
            Optimizer::RmsProp { .. } => "rmsprop",
        }
    }

    pub fn lr(&self) -> f64 {
        match *self {
            Optimizer::Sgd(SgdRule { lr, .. }) | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } => lr,
        }
    }

    /// The same optimizer at another learning rate.
    pub fn with_lr(self, lr: f64) -> Optimizer {
        match self {
            Optimizer::Sgd(rule) => Optimizer::Sgd(SgdRule { lr, ..rule }),
            Optimizer::Adam { beta1, beta2, eps, .. } => Optimizer::Adam { lr, beta1, beta2, eps },
            Optimizer::RmsProp { rho, eps, .. } => Optimizer::RmsProp { lr, rho, eps },
        }
    }

    /// Check every hyperparameter (the one place the engine does).
    pub fn validate(&self) -> Result<()> {
        check_lr(self.lr())?;
        match *self {
            Optimizer::Sgd(SgdRule { momentum, nesterov, .. }) => {
                in_unit_interval("momentum", momentum)?;
                if nesterov && momentum == 0.0 {
                    return Err(Error::value("nesterov", "needs momentum > 0"));
                }
            }
            Optimizer::Adam { beta1, beta2, eps, .. } => {
                in_unit_interval("beta1", beta1)?;
                in_unit_interval("beta2", beta2)?;
                positive("eps", eps)?;
            }
            Optimizer::RmsProp { rho, eps, .. } => {
                in_unit_interval("rho", rho)?;
                positive("eps", eps)?;
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
            Optimizer::Sgd(SgdRule { momentum, .. }) => (momentum != 0.0, false),
            Optimizer::Adam { .. } => (true, true),
            Optimizer::RmsProp { .. } => (false, true),
        }
    }

    /// The constants of update number `t` (Adam's bias corrections), computed once and applied to any number of
    /// slices (whole tensors, or row by row on the online path).
    pub fn at_step(&self, t: u64) -> Step {
        match *self {
            Optimizer::Sgd(rule) => Step::Sgd(rule),
            Optimizer::Adam { lr, beta1, beta2, eps } => Step::Adam(adam::AdamStep::new(lr, beta1, beta2, eps, t)),
            Optimizer::RmsProp { lr, rho, eps } => Step::RmsProp { lr, rho, eps },
        }
    }
}

/// A learning rate: finite and >= 0.
pub fn check_lr(lr: f64) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 { Ok(()) } else { Err(Error::value("lr", format!("must be a finite number >= 0; got {lr}"))) }
}

/// An optimizer at a given update number.
#[derive(Clone, Debug)]
pub enum Step {
    Sgd(SgdRule<f64>),
    Adam(adam::AdamStep),
    RmsProp { lr: f64, rho: f64, eps: f64 },
}

/// Tensors at least this long are updated in parallel chunks of `PARALLEL_CHUNK` values (from
/// `TEAM_PARALLEL_MIN` on a training chunk's team, whose threads are awake already).
const PARALLEL_MIN: usize = 1 << 16;
const TEAM_PARALLEL_MIN: usize = 1 << 14;
const PARALLEL_CHUNK: usize = 1 << 13;

impl Step {
    /// `apply` on a whole tensor, in chunks across the engine's threads when it is large. Element-wise updates
    /// do not depend on how the tensor is cut, so the result is the same for any number of threads.
    pub fn apply_parallel<T: Real>(&self, param: &mut [T], grad: &[T], first: &mut [T], second: &mut [T]) -> Result<()> {
        use crate::parallel::Disjoint;
        if !crate::parallel::worth_splitting(param.len(), TEAM_PARALLEL_MIN, PARALLEL_MIN) {
            return self.apply(param, grad, first, second);
        }
        crate::error::expect_len("grad", grad.len(), param.len())?;
        let chunk = PARALLEL_CHUNK;
        let chunks = param.len().div_ceil(chunk);
        // Unused state buffers are empty: their chunks are then empty too.
        let (param, first, second) = (Disjoint::new(param), Disjoint::new(first), Disjoint::new(second));
        crate::parallel::for_each(chunks, |index| {
            let g = grad.get(index * chunk..).unwrap_or(&[]);
            // SAFETY: `for_each` runs each index once, so the chunks of each buffer are disjoint.
            let (p, f, s) = unsafe { (param.chunk(index, chunk), first.chunk(index, chunk), second.chunk(index, chunk)) };
            self.apply(p, g.get(..p.len()).unwrap_or(g), f, s)
        })
    }

    /// Update matching slices of a parameter, its gradient and its state (`Slots::prepare` first).
    pub fn apply<T: Real>(&self, param: &mut [T], grad: &[T], first: &mut [T], second: &mut [T]) -> Result<()> {
        match self {
            Step::Sgd(rule) => rule.cast::<T>().apply(param, grad, first),
            Step::Adam(step) => adam::adam_update(param, grad, first, second, step),
            Step::RmsProp { lr, rho, eps } => rmsprop::rmsprop_update(param, grad, second, T::of(*lr), T::of(*rho), T::of(*eps)),
        }
    }
}
