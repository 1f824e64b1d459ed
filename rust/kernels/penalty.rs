//! Weight penalties: `0.5·l2·ΣW² + l1·Σ|W|`, gradient `l2·W + l1·sign(W)` (sign(0) = 0). Weights only: the
//! network never applies them to biases or BatchNorm parameters.

use crate::error::{Result, expect_len};
use crate::scalar::Real;

/// sign(v) with sign(0) = 0 (as torch.sign and numpy.sign; `Float::signum(0.0)` would be 1).
#[inline(always)]
fn sign<T: Real>(v: T) -> T {
    if v > T::zero() {
        T::one()
    } else if v < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

/// The penalty value of one weight tensor.
pub fn penalty<T: Real>(w: &[T], l1: T, l2: T) -> T {
    let (sum_sq, sum_abs) = w.iter().fold((T::zero(), T::zero()), |(sq, ab), &v| (sq + v * v, ab + v.abs()));
    T::of(0.5) * l2 * sum_sq + l1 * sum_abs
}

/// `grad += l2·W + l1·sign(W)`, returning the penalty value of W (one pass for both).
pub fn penalty_grad<T: Real>(w: &[T], l1: T, l2: T, grad: &mut [T]) -> Result<T> {
    expect_len("grad", grad.len(), w.len())?;
    let (mut sum_sq, mut sum_abs) = (T::zero(), T::zero());
    for (g, &v) in grad.iter_mut().zip(w) {
        sum_sq += v * v;
        sum_abs += v.abs();
        *g += l2 * v + l1 * sign(v);
    }
    Ok(T::of(0.5) * l2 * sum_sq + l1 * sum_abs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_gradient() -> Result<()> {
        let w = [1.0f64, -2.0, 0.0];
        assert_eq!(penalty(&w, 0.1, 0.5), 0.5 * 0.5 * 5.0 + 0.1 * 3.0);
        let mut grad = [1.0, 1.0, 1.0];
        let value = penalty_grad(&w, 0.1, 0.5, &mut grad)?;
        assert_eq!(value, penalty(&w, 0.1, 0.5));
        let expected = [1.0 + (0.5 * 1.0 + 0.1), 1.0 + (0.5 * -2.0 - 0.1), 1.0];
        assert_eq!(grad, expected);
        Ok(())
    }
}
