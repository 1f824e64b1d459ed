//! SGD, with momentum and Nesterov momentum, as torch.optim.SGD (no dampening; the first velocity is g).

use crate::error::{Result, expect_len};
use crate::scalar::Real;

/// SGD's hyperparameters: the one description every path uses (whole tensors, the online row update, the
/// batch-1 team). `Optimizer::Sgd` holds it in f64; kernels take it in their own float type (`cast`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdRule<F> {
    pub lr: F,
    /// μ; 0 is plain SGD (no velocity).
    pub momentum: F,
    pub nesterov: bool,
}

impl SgdRule<f64> {
    pub fn cast<T: Real>(self) -> SgdRule<T> {
        SgdRule { lr: T::of(self.lr), momentum: T::of(self.momentum), nesterov: self.nesterov }
    }
}

impl<T: Real> SgdRule<T> {
    /// One update of a whole tensor; `velocity` is unused (may be empty) for plain SGD.
    pub fn apply(&self, param: &mut [T], grad: &[T], velocity: &mut [T]) -> Result<()> {
        if self.momentum == T::zero() {
            sgd_update(param, grad, self.lr)
        } else if self.nesterov {
            nesterov_update(param, grad, velocity, self.lr, self.momentum)
        } else {
            momentum_update(param, grad, velocity, self.lr, self.momentum)
        }
    }
}

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
/// penalty applies. Inlined into the online path's block driver, which is compiled for AVX2 as well.
#[inline(always)]
pub fn outer_product_update<T: Real>(
    w: &mut [T],
    velocity: &mut [T],
    xi: T,
    dz: &[T],
    rule: &SgdRule<T>,
    penalty: Option<(T, T)>,
) -> (T, T) {
    // Every choice is made here, once per row, so that each loop below is branch-free and vectorizes.
    let (l1, l2) = penalty.unwrap_or((T::zero(), T::zero()));
    let args = (w, velocity, xi, dz, rule.lr, rule.momentum, l1, l2);
    match (variant(args.1, rule.nesterov), penalty.is_some()) {
        (Variant::Plain, false) => row_update::<T, 0, false>(args),
        (Variant::Plain, true) => row_update::<T, 0, true>(args),
        (Variant::Momentum, false) => row_update::<T, 1, false>(args),
        (Variant::Momentum, true) => row_update::<T, 1, true>(args),
        (Variant::Nesterov, false) => row_update::<T, 2, false>(args),
        (Variant::Nesterov, true) => row_update::<T, 2, true>(args),
    }
}

/// Which of SGD's three update formulas a row takes (no velocity buffer: plain SGD).
enum Variant {
    Plain,
    Momentum,
    Nesterov,
}

fn variant<T>(velocity: &[T], nesterov: bool) -> Variant {
    match (velocity.is_empty(), nesterov) {
        (true, _) => Variant::Plain,
        (false, false) => Variant::Momentum,
        (false, true) => Variant::Nesterov,
    }
}

type RowArgs<'a, T> = (&'a mut [T], &'a mut [T], T, &'a [T], T, T, T, T);

/// One branch-free row update: VARIANT 0 plain, 1 momentum, 2 Nesterov; PENALTY adds `l2·w + l1·sign(w)`.
// Cannot panic: `n` is the minimum of the lengths, every slice is cut to `n` and every index is `j < n`.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn row_update<T: Real, const VARIANT: u8, const PENALTY: bool>((w, velocity, xi, dz, lr, momentum, l1, l2): RowArgs<'_, T>) -> (T, T) {
    let (mut sum_sq, mut sum_abs) = (T::zero(), T::zero());
    // Equal lengths, visible to the compiler, so the loop has no bounds checks.
    let n = if VARIANT == 0 { w.len().min(dz.len()) } else { w.len().min(dz.len()).min(velocity.len()) };
    let velocity = if VARIANT == 0 { &mut velocity[..0] } else { &mut velocity[..n] };
    let (w, dz) = (&mut w[..n], &dz[..n]);
    for j in 0..n {
        let wj = w[j];
        let mut g = xi * dz[j];
        if PENALTY {
            sum_sq += wj * wj;
            sum_abs += wj.abs();
            let sign = if wj > T::zero() {
                T::one()
            } else if wj < T::zero() {
                -T::one()
            } else {
                T::zero()
            };
            g += l2 * wj + l1 * sign;
        }
        match VARIANT {
            0 => w[j] = wj - lr * g,
            1 => {
                let v = momentum * velocity[j] + g;
                velocity[j] = v;
                w[j] = wj - lr * v;
            }
            _ => {
                let v = momentum * velocity[j] + g;
                velocity[j] = v;
                w[j] = wj - lr * (g + momentum * v);
            }
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
