//! The layers of a network: their parameters and their forward and backward passes on one batch.
//!
//! A layer reads its input block and writes its output block (rows × width, row-major); what the backward pass
//! needs besides input and output (masks, x̂, batch statistics) goes into the layer's `LayerCache`.

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::buffer;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::kernels::activation::Activation;
use crate::kernels::{batchnorm, dense, dropout};
use crate::rng;
use crate::scalar::Real;

/// Largest layer width or input dimension: guards against accidental huge allocations.
pub const MAX_WIDTH: usize = 1 << 24;
/// Largest number of values in one weight matrix (2^31: 8 GiB of f32).
pub const MAX_PARAMS: usize = 1 << 31;

/// How a layer is described (the Python `Layer.config()` dicts, parsed).
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    Dense { units: usize, activation: Activation, init: Init, dropconnect: f64 },
    Activation(Activation),
    Dropout(f64),
    BatchNorm { momentum: f64, eps: f64 },
}

/// A trainable tensor (its optimizer state lives with the trainer, see `optim::OptimizerState`).
#[derive(Clone, Debug, PartialEq)]
pub struct Param<T> {
    pub value: Vec<T>,
}

impl<T: Real> Param<T> {
    fn new(value: Vec<T>) -> Self {
        Param { value }
    }

    fn try_clone(&self) -> Result<Self> {
        Ok(Param { value: buffer::copy_of(&self.value, "a copy of the parameters")? })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T> {
    pub fan_in: usize,
    pub fan_out: usize,
    /// (fan_in × fan_out), row-major.
    pub weight: Param<T>,
    pub bias: Param<T>,
    pub activation: Activation,
    pub dropconnect: f64,
}

impl<T: Real> Dense<T> {
    /// The weights a forward pass multiplies by: in training mode with DropConnect, W masked by the mask of
    /// `ctx` (mask and masked copy kept in `cache` for the backward pass); otherwise W.
    pub(crate) fn pass_weight<'c>(&'c self, cache: &'c mut LayerCache<T>, ctx: PassContext) -> Result<&'c [T]> {
        if ctx.training && self.dropconnect > 0.0 {
            dropout::dropout_mask(&mut cache.mask, self.fan_out, self.dropconnect, ctx.seed, rng::DROPCONNECT, ctx.step, ctx.index)?;
            cache.masked_weight.copy_from_slice(&self.weight.value);
            dropout::dropout_forward(&mut cache.masked_weight, &cache.mask)?;
            Ok(&cache.masked_weight)
        } else {
            Ok(&self.weight.value)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm<T> {
    pub dim: usize,
    pub gamma: Param<T>,
    pub beta: Param<T>,
    pub running_mean: Vec<T>,
    pub running_var: Vec<T>,
    /// Keep factor of the running averages (torch's momentum is 1 − this).
    pub momentum: f64,
    pub eps: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layer<T> {
    Dense(Dense<T>),
    Activation { dim: usize, activation: Activation },
    Dropout { dim: usize, p: f64 },
    BatchNorm(BatchNorm<T>),
}

/// Scratch a layer keeps between its forward and backward pass (sized once per batch size).
#[derive(Clone, Debug, Default)]
pub struct LayerCache<T> {
    /// Dropout: (rows × dim) scaled mask; DropConnect: (fan_in × fan_out) scaled mask.
    pub mask: Vec<T>,
    /// DropConnect: the masked weights used by this batch.
    pub masked_weight: Vec<T>,
    /// BatchNorm: x̂ (rows × dim) and the batch mean and biased variance (dim).
    pub xhat: Vec<T>,
    pub mean: Vec<T>,
    pub var: Vec<T>,
}

/// What a forward pass needs to know besides the data.
#[derive(Clone, Copy, Debug)]
pub struct PassContext {
    /// Training mode: masks on, batch statistics.
    pub training: bool,
    /// This layer's activation is applied by the loss (fused head): compute the logits only.
    pub skip_activation: bool,
    pub seed: u64,
    /// Keys the masks: the number of updates made so far.
    pub step: u64,
    /// The layer's position in the network (keys its masks).
    pub index: usize,
}

fn checked_len(rows: usize, cols: usize, what: &str) -> Result<usize> {
    rows.checked_mul(cols).filter(|&n| n <= MAX_PARAMS).ok_or_else(|| Error::value(what, format!("{rows} × {cols} values is too large")))
}

impl<T: Real> Layer<T> {
    /// Build a layer with fresh parameters for an input of width `in_dim`.
    pub fn build(spec: &LayerSpec, in_dim: usize, seed: u64, index: usize) -> Result<Self> {
        Ok(match *spec {
            LayerSpec::Dense { units, activation, init, dropconnect } => {
                if units == 0 || units > MAX_WIDTH {
                    return Err(Error::value("units", format!("must be between 1 and {MAX_WIDTH}; got {units}")));
                }
                check_probability("dropconnect", dropconnect)?;
                let mut weight = buffer::zeros(checked_len(in_dim, units, "Dense weights")?, "Dense weights")?;
                init.fill(&mut weight, in_dim, units, seed, index)?;
                Layer::Dense(Dense {
                    fan_in: in_dim,
                    fan_out: units,
                    weight: Param::new(weight),
                    bias: Param::new(buffer::zeros(units, "Dense biases")?),
                    activation,
                    dropconnect,
                })
            }
            LayerSpec::Activation(activation) => Layer::Activation { dim: in_dim, activation },
            LayerSpec::Dropout(p) => {
                check_probability("p", p)?;
                Layer::Dropout { dim: in_dim, p }
            }
            LayerSpec::BatchNorm { momentum, eps } => {
                if !(momentum > 0.0 && momentum < 1.0) {
                    return Err(Error::value("momentum", format!("must be in (0, 1); got {momentum}")));
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(Error::value("eps", format!("must be > 0; got {eps}")));
                }
                Layer::BatchNorm(BatchNorm {
                    dim: in_dim,
                    gamma: Param::new(buffer::filled(in_dim, T::one(), "BatchNorm gamma")?),
                    beta: Param::new(buffer::zeros(in_dim, "BatchNorm beta")?),
                    running_mean: buffer::zeros(in_dim, "BatchNorm running_mean")?,
                    running_var: buffer::filled(in_dim, T::one(), "BatchNorm running_var")?,
                    momentum,
                    eps,
                })
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "dense",
            Layer::Activation { .. } => "activation",
            Layer::Dropout { .. } => "dropout",
            Layer::BatchNorm(_) => "batchnorm",
        }
    }

    pub fn in_dim(&self) -> usize {
        match self {
            Layer::Dense(d) => d.fan_in,
            Layer::Activation { dim, .. } | Layer::Dropout { dim, .. } => *dim,
            Layer::BatchNorm(bn) => bn.dim,
        }
    }

    pub fn out_dim(&self) -> usize {
        match self {
            Layer::Dense(d) => d.fan_out,
            _ => self.in_dim(),
        }
    }

    /// The activation this layer ends with, if any (used to detect a fused loss head).
    pub fn activation(&self) -> Option<Activation> {
        match self {
            Layer::Dense(d) => Some(d.activation),
            Layer::Activation { activation, .. } => Some(*activation),
            _ => None,
        }
    }

    /// Trainable tensors with their names, in update order.
    pub fn params(&self) -> Vec<(&'static str, &Param<T>)> {
        match self {
            Layer::Dense(d) => vec![("W", &d.weight), ("b", &d.bias)],
            Layer::BatchNorm(bn) => vec![("gamma", &bn.gamma), ("beta", &bn.beta)],
            _ => Vec::new(),
        }
    }

    /// The trainable tensors, by name (an iterator over a fixed-size array: the training step calls this for
    /// every layer of every batch, and must not allocate).
    pub fn params_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut Param<T>)> {
        let pair = match self {
            Layer::Dense(d) => [Some(("W", &mut d.weight)), Some(("b", &mut d.bias))],
            Layer::BatchNorm(bn) => [Some(("gamma", &mut bn.gamma)), Some(("beta", &mut bn.beta))],
            _ => [None, None],
        };
        pair.into_iter().flatten()
    }

    /// A copy that reports a failed allocation instead of aborting (snapshots of large models).
    pub fn try_clone(&self) -> Result<Self> {
        let copy = |v: &Vec<T>| buffer::copy_of(v, "a copy of the parameters");
        Ok(match self {
            Layer::Dense(d) => Layer::Dense(Dense { weight: d.weight.try_clone()?, bias: d.bias.try_clone()?, ..*d }),
            Layer::BatchNorm(bn) => Layer::BatchNorm(BatchNorm {
                gamma: bn.gamma.try_clone()?,
                beta: bn.beta.try_clone()?,
                running_mean: copy(&bn.running_mean)?,
                running_var: copy(&bn.running_var)?,
                ..*bn
            }),
            Layer::Activation { dim, activation } => Layer::Activation { dim: *dim, activation: *activation },
            Layer::Dropout { dim, p } => Layer::Dropout { dim: *dim, p: *p },
        })
    }

    /// Lengths of the trainable tensors (at most two), without allocating (called for every batch).
    pub fn param_lens(&self) -> [Option<usize>; 2] {
        match self {
            Layer::Dense(d) => [Some(d.weight.value.len()), Some(d.bias.value.len())],
            Layer::BatchNorm(bn) => [Some(bn.gamma.value.len()), Some(bn.beta.value.len())],
            _ => [None, None],
        }
    }

    /// Sizes of the trainable tensors, in `params()` order.
    pub fn param_sizes(&self) -> Vec<usize> {
        self.params().iter().map(|(_, p)| p.value.len()).collect()
    }

    /// The penalty applies to a Dense layer's weights only (index 0 of its params).
    pub fn penalized(&self, param_index: usize) -> bool {
        matches!(self, Layer::Dense(_)) && param_index == 0
    }

    /// Size the cache for batches of up to `rows` rows.
    pub fn size_cache(&self, cache: &mut LayerCache<T>, rows: usize) -> Result<()> {
        let zeros = |n: usize| buffer::zeros(n, "layer cache");
        match self {
            Layer::Dense(d) if d.dropconnect > 0.0 => {
                cache.mask = zeros(d.fan_in * d.fan_out)?;
                cache.masked_weight = zeros(d.fan_in * d.fan_out)?;
            }
            Layer::Dropout { dim, p } if *p > 0.0 => cache.mask = zeros(buffer::area(rows, *dim, "dropout mask")?)?,
            Layer::BatchNorm(bn) => {
                cache.xhat = zeros(buffer::area(rows, bn.dim, "batchnorm cache")?)?;
                cache.mean = zeros(bn.dim)?;
                cache.var = zeros(bn.dim)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Forward pass of `rows` rows from `x` (rows × in_dim) into `y` (rows × out_dim).
    pub fn forward(&self, x: &[T], y: &mut [T], rows: usize, cache: &mut LayerCache<T>, ctx: PassContext) -> Result<()> {
        let (in_dim, out_dim) = (self.in_dim(), self.out_dim());
        let x = x.get(..rows * in_dim).ok_or_else(|| Error::value("input", "buffer too small"))?;
        let y = y.get_mut(..rows * out_dim).ok_or_else(|| Error::value("output", "buffer too small"))?;
        match self {
            Layer::Dense(d) => {
                let activation = if ctx.skip_activation { Activation::Linear } else { d.activation };
                let weight = d.pass_weight(cache, ctx)?;
                dense::dense_forward(
                    view(x, rows, in_dim)?,
                    view(weight, d.fan_in, d.fan_out)?,
                    &d.bias.value,
                    activation,
                    view_mut(y, rows, out_dim)?,
                )
            }
            Layer::Activation { activation, .. } => {
                y.copy_from_slice(x);
                if !ctx.skip_activation {
                    activation.forward_parallel(y, out_dim)?;
                }
                Ok(())
            }
            Layer::Dropout { p, .. } => {
                y.copy_from_slice(x);
                if ctx.training && *p > 0.0 {
                    let mask = cache.mask.get_mut(..rows * out_dim).ok_or_else(|| Error::value("dropout mask", "buffer too small"))?;
                    dropout::dropout_mask(mask, out_dim, *p, ctx.seed, rng::DROPOUT, ctx.step, ctx.index)?;
                    dropout::dropout_forward(y, mask)?;
                }
                Ok(())
            }
            Layer::BatchNorm(bn) => {
                let eps = T::of(bn.eps);
                if ctx.training {
                    // Two rows or more: checked once, by `Network::check_training_rows`.
                    let xhat = cache.xhat.get_mut(..rows * out_dim).ok_or_else(|| Error::value("batchnorm cache", "buffer too small"))?;
                    batchnorm::batchnorm_forward_train(
                        x,
                        out_dim,
                        &bn.gamma.value,
                        &bn.beta.value,
                        eps,
                        y,
                        xhat,
                        &mut cache.mean,
                        &mut cache.var,
                    )
                } else {
                    batchnorm::batchnorm_forward_eval(
                        x,
                        out_dim,
                        &bn.gamma.value,
                        &bn.beta.value,
                        &bn.running_mean,
                        &bn.running_var,
                        eps,
                        y,
                    )
                }
            }
        }
    }

    /// After a training forward pass: fold the batch statistics into the running averages (BatchNorm only).
    pub fn update_running_statistics(&mut self, cache: &LayerCache<T>, rows: usize) -> Result<()> {
        if let Layer::BatchNorm(bn) = self {
            batchnorm::batchnorm_update_running(
                &mut bn.running_mean,
                &mut bn.running_var,
                &cache.mean,
                &cache.var,
                rows,
                T::of(bn.momentum),
            )?;
        }
        Ok(())
    }

    /// Backward pass. `grad` holds d loss / d output (rows × out_dim) and may be overwritten. Writes the
    /// parameter gradients into `param_grads` (in `params()` order) and, when `grad_in` is given, d loss / d input
    /// (rows × in_dim). Returns where the input gradient is: `true` in `grad_in`, `false` still in `grad`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[T],
        y: &[T],
        grad: &mut [T],
        grad_in: Option<&mut [T]>,
        rows: usize,
        cache: &LayerCache<T>,
        param_grads: &mut [Vec<T>],
        ctx: PassContext,
    ) -> Result<bool> {
        let (in_dim, out_dim) = (self.in_dim(), self.out_dim());
        let short = || Error::value("backward", "buffer too small");
        let x = x.get(..rows * in_dim).ok_or_else(short)?;
        let y = y.get(..rows * out_dim).ok_or_else(short)?;
        let grad = grad.get_mut(..rows * out_dim).ok_or_else(short)?;
        match self {
            Layer::Dense(d) => {
                if !ctx.skip_activation {
                    d.activation.backward_parallel(grad, y, out_dim)?;
                }
                let masked = ctx.training && d.dropconnect > 0.0;
                let weight = if masked { &cache.masked_weight } else { &d.weight.value };
                let [dw, db] = param_grads else {
                    return Err(Error::value("backward", "a dense layer has two parameter gradients"));
                };
                dense::dense_backward_params(view(x, rows, in_dim)?, view(grad, rows, out_dim)?, view_mut(dw, in_dim, out_dim)?, db)?;
                if masked {
                    dropout::dropout_backward(dw, &cache.mask)?;
                }
                match grad_in {
                    Some(grad_in) => {
                        let grad_in = grad_in.get_mut(..rows * in_dim).ok_or_else(short)?;
                        dense::dense_backward_input(
                            view(grad, rows, out_dim)?,
                            view(weight, in_dim, out_dim)?,
                            view_mut(grad_in, rows, in_dim)?,
                        )?;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            }
            Layer::Activation { activation, .. } => {
                if !ctx.skip_activation {
                    activation.backward_parallel(grad, y, out_dim)?;
                }
                Ok(false)
            }
            Layer::Dropout { p, .. } => {
                if ctx.training && *p > 0.0 {
                    dropout::dropout_backward(grad, cache.mask.get(..rows * out_dim).ok_or_else(short)?)?;
                }
                Ok(false)
            }
            Layer::BatchNorm(bn) => {
                let [dgamma, dbeta] = param_grads else {
                    return Err(Error::value("backward", "a batchnorm layer has two parameter gradients"));
                };
                let grad_in = grad_in.ok_or_else(short)?.get_mut(..rows * in_dim).ok_or_else(short)?;
                batchnorm::batchnorm_backward(
                    grad,
                    cache.xhat.get(..rows * out_dim).ok_or_else(short)?,
                    out_dim,
                    &bn.gamma.value,
                    &cache.var,
                    T::of(bn.eps),
                    grad_in,
                    dgamma,
                    dbeta,
                )?;
                Ok(true)
            }
        }
    }
}

fn check_probability(what: &str, p: f64) -> Result<()> {
    if (0.0..1.0).contains(&p) { Ok(()) } else { Err(Error::value(what, format!("must be in [0, 1); got {p}"))) }
}

/// A contiguous slice as a (rows × cols) matrix view.
pub fn view<T>(data: &[T], rows: usize, cols: usize) -> Result<ArrayView2<'_, T>> {
    ArrayView2::from_shape((rows, cols), data)
        .map_err(|e| Error::value("matrix", format!("{} values as ({rows}, {cols}): {e}", data.len())))
}

/// A contiguous mutable slice as a (rows × cols) matrix view.
pub fn view_mut<T>(data: &mut [T], rows: usize, cols: usize) -> Result<ArrayViewMut2<'_, T>> {
    let len = data.len();
    ArrayViewMut2::from_shape((rows, cols), data).map_err(|e| Error::value("matrix", format!("{len} values as ({rows}, {cols}): {e}")))
}
