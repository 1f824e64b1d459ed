//! Adam as torch.optim.Adam: `m = β1·m + (1−β1)·g`, `v = β2·v + (1−β2)·g²`,
//! `p -= lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps)`.

use crate::error::{Result, expect_len};
use crate::scalar::Real;

/// The hyperparameters of one step, with the bias corrections of step t (computed once per tensor).
#[derive(Clone, Debug)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub correction1: f64,
    pub correction2: f64,
}

impl AdamStep {
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, t: u64) -> Self {
        // powf, as NumPy's and torch's scalar power (C pow); powi can differ in the last bit.
        let t = t.max(1) as f64;
        AdamStep { lr, beta1, beta2, eps, correction1: 1.0 - beta1.powf(t), correction2: 1.0 - beta2.powf(t) }
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn adam_update<T: Real>(param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], step: &AdamStep) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    expect_len("m", m.len(), param.len())?;
    expect_len("v", v.len(), param.len())?;
    let (lr, b1, b2, eps) = (T::of(step.lr), T::of(step.beta1), T::of(step.beta2), T::of(step.eps));
    let (c1, c2) = (T::of(step.correction1), T::of(step.correction2));
    let (rest1, rest2) = (T::of(1.0 - step.beta1), T::of(1.0 - step.beta2));
    for (((p, &g), m), v) in param.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + rest1 * g;
        *v = b2 * *v + rest2 * g * g;
        *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_about_lr() -> Result<()> {
        // With bias correction the first step is lr·g/(|g| + eps): ≈ lr·sign(g).
        let (mut p, mut m, mut v) = ([1.0f64, 1.0], [0.0; 2], [0.0; 2]);
        adam_update(&mut p, &[0.5, -2.0], &mut m, &mut v, &AdamStep::new(0.01, 0.9, 0.999, 1e-8, 1))?;
        assert!((p[0] - 0.99).abs() < 1e-9 && (p[1] - 1.01).abs() < 1e-9);
        Ok(())
    }
}
