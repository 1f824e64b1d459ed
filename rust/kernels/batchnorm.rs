//! Batch normalization over the rows of a (rows × cols) block, torch.nn.BatchNorm1d semantics.
//! Training: batch mean and biased variance; running averages with `momentum` as the keep factor
//! (ours 0.9 = torch's 0.1) and the unbiased variance. Inference: the running statistics.

use crate::buffer;
use crate::error::{Error, Result, expect_len};
use crate::scalar::Real;

fn rows_of(len: usize, cols: usize, what: &str) -> Result<usize> {
    if cols == 0 || !len.is_multiple_of(cols) {
        return Err(Error::value(what, format!("has {len} values, which do not form rows of {cols} columns")));
    }
    Ok(len / cols)
}

/// Per-column mean and biased variance, summed over rows in order (two passes, for accuracy).
pub fn batch_statistics<T: Real>(x: &[T], cols: usize, mean: &mut [T], var: &mut [T]) -> Result<()> {
    let rows = rows_of(x.len(), cols, "x")?;
    expect_len("mean", mean.len(), cols)?;
    expect_len("var", var.len(), cols)?;
    if rows == 0 {
        return Err(Error::value("x", "must have at least one row for batch normalization"));
    }
    let inv_rows = T::one() / T::of(rows as f64);
    mean.iter_mut().for_each(|m| *m = T::zero());
    for row in x.chunks_exact(cols) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m *= inv_rows);
    var.iter_mut().for_each(|s| *s = T::zero());
    for row in x.chunks_exact(cols) {
        for ((s, &m), &v) in var.iter_mut().zip(mean.iter()).zip(row) {
            let d = v - m;
            *s += d * d;
        }
    }
    var.iter_mut().for_each(|s| *s *= inv_rows);
    Ok(())
}

/// Training-mode forward: `y = γ·x̂ + β` with `x̂ = (x − μ)/sqrt(σ² + eps)` from the batch statistics.
/// Writes x̂ (kept for the backward pass), the batch mean and the biased batch variance.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_forward_train<T: Real>(
    x: &[T],
    cols: usize,
    gamma: &[T],
    beta: &[T],
    eps: T,
    y: &mut [T],
    xhat: &mut [T],
    mean: &mut [T],
    var: &mut [T],
) -> Result<()> {
    expect_len("gamma", gamma.len(), cols)?;
    expect_len("beta", beta.len(), cols)?;
    expect_len("y", y.len(), x.len())?;
    expect_len("xhat", xhat.len(), x.len())?;
    batch_statistics(x, cols, mean, var)?;
    for ((x_row, y_row), h_row) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)).zip(xhat.chunks_exact_mut(cols)) {
        let columns = x_row.iter().zip(mean.iter()).zip(var.iter()).zip(gamma.iter().zip(beta));
        for ((h_out, y_out), (((&xv, &m), &v), (&g, &b))) in h_row.iter_mut().zip(y_row.iter_mut()).zip(columns) {
            let h = (xv - m) / (v + eps).sqrt();
            *h_out = h;
            *y_out = g * h + b;
        }
    }
    Ok(())
}

/// Inference-mode forward with the running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_forward_eval<T: Real>(
    x: &[T],
    cols: usize,
    gamma: &[T],
    beta: &[T],
    running_mean: &[T],
    running_var: &[T],
    eps: T,
    y: &mut [T],
) -> Result<()> {
    rows_of(x.len(), cols, "x")?;
    for (what, len) in
        [("gamma", gamma.len()), ("beta", beta.len()), ("running_mean", running_mean.len()), ("running_var", running_var.len())]
    {
        expect_len(what, len, cols)?;
    }
    expect_len("y", y.len(), x.len())?;
    for (x_row, y_row) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let columns = x_row.iter().zip(running_mean.iter().zip(running_var)).zip(gamma.iter().zip(beta));
        for (y_out, ((&xv, (&m, &v)), (&g, &b))) in y_row.iter_mut().zip(columns) {
            *y_out = g * (xv - m) / (v + eps).sqrt() + b;
        }
    }
    Ok(())
}

/// Backward from x̂ and the batch variance: `dβ = Σdy`, `dγ = Σ dy·x̂`,
/// `dx = γ/(n·sqrt(σ²+eps)) · (n·dy − dβ − x̂·dγ)`.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_backward<T: Real>(
    dy: &[T],
    xhat: &[T],
    cols: usize,
    gamma: &[T],
    var: &[T],
    eps: T,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) -> Result<()> {
    let rows = rows_of(dy.len(), cols, "dy")?;
    expect_len("xhat", xhat.len(), dy.len())?;
    expect_len("dx", dx.len(), dy.len())?;
    for (what, len) in [("gamma", gamma.len()), ("var", var.len()), ("dgamma", dgamma.len()), ("dbeta", dbeta.len())] {
        expect_len(what, len, cols)?;
    }
    dgamma.iter_mut().for_each(|v| *v = T::zero());
    dbeta.iter_mut().for_each(|v| *v = T::zero());
    for (g_row, h_row) in dy.chunks_exact(cols).zip(xhat.chunks_exact(cols)) {
        for ((db, dg), (&g, &h)) in dbeta.iter_mut().zip(dgamma.iter_mut()).zip(g_row.iter().zip(h_row)) {
            *db += g;
            *dg += g * h;
        }
    }
    let n = T::of(rows as f64);
    for ((g_row, h_row), d_row) in dy.chunks_exact(cols).zip(xhat.chunks_exact(cols)).zip(dx.chunks_exact_mut(cols)) {
        let columns = gamma.iter().zip(var).zip(dbeta.iter().zip(dgamma.iter())).zip(g_row.iter().zip(h_row));
        for (d, (((&gam, &v), (&db, &dg)), (&g, &h))) in d_row.iter_mut().zip(columns) {
            let scale = gam / (n * (v + eps).sqrt());
            *d = scale * (n * g - db - h * dg);
        }
    }
    Ok(())
}

