//! The small-net step: a net whose parameters, gradients and optimizer state fit in L2 trains a batch one tile of
//! `TILE_ROWS` rows at a time. Each tile goes forward through every layer, through the loss and backward while its
//! activations and gradients stay in L1, and adds its parameter gradients into its group's; then the groups' sums
//! are added in order and each parameter is updated once, while it is still in cache. The Dense layers use the
//! register-tile kernels of `gemm/tile.rs`, which read their operands in place: no packing, no plan and no
//! per-product threads, whose costs the general step's products pay on every layer of every batch.
//!
//! The batch is cut into groups of `GROUP_ROWS` rows, the unit of parallel work: on a team (a chunk of batches
//! larger than one group forms one), the groups run on its threads, each into its own buffers. The cut depends on
//! the batch size alone, and every sum runs in a fixed order (rows in order within a group, then groups in
//! order), so results never depend on the thread count.
//!
//! Taken for a batch of more than one row of a net of Dense (without DropConnect) and Activation layers with at
//! most `MAX_PARAMS` parameters, no layer wider than `MAX_WIDTH` and at most `MAX_OUTPUTS` outputs, an unweighted
//! batch and a dense X: a choice from the model and the batch alone. Results equal the general step's up to rounding (sums run in another
//! order), which the parity tests bound.

use std::sync::OnceLock;

use crate::buffer;
use crate::cpu::{self, Isa};
use crate::error::{Error, Result};
use crate::gemm::tile;
use crate::kernels::activation::Activation;
use crate::kernels::loss::Targets;
use crate::kernels::penalty;
use crate::network::layer::{Layer, view, view_mut};
use crate::network::{BatchResult, Network, Workspace};
use crate::parallel::{self, Disjoint};
use crate::scalar::Real;
use crate::train::parts::{Parts, SmallNetGroup, SmallNetScratch};

/// Rows per tile: a tile of the widest layer (16 × 1,024 float32 values, 64 KiB) and its gradient stay in L2,
/// and those of the usual widths (≤ 256) in L1.
const TILE_ROWS: usize = 16;
/// Rows per group, the unit of parallel work: four tiles, so that a group's work (at least 2^14 multiply-adds
/// per row of a net of 2^12 parameters) pays for a team phase, and a batch of 128 rows feeds two threads.
pub(crate) const GROUP_ROWS: usize = 4 * TILE_ROWS;
/// The most parameters a small net may have: with their gradients, Wᵀ and two optimizer state tensors, 320 KiB
/// of float32 (L2).
pub(crate) const MAX_PARAMS: usize = 1 << 14;
/// The widest layer a small net may have.
const MAX_WIDTH: usize = 1 << 10;
/// The most outputs a small net may have. Measured (Zen 5, 1 thread, batch 128, Adam): the step wins on
/// regression-like heads (8-256-1: 1.15-1.5×, 100-100-1: 1.2×, 13-40-3: 1.2×) but loses to the packed GEMM on a
/// 10-class head (64-64-10: 0.9×), whose register blocks run mostly on partial vectors.
const MAX_OUTPUTS: usize = 4;

fn short() -> Error {
    Error::value("small-net step", "buffer too small")
}

/// `dst (cols × rows) ← srcᵀ` for `src` rows × cols.
fn transpose<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) -> Result<()> {
    view_mut(dst, cols, rows)?.assign(&view(src, rows, cols)?.t());
    Ok(())
}

/// Make `buf` `len` values long; allocates (zeroed) only when the length changes.
fn sized<T: Real>(buf: &mut Vec<T>, len: usize) -> Result<()> {
    if buf.len() != len {
        *buf = buffer::zeros(len, "the small-net step's buffers")?;
    }
    Ok(())
}

/// `sized`, then zeroed.
fn zeroed<T: Real>(buf: &mut Vec<T>, len: usize) -> Result<()> {
    sized(buf, len)?;
    buf.fill(T::zero());
    Ok(())
}

