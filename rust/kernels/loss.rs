//! Losses on the last layer's output `z` (rows × cols, row-major). Each returns the (sample-weighted) mean
//! loss over rows and writes d loss / d z into `grad`. Formulas: docs/formulas.md.
//!
//! Softmax cross-entropy and binary cross-entropy take logits and are computed fused and shifted, never as the
//! log of a probability, so they stay finite for any finite logits. Poisson takes the log of the mean (the
//! log link): the mean is `exp(z)`.

use crate::error::{Error, Result, expect_len};
use crate::kernels::activation::sigmoid;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    SoftmaxCrossEntropy,
    Mse,
    BinaryCrossEntropy,
    Hinge,
    Poisson,
}

/// What a loss compares the output with.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, T> {
    /// One class index per row (softmax cross-entropy, hinge).
    Labels(&'a [u32]),
    /// A row-major matrix of the output's shape (mse, binary cross-entropy).
    Dense(&'a [T]),
}

impl Loss {
    pub const ALL: [Loss; 5] = [Loss::SoftmaxCrossEntropy, Loss::Mse, Loss::BinaryCrossEntropy, Loss::Hinge, Loss::Poisson];

    pub fn name(self) -> &'static str {
        match self {
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Loss::Mse => "mse",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
            Loss::Hinge => "hinge",
            Loss::Poisson => "poisson",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|l| l.name()).collect();
            Error::value("loss", format!("must be one of {names:?}; got {name:?}"))
        })
    }

    /// Whether targets are class indices (else a dense matrix).
    pub fn uses_labels(self) -> bool {
        matches!(self, Loss::SoftmaxCrossEntropy | Loss::Hinge)
    }

    /// The loss and its gradient, dispatched by kind; the targets must be of the kind the loss uses.
    pub fn loss_and_grad<T: Real>(self, z: &[T], cols: usize, targets: Targets<'_, T>, weights: Option<&[T]>, grad: &mut [T]) -> Result<T> {
        match (self, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Labels(y)) => softmax_cross_entropy(z, cols, y, weights, grad),
            (Loss::Hinge, Targets::Labels(y)) => hinge(z, cols, y, weights, grad),
            (Loss::Mse, Targets::Dense(t)) => mse(z, cols, t, weights, grad),
            (Loss::BinaryCrossEntropy, Targets::Dense(t)) => binary_cross_entropy(z, cols, t, weights, grad),
            (Loss::Poisson, Targets::Dense(t)) => poisson(z, cols, t, weights, grad),
            _ => Err(Error::type_error(
                "y",
                format!("must be {} for {}", if self.uses_labels() { "class labels" } else { "a target matrix" }, self.name()),
            )),
        }
    }

    /// How many rows the output gets right (binary cross-entropy: the fraction of correct outputs per row,
    /// summed). Regression (mse, poisson) has no accuracy and counts 0.
    pub fn count_correct<T: Real>(self, z: &[T], cols: usize, targets: Targets<'_, T>) -> f64 {
        match (self, targets) {
            (Loss::SoftmaxCrossEntropy | Loss::Hinge, Targets::Labels(y)) => {
                // `max(1)`: chunks_exact panics on a size of 0 (a 0-column z is empty and counts 0).
                z.chunks_exact(cols.max(1)).zip(y).filter(|&(row, &label)| argmax(row) == label as usize).count() as f64
            }
            (Loss::BinaryCrossEntropy, Targets::Dense(t)) => {
                let hits = z.iter().zip(t).filter(|&(&logit, &target)| (logit > T::zero()) == (target > T::of(0.5))).count();
                hits as f64 / cols.max(1) as f64
            }
            _ => 0.0,
        }
    }
}

/// Index of the first maximum of a row.
pub fn argmax<T: Real>(row: &[T]) -> usize {
    let Some(&first) = row.first() else {
        return 0;
    };
    let (mut best, mut best_value) = (0, first);
    for (j, &v) in row.iter().enumerate() {
        if v > best_value {
            (best, best_value) = (j, v);
        }
    }
    best
}

/// Shapes, label range and the per-row coefficients `w_i / Σw` (or `1/n`).
struct Batch<'a, T> {
    rows: usize,
    total: T,
    weights: Option<&'a [T]>,
}

