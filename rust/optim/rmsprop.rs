//! RMSprop as torch.optim.RMSprop with alpha = rho, no centering, no momentum:
//! `s = ρ·s + (1−ρ)·g²`, `p -= lr·g/(sqrt(s) + eps)`.

use crate::error::{Result, expect_len};
use crate::scalar::Real;

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn rmsprop_update<T: Real>(param: &mut [T], grad: &[T], sq: &mut [T], lr: T, rho: T, eps: T) -> Result<()> {
    expect_len("grad", grad.len(), param.len())?;
    expect_len("sq", sq.len(), param.len())?;
    let rest = T::one() - rho;
    for ((p, &g), s) in param.iter_mut().zip(grad).zip(sq.iter_mut()) {
        *s = rho * *s + rest * g * g;
        *p -= lr * g / (s.sqrt() + eps);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_by_hand() -> Result<()> {
        let (mut p, mut s) = ([1.0f64], [0.0f64]);
        rmsprop_update(&mut p, &[2.0], &mut s, 0.01, 0.9, 1e-8)?;
        let expected_sq = (1.0 - 0.9) * 2.0 * 2.0;
        assert_eq!(s[0], expected_sq);
        assert_eq!(p[0], 1.0 - 0.01 * 2.0 / (expected_sq.sqrt() + 1e-8));
        Ok(())
    }
}