impl<T: Real> SmallNetScratch<T> {
    /// Size the buffers for `layers` and `groups` groups (allocating only when a size grows or changes), fill Wᵀ
    /// from the current weights and zero the groups' sums.
    fn prepare(&mut self, layers: &[Layer<T>], isa: Isa, groups: usize) -> Result<()> {
        self.transposed.resize_with(layers.len(), Vec::new);
        for (index, (layer, wt)) in layers.iter().zip(&mut self.transposed).enumerate() {
            let Layer::Dense(d) = layer else { continue };
            let wanted = index > 0 || tile::narrow::<T>(isa, d.fan_out);
            if wanted {
                sized(wt, d.fan_in * d.fan_out)?;
                transpose(&d.weight.value, d.fan_in, d.fan_out, wt)?;
            } else {
                sized(wt, 0)?;
            }
        }
        if self.groups.len() < groups {
            self.groups.resize_with(groups, SmallNetGroup::default);
        }
        self.groups.iter_mut().take(groups).try_for_each(|group| group.prepare(layers))
    }
}

impl<T: Real> SmallNetGroup<T> {
    fn prepare(&mut self, layers: &[Layer<T>]) -> Result<()> {
        let widest = layers.iter().flat_map(|layer| [layer.in_dim(), layer.out_dim()]).max().unwrap_or(0);
        self.acts.resize_with(layers.len(), Vec::new);
        self.param_grads.resize_with(layers.len(), Vec::new);
        for ((layer, act), grads) in layers.iter().zip(&mut self.acts).zip(&mut self.param_grads) {
            sized(act, TILE_ROWS * layer.out_dim())?;
            let lens = layer.param_lens();
            grads.resize_with(lens.iter().flatten().count(), Vec::new);
            for (grad, &len) in grads.iter_mut().zip(lens.iter().flatten()) {
                zeroed(grad, len)?;
            }
        }
        for grad in &mut self.grad {
            sized(grad, TILE_ROWS * widest)?;
        }
        (self.loss, self.correct) = (T::zero(), 0.0);
        Ok(())
    }
}

/// What every group of a step reads: the net, the batch in the workspace, Wᵀ.
struct Shared<'a, T: Real> {
    net: &'a Network<T>,
    ws: &'a Workspace<T>,
    transposed: &'a [Vec<T>],
    isa: Isa,
    rows: usize,
    step: u64,
}

impl<T: Real> Parts<'_, T> {
    /// Whether a batch of `rows` rows takes the small-net step (see the module docs).
    pub(crate) fn small_net_eligible(&self, rows: usize, weighted: bool) -> bool {
        rows > 1 && !weighted && !self.ws.sparse.enabled() && small_net(&self.net.layers, self.net.input_dim)
    }

    /// One training step on the batch of `rows` rows in the workspace (see the module docs). A non-finite loss
    /// returns before any update.
    pub(crate) fn train_small_net(&mut self, rows: usize) -> Result<BatchResult> {
        let isa = cpu::isa()?;
        let groups = rows.div_ceil(GROUP_ROWS);
        self.small.prepare(&self.net.layers, isa, groups)?;
        let SmallNetScratch { transposed, groups: buffers } = &mut *self.small;
        let shared = Shared { net: &*self.net, ws: &*self.ws, transposed, isa, rows, step: self.counters.step };
        let group_buffers = Disjoint::new(buffers.get_mut(..groups).ok_or_else(short)?);
        parallel::for_each(groups, |g| {
            // SAFETY: task g takes the one group g; no other task touches it.
            let group = unsafe { group_buffers.chunk(g, 1) }.first_mut().ok_or_else(short)?;
            let (first, end) = (g * GROUP_ROWS, ((g + 1) * GROUP_ROWS).min(rows));
            (first..end).step_by(TILE_ROWS).try_for_each(|at| shared.tile(group, at, TILE_ROWS.min(end - at)))
        })?;
        let (loss, correct) = self.small.add_up(groups)?;
        if !loss.is_finite() {
            return Ok(BatchResult { objective: loss.f64(), correct });
        }
        let penalty_value = self.update_from_sums(isa, rows)?;
        self.counters.step += 1;
        self.opt.updates += 1;
        Ok(BatchResult { objective: (loss + penalty_value).f64(), correct })
    }
}