/// The backward pass from the batch itself (x, dy, γ): recomputes x̂ and the batch variance (β does not enter
/// the gradient), then `batchnorm_backward`. Returns (dx, dγ, dβ). The functional form of `fnet.ops`.
pub fn batchnorm_backward_from_input<T: Real>(x: &[T], dy: &[T], cols: usize, gamma: &[T], eps: T) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    expect_len("dy", dy.len(), x.len())?;
    let zeros = |n: usize| buffer::zeros::<T>(n, "batchnorm buffers");
    let (mut y, mut xhat, mut dx) = (zeros(x.len())?, zeros(x.len())?, zeros(x.len())?);
    let (mut mean, mut var, beta) = (zeros(cols)?, zeros(cols)?, zeros(cols)?);
    batchnorm_forward_train(x, cols, gamma, &beta, eps, &mut y, &mut xhat, &mut mean, &mut var)?;
    let (mut dgamma, mut dbeta) = (zeros(cols)?, zeros(cols)?);
    batchnorm_backward(dy, &xhat, cols, gamma, &var, eps, &mut dx, &mut dgamma, &mut dbeta)?;
    Ok((dx, dgamma, dbeta))
}

/// Running averages: `r_mean = k·r_mean + (1−k)·μ`, `r_var = k·r_var + (1−k)·σ²·n/(n−1)` (needs n ≥ 2).
pub fn batchnorm_update_running<T: Real>(
    running_mean: &mut [T],
    running_var: &mut [T],
    mean: &[T],
    var: &[T],
    rows: usize,
    momentum: T,
) -> Result<()> {
    if rows < 2 {
        return Err(Error::value("x", format!("must have at least 2 rows for BatchNorm in training mode; got {rows}")));
    }
    let cols = mean.len();
    for (what, len) in [("running_mean", running_mean.len()), ("running_var", running_var.len()), ("var", var.len())] {
        expect_len(what, len, cols)?;
    }
    let unbias = T::of(rows as f64) / T::of((rows - 1) as f64);
    let rest = T::one() - momentum;
    for ((rm, rv), (&m, &v)) in running_mean.iter_mut().zip(running_var.iter_mut()).zip(mean.iter().zip(var)) {
        *rm = momentum * *rm + rest * m;
        *rv = momentum * *rv + rest * v * unbias;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_columns_and_gradients_match_finite_differences() -> Result<()> {
        let x = [1.0f64, 2.0, 3.0, -1.0, 0.5, 4.0, 2.5, 0.0, -2.0];
        let (gamma, beta, eps) = ([1.5, 0.5, -1.0], [0.1, 0.2, 0.3], 1e-5);
        let mut y = [0.0; 9];
        let mut xhat = [0.0; 9];
        let (mut mean, mut var) = ([0.0; 3], [0.0; 3]);
        batchnorm_forward_train(&x, 3, &gamma, &beta, eps, &mut y, &mut xhat, &mut mean, &mut var)?;
        for j in 0..3 {
            let col_mean: f64 = (0..3).map(|i| xhat[i * 3 + j]).sum::<f64>() / 3.0;
            assert!(col_mean.abs() < 1e-12);
        }
        let upstream = [0.3, -0.2, 0.5, 1.0, 0.1, -0.7, 0.2, 0.4, 0.9];
        let objective = |x: &[f64]| -> f64 {
            let (mut y, mut h, mut m, mut v) = ([0.0; 9], [0.0; 9], [0.0; 3], [0.0; 3]);
            batchnorm_forward_train(x, 3, &gamma, &beta, eps, &mut y, &mut h, &mut m, &mut v).unwrap();
            y.iter().zip(&upstream).map(|(a, b)| a * b).sum()
        };
        let (mut dx, mut dgamma, mut dbeta) = ([0.0; 9], [0.0; 3], [0.0; 3]);
        batchnorm_backward(&upstream, &xhat, 3, &gamma, &var, eps, &mut dx, &mut dgamma, &mut dbeta)?;
        for i in 0..9 {
            let (mut plus, mut minus) = (x, x);
            plus[i] += 1e-6;
            minus[i] -= 1e-6;
            let numeric = (objective(&plus) - objective(&minus)) / 2e-6;
            assert!((numeric - dx[i]).abs() < 1e-6, "dx[{i}]: {numeric} vs {}", dx[i]);
        }
        Ok(())
    }

    #[test]
    fn running_statistics_need_two_rows() {
        let (mut rm, mut rv) = ([0.0f32; 2], [1.0f32; 2]);
        assert!(batchnorm_update_running(&mut rm, &mut rv, &[1.0, 1.0], &[0.0, 0.0], 1, 0.9).is_err());
        assert!(batchnorm_update_running(&mut rm, &mut rv, &[1.0, 2.0], &[2.0, 2.0], 4, 0.9).is_ok());
        assert!((rm[1] - 0.2).abs() < 1e-7 && (rv[0] - (0.9 + 0.1 * 2.0 * 4.0 / 3.0)).abs() < 1e-6);
    }
}
