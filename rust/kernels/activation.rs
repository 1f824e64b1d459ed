//! Activations. Forward passes work in place on the pre-activation; backward passes work in place on the
//! gradient and take the forward *output*, from which every derivative here follows (so no pre-activation is
//! kept). Softmax is row-wise over `cols` columns.

use crate::error::{Error, Result};
use crate::scalar::Real;

/// Element-wise passes over at least this many values are split across the engine's pool; on a training
/// chunk's team, whose threads are awake already, from `TEAM_MIN_VALUES`.
pub const PARALLEL_MIN_VALUES: usize = 1 << 17;
pub const TEAM_MIN_VALUES: usize = 1 << 14;
/// Values per parallel task, at least.
const TASK_MIN_VALUES: usize = 1 << 12;

/// Rows per parallel task for a (len / cols × cols) block, or None when it should run on one thread.
pub fn parallel_rows(len: usize, cols: usize) -> Option<usize> {
    if cols == 0 || !crate::parallel::worth_splitting(len, TEAM_MIN_VALUES, PARALLEL_MIN_VALUES) {
        return None;
    }
    // About 8 tasks: enough for any team to share evenly, each large enough to pay for its claim.
    Some(((len / 8).max(TASK_MIN_VALUES) / cols).max(1))
}

/// Slope of leaky ReLU for negative inputs.
pub const LEAKY_SLOPE: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    LeakyRelu,
    Sigmoid,
    Tanh,
    Linear,
    Softmax,
}