impl<T: Real> Parts<'_, T> {
    /// Update every parameter from the first group's sums (the batch's gradients), read in place; a narrow
    /// layer's dWᵀ is transposed into the workspace's dW first. Returns the penalty of the weights before the
    /// update.
    fn update_from_sums(&mut self, isa: Isa, rows: usize) -> Result<T> {
        let update = self.opt.next_step()?;
        self.prepare_optimizer_state()?;
        let (l1, l2) = self.net.penalty_coefficients(rows as f64);
        let (l1, l2) = (T::of(l1), T::of(l2));
        let penalized = l1 != T::zero() || l2 != T::zero();
        let mut penalty_value = T::zero();
        let total = self.small.groups.first_mut().ok_or_else(short)?;
        for index in (0..self.net.layers.len()).rev() {
            let (Some(layer), Some(scratch), Some(sums)) =
                (self.net.layers.get_mut(index), self.ws.param_grads.get_mut(index), total.param_grads.get_mut(index))
            else {
                return Err(short());
            };
            let (is_dense, transposed) = match &*layer {
                Layer::Dense(d) => (true, tile::narrow::<T>(isa, d.fan_out).then_some((d.fan_out, d.fan_in))),
                _ => (false, None),
            };
            if let (Some((rows, cols)), Some(sum), Some(dw)) = (transposed, sums.first(), scratch.first_mut()) {
                transpose(sum, rows, cols, dw)?;
            }
            for (param_index, ((_, param), sum)) in layer.params_mut().zip(sums.iter_mut()).enumerate() {
                let g = match (transposed, scratch.get_mut(param_index)) {
                    (Some(_), Some(dw)) if param_index == 0 => dw,
                    _ => sum,
                };
                if penalized && is_dense && param_index == 0 {
                    penalty_value += penalty::penalty_grad(&param.value, l1, l2, g)?;
                }
                let slots = self.opt.slots_mut(index, param_index)?;
                update.apply(&mut param.value, g, &mut slots.first, &mut slots.second)?;
            }
        }
        Ok(penalty_value)
    }
}

impl<T: Real> SmallNetScratch<T> {
    /// Add the sums of groups 1.. into group 0's, in group order. Returns the batch's loss and correct count.
    fn add_up(&mut self, groups: usize) -> Result<(T, f64)> {
        let (total, rest) = self.groups.split_first_mut().ok_or_else(short)?;
        for group in rest.iter().take(groups.saturating_sub(1)) {
            total.loss += group.loss;
            total.correct += group.correct;
            for (sums, grads) in total.param_grads.iter_mut().flatten().zip(group.param_grads.iter().flatten()) {
                sums.iter_mut().zip(grads).for_each(|(sum, &g)| *sum += g);
            }
        }
        Ok((total.loss, total.correct))
    }
}

