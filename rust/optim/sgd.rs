//! SGD, with momentum and Nesterov momentum, as torch.optim.SGD (no dampening; the first velocity is g).

use crate::error::{Result, expect_len};
use crate::scalar::Real;

/// `p -= lr·g`
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn sgd_update<T: Real>(param: &mut [T], grad: &[T], lr: T) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    for (p, &g) in param.iter_mut().zip(grad) {
        *p -= lr * g;
    }
    Ok(())
}

/// `v = μ·v + g`; `p -= lr·v`
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
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
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn nesterov_update<T: Real>(param: &mut [T], grad: &[T], velocity: &mut [T], lr: T, momentum: T) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    expect_len("velocity", velocity.len(), param.len())?;
    for ((p, &g), v) in param.iter_mut().zip(grad).zip(velocity.iter_mut()) {
        *v = momentum * *v + g;
        *p -= lr * (g + momentum * *v);
    }
    Ok(())
}

/// The online path's fused update of one weight row whose gradient is `x_i·dz + l2·w + l1·sign(w)`, formed on the
/// fly (the same operations as building the gradient and calling `sgd_update`/`momentum_update`/
/// `nesterov_update`). `velocity` is empty for plain SGD. Returns (Σw², Σ|w|) of the row before the update when a
/// penalty applies.
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn outer_product_update<T: Real>(
    w: &mut [T],
    velocity: &mut [T],
    xi: T,
    dz: &[T],
    lr: T,
    momentum: T,
    nesterov: bool,
    penalty: Option<(T, T)>,
) -> (T, T) {
    let (mut sum_sq, mut sum_abs) = (T::zero(), T::zero());
    let gradient = |wj: T, dzj: T, sum_sq: &mut T, sum_abs: &mut T| -> T {
        let g = xi * dzj;
        match penalty {
            Some((l1, l2)) => {
                *sum_sq += wj * wj;
                *sum_abs += wj.abs();
                let sign = if wj > T::zero() {
                    T::one()
                } else if wj < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                };
                g + (l2 * wj + l1 * sign)
            }
            None => g,
        }
    };
    if velocity.is_empty() {
        for (wj, &dzj) in w.iter_mut().zip(dz) {
            let g = gradient(*wj, dzj, &mut sum_sq, &mut sum_abs);
            *wj -= lr * g;
        }
    } else if nesterov {
        for ((wj, vj), &dzj) in w.iter_mut().zip(velocity.iter_mut()).zip(dz) {
            let g = gradient(*wj, dzj, &mut sum_sq, &mut sum_abs);
            *vj = momentum * *vj + g;
            *wj -= lr * (g + momentum * *vj);
        }
    } else {
        for ((wj, vj), &dzj) in w.iter_mut().zip(velocity.iter_mut()).zip(dz) {
            let g = gradient(*wj, dzj, &mut sum_sq, &mut sum_abs);
            *vj = momentum * *vj + g;
            *wj -= lr * *vj;
        }
    }
    (sum_sq, sum_abs)
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