impl Activation {
    pub const ALL: [Activation; 6] =
        [Activation::Relu, Activation::LeakyRelu, Activation::Sigmoid, Activation::Tanh, Activation::Linear, Activation::Softmax];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Linear => "linear",
            Activation::Softmax => "softmax",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
            Error::value("activation", format!("must be one of {names:?}; got {name:?}"))
        })
    }

    /// `forward` over blocks of rows on the engine's threads when the block is large (element-wise or row-wise
    /// work: the split cannot change any result).
    pub fn forward_parallel<T: Real>(self, x: &mut [T], cols: usize) -> Result<()> {
        match parallel_rows(x.len(), cols) {
            Some(rows) => crate::parallel::for_each_chunk_mut(x, rows * cols, |_, chunk| {
                self.forward(chunk, cols);
                Ok(())
            }),
            None => {
                self.forward(x, cols);
                Ok(())
            }
        }
    }

    /// `backward` over blocks of rows on the engine's threads when the block is large.
    pub fn backward_parallel<T: Real>(self, grad: &mut [T], output: &[T], cols: usize) -> Result<()> {
        match parallel_rows(grad.len(), cols) {
            Some(rows) => {
                let size = rows * cols;
                crate::parallel::for_each_chunk_mut(grad, size, |index, g| {
                    self.backward(g, output.get(index * size..).unwrap_or(&[]), cols);
                    Ok(())
                })
            }
            None => {
                self.backward(grad, output, cols);
                Ok(())
            }
        }
    }

    /// Apply in place to a row-major block with `cols` columns.
    pub fn forward<T: Real>(self, x: &mut [T], cols: usize) {
        match self {
            Activation::Relu => relu_forward(x),
            Activation::LeakyRelu => leaky_relu_forward(x, T::of(LEAKY_SLOPE)),
            Activation::Sigmoid => sigmoid_forward(x),
            Activation::Tanh => tanh_forward(x),
            Activation::Linear => {}
            Activation::Softmax => softmax_forward(x, cols),
        }
    }

    /// Turn `grad` (d loss / d output) into d loss / d input, in place, given the forward output.
    pub fn backward<T: Real>(self, grad: &mut [T], output: &[T], cols: usize) {
        match self {
            Activation::Relu => relu_backward(grad, output),
            Activation::LeakyRelu => leaky_relu_backward(grad, output, T::of(LEAKY_SLOPE)),
            Activation::Sigmoid => sigmoid_backward(grad, output),
            Activation::Tanh => tanh_backward(grad, output),
            Activation::Linear => {}
            Activation::Softmax => softmax_backward(grad, output, cols),
        }
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn relu_forward<T: Real>(x: &mut [T]) {
    for v in x {
        *v = if *v > T::zero() { *v } else { T::zero() };
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn relu_backward<T: Real>(grad: &mut [T], output: &[T]) {
    for (g, &y) in grad.iter_mut().zip(output) {
        *g = if y > T::zero() { *g } else { T::zero() };
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn leaky_relu_forward<T: Real>(x: &mut [T], slope: T) {
    for v in x {
        *v = if *v > T::zero() { *v } else { *v * slope };
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn leaky_relu_backward<T: Real>(grad: &mut [T], output: &[T], slope: T) {
    for (g, &y) in grad.iter_mut().zip(output) {
        *g = if y > T::zero() { *g } else { *g * slope };
    }
}

/// The logistic function, computed without overflow for large |z|.
#[inline]
pub fn sigmoid<T: Real>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

pub fn sigmoid_forward<T: Real>(x: &mut [T]) {
    for v in x {
        *v = sigmoid(*v);
    }
}

pub fn sigmoid_backward<T: Real>(grad: &mut [T], output: &[T]) {
    for (g, &y) in grad.iter_mut().zip(output) {
        *g = *g * y * (T::one() - y);
    }
}

pub fn tanh_forward<T: Real>(x: &mut [T]) {
    for v in x {
        *v = v.tanh();
    }
}

pub fn tanh_backward<T: Real>(grad: &mut [T], output: &[T]) {
    for (g, &y) in grad.iter_mut().zip(output) {
        *g *= T::one() - y * y;
    }
}

/// Row-wise softmax, shifted by each row's maximum.
pub fn softmax_forward<T: Real>(x: &mut [T], cols: usize) {
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact_mut(cols) {
        let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut sum = T::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = T::one() / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// The softmax Jacobian-vector product: `dz = y ⊙ (g − Σ_j g_j y_j)` per row.
pub fn softmax_backward<T: Real>(grad: &mut [T], output: &[T], cols: usize) {
    if cols == 0 {
        return;
    }
    for (g_row, y_row) in grad.chunks_exact_mut(cols).zip(output.chunks_exact(cols)) {
        let dot: T = g_row.iter().zip(y_row).map(|(&g, &y)| g * y).sum();
        for (g, &y) in g_row.iter_mut().zip(y_row) {
            *g = y * (*g - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Ok(a));
        }
        assert!(Activation::from_name("gelu").is_err());
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        let mut x = [-1000.0f64, 0.0, 1000.0];
        sigmoid_forward(&mut x);
        assert_eq!(x, [0.0, 0.5, 1.0]);
    }

    #[test]
    fn softmax_rows_sum_to_one_even_for_huge_logits() {
        let mut x = [1000.0f32, 1001.0, 1002.0, -5.0, 0.0, 5.0];
        softmax_forward(&mut x, 3);
        for row in x.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(row.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn backward_matches_central_differences() {
        let z = [-1.3f64, -0.2, 0.4, 2.1, 0.7, -0.9];
        let upstream = [0.3f64, -1.1, 0.5, 0.8, -0.4, 1.2];
        for act in Activation::ALL {
            let mut y = z;
            act.forward(&mut y, 3);
            let mut grad = upstream;
            act.backward(&mut grad, &y, 3);
            for i in 0..z.len() {
                let h = 1e-6;
                let (mut plus, mut minus) = (z, z);
                plus[i] += h;
                minus[i] -= h;
                act.forward(&mut plus, 3);
                act.forward(&mut minus, 3);
                let numeric: f64 = (0..z.len()).map(|j| upstream[j] * (plus[j] - minus[j]) / (2.0 * h)).sum();
                assert!((numeric - grad[i]).abs() < 1e-7, "{act:?} at {i}: {numeric} vs {}", grad[i]);
            }
        }
    }
}