impl<T: Real> Shared<'_, T> {
    /// Rows `first..first + tile` of the batch forward, through the loss and backward, their loss share, correct
    /// count and parameter gradients added into the group's sums.
    fn tile(&self, group: &mut SmallNetGroup<T>, first: usize, tile: usize) -> Result<()> {
        let (net, isa) = (self.net, self.isa);
        let input_dim = net.input_dim;
        let input = self.ws.acts.first().and_then(|x| x.get(first * input_dim..(first + tile) * input_dim)).ok_or_else(short)?;
        let SmallNetGroup { acts, grad, cache, param_grads, loss, correct } = group;
        for (index, layer) in net.layers.iter().enumerate() {
            let ctx = net.context(index, true, self.step);
            let (k, n) = (layer.in_dim(), layer.out_dim());
            let (before, after) = acts.split_at_mut(index);
            let x = match before.last() {
                Some(x) => x.get(..tile * k).ok_or_else(short)?,
                None => input,
            };
            let y = after.first_mut().and_then(|y| y.get_mut(..tile * n)).ok_or_else(short)?;
            match layer {
                Layer::Dense(d) => {
                    let activation = if ctx.skip_activation { Activation::Linear } else { d.activation };
                    if tile::narrow::<T>(isa, n) {
                        let wt = self.transposed.get(index).ok_or_else(short)?;
                        tile::forward_narrow(isa, x, wt, &d.bias.value, (tile, k, n), activation, y)?;
                    } else {
                        tile::forward(isa, x, &d.weight.value, &d.bias.value, (tile, k, n), activation, y)?;
                    }
                }
                _ => layer.forward(x, y, tile, cache, ctx)?,
            }
        }
        let cols = net.output_dim();
        let z = acts.last().and_then(|a| a.get(..tile * cols)).ok_or_else(short)?;
        let targets = if net.loss.uses_labels() {
            Targets::Labels(self.ws.labels.get(first..first + tile).ok_or_else(short)?)
        } else {
            Targets::Dense(self.ws.targets.get(first * cols..(first + tile) * cols).ok_or_else(short)?)
        };
        let [g0, g1] = grad;
        let g = g0.get_mut(..tile * cols).ok_or_else(short)?;
        // The loss kernel averages over the tile; the step averages over the batch.
        let share = T::of(tile as f64 / self.rows as f64);
        *loss += net.loss.loss_and_grad(z, cols, targets, None, g)? * share;
        g.iter_mut().for_each(|v| *v *= share);
        *correct += net.loss.count_correct(z, cols, targets);
        let (mut grad_out, mut grad_in) = (g0, g1);
        for index in (0..net.layers.len()).rev() {
            let ctx = net.context(index, true, self.step);
            let (Some(layer), Some(y), Some(grads)) = (net.layers.get(index), acts.get(index), param_grads.get_mut(index)) else {
                return Err(short());
            };
            let (k, n) = (layer.in_dim(), layer.out_dim());
            let x = match index.checked_sub(1) {
                Some(before) => acts.get(before).and_then(|x| x.get(..tile * k)).ok_or_else(short)?,
                None => input,
            };
            let y = y.get(..tile * n).ok_or_else(short)?;
            match (layer, grads.as_mut_slice()) {
                (Layer::Dense(d), [dw, db]) => {
                    let dy = grad_out.get_mut(..tile * n).ok_or_else(short)?;
                    if !ctx.skip_activation {
                        d.activation.backward(dy, y, n);
                    }
                    if tile::narrow::<T>(isa, n) {
                        tile::weight_grad_narrow(isa, x, dy, (tile, k, n), dw)?;
                    } else {
                        tile::weight_grad(isa, x, dy, (tile, k, n), dw)?;
                    }
                    tile::bias_grad(isa, dy, (tile, n), db)?;
                    if index > 0 {
                        let wt = self.transposed.get(index).ok_or_else(short)?;
                        tile::input_grad(isa, dy, wt, (tile, k, n), grad_in.get_mut(..tile * k).ok_or_else(short)?)?;
                        std::mem::swap(&mut grad_out, &mut grad_in);
                    }
                }
                (Layer::Dense(_), _) => return Err(Error::value("small-net step", "a dense layer has two parameter gradients")),
                _ => {
                    layer.backward(x, y, grad_out, None, tile, cache, grads, ctx)?;
                }
            }
        }
        Ok(())
    }
}

/// `FERRONET_SMALL_NET=off` (read once) sends small nets through the general step: a switch to measure one path
/// against the other.
fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("FERRONET_SMALL_NET").map_or(true, |v| !v.trim().eq_ignore_ascii_case("off")))
}