impl<'a, T: Real> Batch<'a, T> {
    fn new(z_len: usize, cols: usize, targets_len: usize, targets_cols: usize, weights: Option<&'a [T]>, grad_len: usize) -> Result<Self> {
        if cols == 0 || !z_len.is_multiple_of(cols) {
            return Err(Error::value("z", format!("has {z_len} values, which do not form rows of {cols} columns")));
        }
        let rows = z_len / cols;
        expect_len("targets", targets_len, rows * targets_cols)?;
        expect_len("grad", grad_len, z_len)?;
        let total = match weights {
            Some(w) => {
                expect_len("sample_weight", w.len(), rows)?;
                w.iter().copied().sum()
            }
            None => T::of(rows as f64),
        };
        Ok(Batch { rows, total, weights })
    }

    /// The coefficient of each row in the weighted mean, in row order (`new` checked there is one weight per row).
    fn coefficients(&self) -> impl Iterator<Item = T> + 'a {
        let total = self.total;
        let weights = self.weights.unwrap_or_default().iter().copied();
        // Unweighted: every row has weight 1 (the chain is never reached when weights were given).
        weights.chain(std::iter::repeat(T::one())).take(self.rows).map(move |w| if total <= T::zero() { T::zero() } else { w / total })
    }
}

fn label_error(label: u32, cols: usize) -> Error {
    Error::value("y", format!("holds label {label}, out of range for {cols} outputs"))
}

fn check_labels(labels: &[u32], cols: usize) -> Result<()> {
    match labels.iter().find(|&&y| y as usize >= cols) {
        Some(&bad) => Err(label_error(bad, cols)),
        None => Ok(()),
    }
}

/// `mean_i(logsumexp(z_i) − z_i[y_i])`; gradient `(softmax(z) − onehot(y))/n`.
pub fn softmax_cross_entropy<T: Real>(z: &[T], cols: usize, labels: &[u32], weights: Option<&[T]>, grad: &mut [T]) -> Result<T> {
    let batch = Batch::new(z.len(), cols, labels.len(), 1, weights, grad.len())?;
    check_labels(labels, cols)?;
    let mut loss = T::zero();
    for (((row, g), &label), c) in z.chunks_exact(cols).zip(grad.chunks_exact_mut(cols)).zip(labels).zip(batch.coefficients()) {
        let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut sum = T::zero();
        for (gj, &zj) in g.iter_mut().zip(row) {
            *gj = (zj - max).exp();
            sum += *gj;
        }
        let y = label as usize;
        let z_y = *row.get(y).ok_or_else(|| label_error(label, cols))?;
        loss += c * (max + sum.ln() - z_y);
        let scale = c / sum;
        for gj in g.iter_mut() {
            *gj *= scale;
        }
        *g.get_mut(y).ok_or_else(|| label_error(label, cols))? -= c;
    }
    debug_assert!(batch.rows == labels.len());
    Ok(loss)
}

/// `mean over rows and outputs of (z − t)²`; gradient `2(z − t)/(n·k)`.
pub fn mse<T: Real>(z: &[T], cols: usize, target: &[T], weights: Option<&[T]>, grad: &mut [T]) -> Result<T> {
    let batch = Batch::new(z.len(), cols, target.len(), cols, weights, grad.len())?;
    let inv_cols = T::one() / T::of(cols as f64);
    let two = T::of(2.0);
    let mut loss = T::zero();
    let rows = grad.chunks_exact_mut(cols).zip(z.chunks_exact(cols)).zip(target.chunks_exact(cols));
    for (((g_row, z_row), t_row), c) in rows.zip(batch.coefficients()) {
        let c = c * inv_cols;
        let mut row_loss = T::zero();
        for ((g, &zj), &tj) in g_row.iter_mut().zip(z_row).zip(t_row) {
            let d = zj - tj;
            row_loss += d * d;
            *g = two * d * c;
        }
        loss += c * row_loss;
    }
    Ok(loss)
}

