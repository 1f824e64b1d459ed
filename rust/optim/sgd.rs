//! SGD, with momentum and Nesterov momentum, as torch.optim.SGD (no dampening; the first velocity is g).

use crate::error::{Result, expect_len};
use crate::scalar::Real;

/// `p -= lr·g`
pub fn sgd_update<T: Real>(param: &mut [T], grad: &[T], lr: T) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    for (p, &g) in param.iter_mut().zip(grad) {
        *p -= lr * g;
    }
    Ok(())
}

/// `v = μ·v + g`; `p -= lr·v`
pub fn momentum_update<T: Real>(param: &mut [T], grad: &[T], velocity: &mut [T], lr: T, momentum: T) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    expect_len("velocity", velocity.len(), param.len())?;
    for ((p, &g), v) in param.iter_mut().zip(grad).zip(velocity.iter_mut()) {
        *v = momentum * *v + g;
        *p -= lr * *v;
    }
    Ok(())
}

/// `v = μ·v + g`; `p -= lr·(g + μ·v)`
pub fn nesterov_update<T: Real>(param: &mut [T], grad: &[T], velocity: &mut [T], lr: T, momentum: T) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    expect_len("velocity", velocity.len(), param.len())?;
    for ((p, &g), v) in param.iter_mut().zip(grad).zip(velocity.iter_mut()) {
        *v = momentum * *v + g;
        *p -= lr * (g + momentum * *v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_momentum_steps_by_hand() -> Result<()> {
        let (mut p, mut v) = ([1.0f64], [0.0f64]);
        momentum_update(&mut p, &[0.5], &mut v, 0.1, 0.9)?;
        assert_eq!((p[0], v[0]), (1.0 - 0.1 * 0.5, 0.5));
        momentum_update(&mut p, &[0.25], &mut v, 0.1, 0.9)?;
        let v2 = 0.9 * 0.5 + 0.25;
        assert_eq!((p[0], v[0]), (1.0 - 0.1 * 0.5 - 0.1 * v2, v2));
        let (mut q, mut w) = ([1.0f64], [0.0f64]);
        nesterov_update(&mut q, &[0.5], &mut w, 0.1, 0.9)?;
        assert_eq!(q[0], 1.0 - 0.1 * (0.5 + 0.9 * 0.5));
        Ok(())
    }
}