/// Whether a net is small enough for the small-net step, and made of layers it runs.
pub(crate) fn small_net<T: Real>(layers: &[Layer<T>], input_dim: usize) -> bool {
    if !enabled() {
        return false;
    }
    let params: usize = layers.iter().flat_map(Layer::param_lens).flatten().sum();
    let widest = layers.iter().map(Layer::out_dim).chain([input_dim]).max().unwrap_or(0);
    let supported = layers.iter().all(|layer| match layer {
        Layer::Dense(d) => d.dropconnect == 0.0,
        Layer::Activation { .. } => true,
        Layer::Dropout { .. } | Layer::BatchNorm(_) => false,
    });
    let outputs = layers.last().map_or(input_dim, Layer::out_dim);
    params <= MAX_PARAMS && widest <= MAX_WIDTH && outputs <= MAX_OUTPUTS && supported
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;
    use crate::kernels::loss::Loss;
    use crate::network::{LayerSpec, Network, NetworkSpec, Workspace};
    use crate::optim::{Optimizer, OptimizerState};
    use crate::train::parts::{Counters, OnlineScratch};
    use crate::train::{Dataset, TargetSource};

    fn dense(units: usize, activation: Activation) -> LayerSpec {
        LayerSpec::Dense { units, activation, init: Init::He, dropconnect: 0.0 }
    }

    /// A regression net with a one-output (narrow) head, and a classifier with a narrow softmax head, an
    /// Activation layer, ReLU, leaky ReLU and sigmoid layers, and widths that leave partial register blocks; both
    /// penalized.
    fn specs() -> [NetworkSpec; 2] {
        let spec =
            |input_dim, layers, loss| NetworkSpec { input_dim, layers, loss, l1: 1e-4, l2: 1e-3, penalty_per_sample: false, seed: 7 };
        [
            spec(8, vec![dense(256, Activation::Relu), dense(1, Activation::Linear)], Loss::Mse),
            spec(
                13,
                vec![
                    dense(40, Activation::Sigmoid),
                    dense(24, Activation::LeakyRelu),
                    dense(17, Activation::Relu),
                    LayerSpec::Activation(Activation::Tanh),
                    dense(3, Activation::Softmax),
                ],
                Loss::SoftmaxCrossEntropy,
            ),
        ]
    }

    fn data<T: Real>(spec: &NetworkSpec, rows: usize) -> Result<Dataset<T>> {
        let cols = spec.input_dim;
        let x: Vec<T> = (0..rows * cols).map(|i| T::of(((i * 7919) % 1000) as f64 / 500.0 - 1.0)).collect();
        if spec.loss.uses_labels() {
            let labels: Vec<i64> = (0..rows as i64).map(|i| (i * 5) % 3).collect();
            Dataset::copy_from(&x, rows, cols, TargetSource::Labels(&labels), None)
        } else {
            let y: Vec<T> = (0..rows).map(|i| T::of((i as f64 * 0.37).sin())).collect();
            Dataset::copy_from(&x, rows, cols, TargetSource::Dense { values: &y, cols: 1 }, None)
        }
    }

    /// The layers after `steps` Adam steps on batches of `batch` rows, by the small-net step or the general one,
    /// and the objectives.
    fn train<T: Real>(spec: &NetworkSpec, batch: usize, steps: usize, small_step: bool) -> Result<(Vec<Layer<T>>, Vec<f64>)> {
        let mut net = Network::<T>::new(spec)?;
        let data = data::<T>(spec, batch * steps)?;
        let (mut ws, mut opt) = (Workspace::default(), OptimizerState::default());
        opt.configure(Optimizer::Adam { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, false)?;
        data.ensure_workspace(&net, &mut ws, batch)?;
        let (mut counters, mut scratch, mut small) = (Counters::default(), OnlineScratch::default(), SmallNetScratch::default());
        let mut objectives = Vec::new();
        for s in 0..steps {
            let indices: Vec<u32> = (s * batch..(s + 1) * batch).rev().map(|i| i as u32).collect();
            data.gather(&indices, &mut ws)?;
            let mut parts =
                Parts { net: &mut net, ws: &mut ws, opt: &mut opt, counters: &mut counters, scratch: &mut scratch, small: &mut small };
            assert!(parts.small_net_eligible(batch, false));
            let result = if small_step { parts.train_small_net(batch)? } else { parts.train_general(batch, false)? };
            objectives.push(result.objective);
        }
        Ok((net.layers, objectives))
    }

    fn params<T: Real>(layers: &[Layer<T>]) -> Vec<f64> {
        layers
            .iter()
            .flat_map(|layer| layer.params().into_iter().flat_map(|(_, p)| p.value.iter().map(|v| v.f64())).collect::<Vec<_>>())
            .collect()
    }

    fn largest_relative_difference(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f64::max)
    }

    /// Against the general step, for batches that fill whole tiles and batches that end in a partial one.
    #[test]
    fn the_small_net_step_trains_as_the_general_step() -> Result<()> {
        for spec in &specs() {
            for batch in [200, 48, 37, 2] {
                let (small, small_objectives) = train::<f64>(spec, batch, 6, true)?;
                let (general, general_objectives) = train::<f64>(spec, batch, 6, false)?;
                assert!(largest_relative_difference(&params(&small), &params(&general)) < 1e-12, "{spec:?} batch {batch}");
                assert!(largest_relative_difference(&small_objectives, &general_objectives) < 1e-12);
                assert_ne!(params(&small), params(&Network::<f64>::new(spec)?.layers), "training changed nothing");
                let (small, _) = train::<f32>(spec, batch, 6, true)?;
                let (general, _) = train::<f32>(spec, batch, 6, false)?;
                // float32: the parity tests' bound (Adam turns the rounding of a near-zero gradient into a step).
                assert!(largest_relative_difference(&params(&small), &params(&general)) < 1e-4, "{spec:?} batch {batch} f32");
            }
        }
        Ok(())
    }

    /// A batch of four groups (the last one partial) on pools of 1-4 threads, on a team or on the pool: the same
    /// bits.
    #[test]
    fn the_small_net_step_gives_the_same_bits_on_any_pool() -> Result<()> {
        let on_pool = |threads: usize, team: bool| -> Result<Vec<Vec<f64>>> {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::value("pool", e.to_string()))?;
            let run = || specs().iter().map(|spec| Ok(params(&train::<f32>(spec, 3 * GROUP_ROWS + 9, 3, true)?.0))).collect();
            pool.install(|| if team { crate::team::with_team(run) } else { run() })
        };
        let alone = on_pool(1, false)?;
        for threads in 2..=4 {
            assert_eq!(on_pool(threads, false)?, alone, "{threads} threads on the pool");
            assert_eq!(on_pool(threads, true)?, alone, "{threads} threads on a team");
        }
        Ok(())
    }

    #[test]
    fn only_small_nets_of_supported_layers_take_the_step() -> Result<()> {
        for spec in &specs() {
            assert!(small_net(&Network::<f32>::new(spec)?.layers, spec.input_dim));
        }
        let with = |layers: Vec<LayerSpec>| -> Result<bool> {
            let spec = NetworkSpec { input_dim: 8, layers, loss: Loss::Mse, l1: 0.0, l2: 0.0, penalty_per_sample: false, seed: 1 };
            Ok(small_net(&Network::<f32>::new(&spec)?.layers, 8))
        };
        assert!(!with(vec![dense(64, Activation::Relu), LayerSpec::Dropout(0.5), dense(1, Activation::Linear)])?);
        assert!(!with(vec![LayerSpec::Dense { units: 64, activation: Activation::Relu, init: Init::He, dropconnect: 0.5 }])?);
        assert!(!with(vec![dense(2048, Activation::Relu), dense(1, Activation::Linear)])?, "too many parameters");
        assert!(!with(vec![dense(64, Activation::Relu), dense(10, Activation::Linear)])?, "too many outputs");
        Ok(())
    }
}