/// Binary cross-entropy on logits, `max(z,0) − z·t + log(1 + exp(−|z|))`, averaged over rows and outputs;
/// gradient `(σ(z) − t)/(n·k)`.
pub fn binary_cross_entropy<T: Real>(z: &[T], cols: usize, target: &[T], weights: Option<&[T]>, grad: &mut [T]) -> Result<T> {
    let batch = Batch::new(z.len(), cols, target.len(), cols, weights, grad.len())?;
    let inv_cols = T::one() / T::of(cols as f64);
    let mut loss = T::zero();
    let rows = grad.chunks_exact_mut(cols).zip(z.chunks_exact(cols)).zip(target.chunks_exact(cols));
    for (((g_row, z_row), t_row), c) in rows.zip(batch.coefficients()) {
        let c = c * inv_cols;
        let mut row_loss = T::zero();
        for ((g, &zj), &tj) in g_row.iter_mut().zip(z_row).zip(t_row) {
            row_loss += zj.max(T::zero()) - zj * tj + (-zj.abs()).exp().ln_1p();
            *g = (sigmoid(zj) - tj) * c;
        }
        loss += c * row_loss;
    }
    Ok(loss)
}

/// Half the Poisson deviance with the log link, on `z = log(mean)`: `exp(z) − t·z + t·ln(t) − t` (with
/// `0·ln 0 = 0`), averaged over rows and outputs; gradient `(exp(z) − t)/(n·k)`. The terms `t·ln(t) − t` do not
/// depend on `z`: they make the loss 0 at a perfect fit, the half deviance scikit-learn reports. Targets are
/// counts or rates, `t ≥ 0` (the caller checks; a negative `t` gives NaN).
pub fn poisson<T: Real>(z: &[T], cols: usize, target: &[T], weights: Option<&[T]>, grad: &mut [T]) -> Result<T> {
    let batch = Batch::new(z.len(), cols, target.len(), cols, weights, grad.len())?;
    let inv_cols = T::one() / T::of(cols as f64);
    let mut loss = T::zero();
    let rows = grad.chunks_exact_mut(cols).zip(z.chunks_exact(cols)).zip(target.chunks_exact(cols));
    for (((g_row, z_row), t_row), c) in rows.zip(batch.coefficients()) {
        let c = c * inv_cols;
        let mut row_loss = T::zero();
        for ((g, &zj), &tj) in g_row.iter_mut().zip(z_row).zip(t_row) {
            let mean = zj.exp();
            let t_log_t = if tj > T::zero() { tj * tj.ln() } else { T::zero() };
            row_loss += mean - tj * zj + t_log_t - tj;
            *g = (mean - tj) * c;
        }
        loss += c * row_loss;
    }
    Ok(loss)
}

/// Multiclass hinge, `mean_i Σ_{j≠y} max(0, z_j − z_y + 1)`; subgradient +1 at each j with a positive margin
/// and minus their count at y.
pub fn hinge<T: Real>(z: &[T], cols: usize, labels: &[u32], weights: Option<&[T]>, grad: &mut [T]) -> Result<T> {
    let batch = Batch::new(z.len(), cols, labels.len(), 1, weights, grad.len())?;
    check_labels(labels, cols)?;
    let mut loss = T::zero();
    for (((row, g), &label), c) in z.chunks_exact(cols).zip(grad.chunks_exact_mut(cols)).zip(labels).zip(batch.coefficients()) {
        let y = label as usize;
        let correct = *row.get(y).ok_or_else(|| label_error(label, cols))?;
        let mut violations = T::zero();
        let mut row_loss = T::zero();
        for (j, (gj, &zj)) in g.iter_mut().zip(row).enumerate() {
            let margin = zj - correct + T::one();
            if j != y && margin > T::zero() {
                row_loss += margin;
                violations += T::one();
                *gj = c;
            } else {
                *gj = T::zero();
            }
        }
        *g.get_mut(y).ok_or_else(|| label_error(label, cols))? = -violations * c;
        loss += c * row_loss;
    }
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_gradient(loss: Loss, z: &[f64], cols: usize, targets: Targets<'_, f64>, weights: Option<&[f64]>) {
        let mut grad = vec![0.0; z.len()];
        loss.loss_and_grad(z, cols, targets, weights, &mut grad).unwrap_or(f64::NAN);
        let mut scratch = vec![0.0; z.len()];
        for i in 0..z.len() {
            let h = 1e-6;
            let (mut plus, mut minus) = (z.to_vec(), z.to_vec());
            plus[i] += h;
            minus[i] -= h;
            let lp = loss.loss_and_grad(&plus, cols, targets, weights, &mut scratch).unwrap_or(f64::NAN);
            let lm = loss.loss_and_grad(&minus, cols, targets, weights, &mut scratch).unwrap_or(f64::NAN);
            let numeric = (lp - lm) / (2.0 * h);
            assert!((numeric - grad[i]).abs() < 1e-7, "{loss:?} at {i}: {numeric} vs {}", grad[i]);
        }
    }

    #[test]
    fn gradients_match_central_differences() {
        let z = [0.3, -1.2, 2.0, 0.1, 0.5, -0.4];
        let labels = [2u32, 0];
        let dense = [0.0, 1.0, 0.5, 1.0, 0.0, 0.25];
        let weights = [0.5, 2.0];
        for w in [None, Some(&weights[..])] {
            check_gradient(Loss::SoftmaxCrossEntropy, &z, 3, Targets::Labels(&labels), w);
            check_gradient(Loss::Hinge, &z, 3, Targets::Labels(&labels), w);
            check_gradient(Loss::Mse, &z, 3, Targets::Dense(&dense), w);
            check_gradient(Loss::BinaryCrossEntropy, &z, 3, Targets::Dense(&dense), w);
            check_gradient(Loss::Poisson, &z, 3, Targets::Dense(&[0.0, 3.0, 0.5, 1.0, 7.0, 0.25]), w);
        }
    }

    #[test]
    fn poisson_is_half_the_deviance_and_zero_at_a_perfect_fit() -> Result<()> {
        // z = ln(t) fits exactly: loss 0, gradient 0 (t = 0 needs z → −∞; leave it out).
        let t = [2.0f64, 0.5, 7.0];
        let z: Vec<f64> = t.iter().map(|v| v.ln()).collect();
        let mut grad = [1.0f64; 3];
        let loss = poisson(&z, 3, &t, None, &mut grad)?;
        assert!(loss.abs() < 1e-15 && grad.iter().all(|g| g.abs() < 1e-15), "{loss} {grad:?}");
        // One row, one output: mean 1 (z = 0) against t = 0 costs exp(0) = 1, against t = 1 costs 1 − 0 + 0 − 1 = 0.
        let mut g = [0.0f64];
        assert_eq!(poisson(&[0.0], 1, &[0.0], None, &mut g)?, 1.0);
        assert_eq!(g, [1.0]);
        assert_eq!(poisson(&[0.0], 1, &[1.0], None, &mut g)?, 0.0);
        Ok(())
    }

    #[test]
    fn softmax_cross_entropy_is_finite_for_huge_logits() -> Result<()> {
        let z = [1e4f32, -1e4, 0.0];
        let mut grad = [0.0f32; 3];
        let loss = softmax_cross_entropy(&z, 3, &[1], None, &mut grad)?;
        assert!((loss - 2e4).abs() < 1.0);
        assert!(grad.iter().all(|g| g.is_finite()));
        Ok(())
    }

    #[test]
    fn bad_labels_and_shapes_are_errors() {
        let mut grad = [0.0f64; 4];
        assert!(softmax_cross_entropy(&[0.0; 4], 2, &[0, 2], None, &mut grad).is_err());
        assert!(mse(&[0.0; 4], 2, &[0.0; 3], None, &mut grad).is_err());
        assert!(hinge(&[0.0; 4], 3, &[0], None, &mut grad).is_err());
    }

    #[test]
    fn hinge_counts_margins() -> Result<()> {
        // Row scores (1, 2, 0.5), label 0: margins 2 and 0.5 -> loss 2.5.
        let mut grad = [0.0f64; 3];
        let loss = hinge(&[1.0, 2.0, 0.5], 3, &[0], None, &mut grad)?;
        assert_eq!(loss, 2.5);
        assert_eq!(grad, [-2.0, 1.0, 1.0]);
        Ok(())
    }
}
