//! `Network`: the layers, the loss, the optimizer state and the workspace, and the passes over them.
//!
//! Training runs on the workspace (`ws`): a batch is copied into `ws.acts[0]`, the forward pass fills the
//! activations, the loss writes d loss / d output into `ws.grad`, and the backward pass walks the layers in
//! reverse, updating each layer's parameters right after its gradients are computed (while they are in cache).
//! Inference (`forward`, `evaluate`) uses its own buffers so that it only needs `&self`.

use crate::buffer;
use crate::error::{Error, Result};
use crate::kernels::activation::Activation;
use crate::kernels::loss::{Loss, Targets};
use crate::kernels::penalty;
use crate::network::layer::{Layer, LayerCache, LayerSpec, MAX_WIDTH, PassContext};
use crate::network::train::{EpochState, Snapshot};
use crate::network::workspace::Workspace;
use crate::optim::Optimizer;
use crate::scalar::Real;

/// Rows processed at once by inference.
const INFERENCE_BLOCK: usize = 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub input_dim: usize,
    pub layers: Vec<LayerSpec>,
    pub loss: Loss,
    pub l1: f64,
    pub l2: f64,
    /// Divide the penalty by each batch's total sample weight (scikit-learn's convention for `alpha`).
    pub penalty_per_sample: bool,
    pub seed: u64,
}

/// See `Network::trace`.
#[derive(Clone, Debug)]
pub struct Trace<T> {
    pub objective: f64,
    /// Per layer: its output (rows × out_dim).
    pub outputs: Vec<Vec<T>>,
    /// Per layer: d loss / d output (rows × out_dim).
    pub output_grads: Vec<Vec<T>>,
    /// Per layer: the parameter gradients in `Layer::params()` order.
    pub param_grads: Vec<Vec<Vec<T>>>,
}

/// What a backward pass does besides computing gradients.
#[derive(Default)]
pub(crate) struct Backward<'a, T> {
    /// Update each layer right after its gradients.
    pub optimizer: Option<&'a Optimizer>,
    /// Keep d loss / d output of every layer (index = layer).
    pub record: Option<&'a mut Vec<Vec<T>>>,
}

/// One batch handed in from outside (train_step, gradients, evaluate).
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a, T> {
    /// (rows × input_dim), row-major.
    pub x: &'a [T],
    pub rows: usize,
    pub targets: Targets<'a, T>,
    pub weights: Option<&'a [T]>,
}

/// What one training batch reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchResult {
    /// Data loss + penalty at the weights before the update.
    pub objective: f64,
    /// Correct predictions among the batch's rows (see `Loss::count_correct`).
    pub correct: f64,
}

#[derive(Clone, Debug)]
pub struct Network<T: Real> {
    pub input_dim: usize,
    pub layers: Vec<Layer<T>>,
    pub loss: Loss,
    pub l1: f64,
    pub l2: f64,
    pub penalty_per_sample: bool,
    pub seed: u64,
    /// The last activation (softmax or sigmoid) is computed by the loss on the logits.
    pub fused_head: bool,
    pub optimizer: Option<Optimizer>,
    /// Updates made with the current optimizer state (Adam's step count).
    pub updates: u64,
    /// Updates made in the model's life: keys the dropout masks.
    pub step: u64,
    /// Epochs trained in the model's life: keys the shuffle.
    pub epochs: u64,
    pub(crate) ws: Workspace<T>,
    pub(crate) epoch: Option<EpochState>,
    pub(crate) snapshot: Option<Snapshot<T>>,
}

fn check_hyper(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 { Ok(()) } else { Err(Error::value(what, format!("must be a finite number >= 0; got {value}"))) }
}

impl<T: Real> Network<T> {
    pub fn new(spec: &NetworkSpec) -> Result<Self> {
        if spec.input_dim == 0 || spec.input_dim > MAX_WIDTH {
            return Err(Error::value("input_dim", format!("must be between 1 and {MAX_WIDTH}; got {}", spec.input_dim)));
        }
        if spec.layers.is_empty() {
            return Err(Error::value("layers", "must hold at least one layer"));
        }
        check_hyper("l1", spec.l1)?;
        check_hyper("l2", spec.l2)?;
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut width = spec.input_dim;
        for (index, layer_spec) in spec.layers.iter().enumerate() {
            let layer = Layer::build(layer_spec, width, spec.seed, index)?;
            if layer.activation() == Some(Activation::Softmax) && index + 1 != spec.layers.len() {
                return Err(Error::value("layers", format!("may use softmax only in the last layer; layer {index} uses it")));
            }
            width = layer.out_dim();
            layers.push(layer);
        }
        let head = layers.last().and_then(Layer::activation);
        let fused_head = matches!(
            (head, spec.loss),
            (Some(Activation::Softmax), Loss::SoftmaxCrossEntropy) | (Some(Activation::Sigmoid), Loss::BinaryCrossEntropy)
        );
        Ok(Network {
            input_dim: spec.input_dim,
            layers,
            loss: spec.loss,
            l1: spec.l1,
            l2: spec.l2,
            penalty_per_sample: spec.penalty_per_sample,
            seed: spec.seed,
            fused_head,
            optimizer: None,
            updates: 0,
            step: 0,
            epochs: 0,
            ws: Workspace::default(),
            epoch: None,
            snapshot: None,
        })
    }

    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(self.input_dim, Layer::out_dim)
    }

    fn target_cols(&self) -> usize {
        if self.loss.uses_labels() { 1 } else { self.output_dim() }
    }

    pub fn n_params(&self) -> usize {
        self.layers.iter().flat_map(|l| l.param_sizes()).sum()
    }

    /// Use `optimizer` from now on: state is kept when only hyperparameters change, reset for another kind.
    pub fn set_optimizer(&mut self, optimizer: Optimizer) -> Result<()> {
        optimizer.validate()?;
        if !self.optimizer.is_some_and(|current| current.same_kind(&optimizer)) {
            self.reset_optimizer_state();
        }
        self.optimizer = Some(optimizer);
        Ok(())
    }

    /// Forget velocities and moments (the next update starts from zero state, step count 1).
    pub fn reset_optimizer_state(&mut self) {
        for layer in &mut self.layers {
            for (_, param) in layer.params_mut() {
                param.slots.clear();
            }
        }
        self.updates = 0;
    }

    /// The penalty coefficients for a batch of total sample weight `total` (rows when unweighted).
    pub fn penalty_coefficients(&self, total: f64) -> (f64, f64) {
        if !self.penalty_per_sample {
            (self.l1, self.l2)
        } else if total > 0.0 {
            (self.l1 / total, self.l2 / total)
        } else {
            (0.0, 0.0)
        }
    }

    /// The total sample weight of the workspace's first `rows` rows.
    fn batch_weight(&self, rows: usize, weighted: bool) -> f64 {
        if weighted { self.ws.weights.iter().take(rows).map(|w| w.f64()).sum() } else { rows as f64 }
    }

    /// The penalty `0.5·l2·ΣW² + l1·Σ|W|` over the Dense weights at the current values, for a set of total
    /// sample weight `total`.
    pub fn penalty(&self, total: f64) -> f64 {
        let (l1, l2) = self.penalty_coefficients(total);
        if l1 == 0.0 && l2 == 0.0 {
            return 0.0;
        }
        let (l1, l2) = (T::of(l1), T::of(l2));
        self.layers
            .iter()
            .filter_map(|layer| match layer {
                Layer::Dense(d) => Some(penalty::penalty(&d.weight.value, l1, l2).f64()),
                _ => None,
            })
            .sum()
    }

    /// Shapes, label ranges and weights of a batch, checked before anything is touched.
    pub fn check_batch(&self, batch: &Batch<'_, T>) -> Result<()> {
        let (rows, outputs) = (batch.rows, self.output_dim());
        if batch.x.len() != rows * self.input_dim {
            return Err(Error::shape("X", format!("({rows}, {})", self.input_dim), format!("{} values", batch.x.len())));
        }
        match batch.targets {
            Targets::Labels(labels) => {
                if !self.loss.uses_labels() {
                    return Err(Error::value("y", format!("must be a target matrix for {}, not class labels", self.loss.name())));
                }
                if labels.len() != rows {
                    return Err(Error::shape("y", format!("({rows},)"), format!("({},)", labels.len())));
                }
                if let Some(&bad) = labels.iter().find(|&&y| y as usize >= outputs) {
                    return Err(Error::value("y", format!("holds label {bad}, out of range for a model with {outputs} outputs")));
                }
            }
            Targets::Dense(values) => {
                if self.loss.uses_labels() {
                    return Err(Error::value("y", format!("must hold class labels for {}", self.loss.name())));
                }
                if values.len() != rows * outputs {
                    return Err(Error::shape("y", format!("({rows}, {outputs})"), format!("{} values", values.len())));
                }
            }
        }
        if let Some(w) = batch.weights {
            if w.len() != rows {
                return Err(Error::shape("sample_weight", format!("({rows},)"), format!("({},)", w.len())));
            }
        }
        Ok(())
    }

    fn has_batchnorm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::BatchNorm(_)))
    }

    fn context(&self, index: usize, training: bool) -> PassContext {
        PassContext {
            training,
            skip_activation: self.fused_head && index + 1 == self.layers.len(),
            seed: self.seed,
            step: self.step,
            index,
        }
    }

    /// Copy a batch into the workspace (sized for it).
    pub(crate) fn load_batch(&mut self, batch: &Batch<'_, T>) -> Result<()> {
        self.check_batch(batch)?;
        let rows = batch.rows;
        self.ws.ensure(&self.layers, self.input_dim, self.target_cols(), rows)?;
        let short = || Error::value("batch", "workspace too small");
        self.ws.acts.first_mut().and_then(|a| a.get_mut(..batch.x.len())).ok_or_else(short)?.copy_from_slice(batch.x);
        match batch.targets {
            Targets::Labels(labels) => self.ws.labels.get_mut(..rows).ok_or_else(short)?.copy_from_slice(labels),
            Targets::Dense(values) => self.ws.targets.get_mut(..values.len()).ok_or_else(short)?.copy_from_slice(values),
        }
        if let Some(weights) = batch.weights {
            self.ws.weights.get_mut(..rows).ok_or_else(short)?.copy_from_slice(weights);
        }
        Ok(())
    }

    /// Training-mode forward pass over the workspace's first `rows` rows.
    pub(crate) fn forward_workspace(&mut self, rows: usize) -> Result<()> {
        if rows < 2 && self.has_batchnorm() {
            return Err(Error::value("X", format!("must have at least 2 rows for BatchNorm in training mode; got {rows}")));
        }
        for index in 0..self.layers.len() {
            let ctx = self.context(index, true);
            let Workspace { acts, caches, .. } = &mut self.ws;
            let (inputs, outputs) = acts.split_at_mut(index + 1);
            let (Some(x), Some(y), Some(cache), Some(layer)) =
                (inputs.last(), outputs.first_mut(), caches.get_mut(index), self.layers.get(index))
            else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            layer.forward(x, y, rows, cache, ctx)?;
        }
        Ok(())
    }

    /// The loss of the workspace's output and its gradient into `ws.grad[0]`.
    pub(crate) fn loss_workspace(&mut self, rows: usize, weighted: bool) -> Result<(T, f64)> {
        let cols = self.output_dim();
        let Workspace { acts, grad, labels, targets, weights, .. } = &mut self.ws;
        let short = || Error::value("batch", "workspace too small");
        let z = acts.last().and_then(|a| a.get(..rows * cols)).ok_or_else(short)?;
        let targets = if self.loss.uses_labels() {
            Targets::Labels(labels.get(..rows).ok_or_else(short)?)
        } else {
            Targets::Dense(targets.get(..rows * cols).ok_or_else(short)?)
        };
        let weights = if weighted { Some(weights.get(..rows).ok_or_else(short)?) } else { None };
        let g = grad[0].get_mut(..rows * cols).ok_or_else(short)?;
        let loss = self.loss.loss_and_grad(z, cols, targets, weights, g)?;
        Ok((loss, self.loss.count_correct(z, cols, targets)))
    }

    /// Fold the batch statistics of the last training forward pass into the BatchNorm running averages.
    fn update_running_statistics(&mut self, rows: usize) -> Result<()> {
        for (layer, cache) in self.layers.iter_mut().zip(&self.ws.caches) {
            layer.update_running_statistics(cache, rows)?;
        }
        Ok(())
    }

    /// Backward pass from `ws.grad[0]`. Leaves every parameter gradient (penalty included) in
    /// `ws.param_grads`; with an optimizer, also updates each layer right after its gradients are computed;
    /// with `record`, keeps a copy of d loss / d output of every layer. Returns the penalty at the weights before
    /// any update.
    pub(crate) fn backward_workspace(&mut self, rows: usize, weighted: bool, mut pass: Backward<'_, T>) -> Result<T> {
        let (l1, l2) = self.penalty_coefficients(self.batch_weight(rows, weighted));
        let penalized = l1 != 0.0 || l2 != 0.0;
        let (l1, l2) = (T::of(l1), T::of(l2));
        let optimizer = pass.optimizer;
        let t = self.updates + 1;
        let mut penalty_value = T::zero();
        let mut current = 0usize;
        for index in (0..self.layers.len()).rev() {
            let ctx = self.context(index, true);
            let Network { layers, ws, .. } = self;
            let Workspace { acts, grad, caches, param_grads, .. } = ws;
            let (g0, g1) = grad.split_at_mut(1);
            let (Some(g0), Some(g1)) = (g0.first_mut(), g1.first_mut()) else {
                return Err(Error::value("network", "workspace has no gradient buffers"));
            };
            let (grad_out, grad_in) = if current == 0 { (g0, g1) } else { (g1, g0) };
            let (Some(layer), Some(x), Some(y), Some(cache), Some(pgrads)) =
                (layers.get_mut(index), acts.get(index), acts.get(index + 1), caches.get(index), param_grads.get_mut(index))
            else {
                return Err(Error::value("network", "workspace does not match the layers"));
            };
            if let Some(record) = pass.record.as_deref_mut() {
                if let Some(slot) = record.get_mut(index) {
                    slot.clear();
                    slot.extend_from_slice(grad_out.get(..rows * layer.out_dim()).unwrap_or(&[]));
                }
            }
            let needs_input_grad = index > 0 || matches!(layer, Layer::BatchNorm(_));
            if layer.backward(x, y, grad_out, needs_input_grad.then_some(grad_in), rows, cache, pgrads, ctx)? {
                current = 1 - current;
            }
            let is_dense = matches!(layer, Layer::Dense(_));
            for (param_index, ((_, param), g)) in layer.params_mut().zip(pgrads.iter_mut()).enumerate() {
                if penalized && is_dense && param_index == 0 {
                    penalty_value += penalty::penalty_grad(&param.value, l1, l2, g)?;
                }
                if let Some(optimizer) = optimizer {
                    optimizer.update(&mut param.value, g, &mut param.slots, t)?;
                }
            }
        }
        Ok(penalty_value)
    }

    /// One training step on the batch already in the workspace: forward, loss, and (if the loss is finite)
    /// running statistics, backward and update. A non-finite loss leaves the parameters untouched.
    pub(crate) fn train_workspace(&mut self, rows: usize, weighted: bool) -> Result<BatchResult> {
        if rows == 1 && self.online_eligible() {
            return self.train_online(weighted);
        }
        let optimizer = self.optimizer.ok_or_else(|| Error::value("optimizer", "is not set: call set_optimizer first"))?;
        self.forward_workspace(rows)?;
        let (loss, correct) = self.loss_workspace(rows, weighted)?;
        if !loss.is_finite() {
            return Ok(BatchResult { objective: loss.f64(), correct });
        }
        self.update_running_statistics(rows)?;
        let penalty_value = self.backward_workspace(rows, weighted, Backward { optimizer: Some(&optimizer), record: None })?;
        self.step += 1;
        self.updates += 1;
        Ok(BatchResult { objective: (loss + penalty_value).f64(), correct })
    }

    /// One update on a batch (the custom-loop API). Returns the objective before the update.
    pub fn train_step(&mut self, batch: &Batch<'_, T>) -> Result<BatchResult> {
        if self.optimizer.is_none() {
            return Err(Error::value("optimizer", "is not set: call set_optimizer first"));
        }
        self.load_batch(batch)?;
        self.train_workspace(batch.rows, batch.weights.is_some())
    }

    /// d objective / d parameter in training mode (masks of the current step, batch statistics), without
    /// updating anything. Returns the objective and the gradients per layer in `Layer::params()` order.
    pub fn gradients(&mut self, batch: &Batch<'_, T>) -> Result<(f64, Vec<Vec<Vec<T>>>)> {
        self.load_batch(batch)?;
        self.forward_workspace(batch.rows)?;
        let (loss, _) = self.loss_workspace(batch.rows, batch.weights.is_some())?;
        let penalty_value = self.backward_workspace(batch.rows, batch.weights.is_some(), Backward::default())?;
        Ok(((loss + penalty_value).f64(), self.ws.param_grads.clone()))
    }

    /// Everything a diagnostic needs from one batch in training mode, without updating anything: the objective,
    /// each layer's output, d loss / d output of each layer (for a fused head, the last one is d loss / d logits)
    /// and the parameter gradients.
    pub fn trace(&mut self, batch: &Batch<'_, T>) -> Result<Trace<T>> {
        self.load_batch(batch)?;
        let rows = batch.rows;
        self.forward_workspace(rows)?;
        let (loss, _) = self.loss_workspace(rows, batch.weights.is_some())?;
        let mut output_grads = vec![Vec::new(); self.layers.len()];
        let penalty_value =
            self.backward_workspace(rows, batch.weights.is_some(), Backward { optimizer: None, record: Some(&mut output_grads) })?;
        let outputs = self
            .layers
            .iter()
            .zip(self.ws.acts.iter().skip(1))
            .map(|(layer, act)| buffer::copy_of(act.get(..rows * layer.out_dim()).unwrap_or(&[]), "layer outputs"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Trace { objective: (loss + penalty_value).f64(), outputs, output_grads, param_grads: self.ws.param_grads.clone() })
    }

    /// Run the layers on `x` (rows × input_dim) in blocks, handing each block's last-layer output (logits for
    /// a fused head) to `sink(first_row, block_rows, output)`. Inference mode unless `training`, in which case
    /// masks of the current step and batch statistics are used (and nothing is updated).
    fn run_blocks(&self, x: &[T], rows: usize, training: bool, mut sink: impl FnMut(usize, usize, &[T]) -> Result<()>) -> Result<()> {
        if x.len() != rows * self.input_dim {
            return Err(Error::shape("X", format!("({rows}, {})", self.input_dim), format!("{} values", x.len())));
        }
        if training && rows < 2 && self.has_batchnorm() {
            return Err(Error::value("X", format!("must have at least 2 rows for BatchNorm in training mode; got {rows}")));
        }
        // Training mode sees the whole batch at once (batch statistics); inference goes block by block.
        let block = if training { rows.max(1) } else { INFERENCE_BLOCK.min(rows.max(1)) };
        let widest = self.layers.iter().map(Layer::out_dim).max().unwrap_or(self.input_dim);
        // Layer l reads buffer (l % 2 == 1 ? a : b) and writes the other; layer 0 reads the input block.
        let size = buffer::area(block, widest, "inference buffers")?;
        let (mut a, mut b) = (buffer::zeros(size, "inference buffers")?, buffer::zeros(size, "inference buffers")?);
        let mut caches = self
            .layers
            .iter()
            .map(|layer| {
                let mut cache = LayerCache::default();
                if training {
                    layer.size_cache(&mut cache, block)?;
                }
                Ok(cache)
            })
            .collect::<Result<Vec<LayerCache<T>>>>()?;
        let mut start = 0;
        while start < rows {
            let n = block.min(rows - start);
            let input = x.get(start * self.input_dim..(start + n) * self.input_dim).ok_or_else(|| Error::value("X", "is too short"))?;
            for (index, (layer, cache)) in self.layers.iter().zip(caches.iter_mut()).enumerate() {
                let ctx = self.context(index, training);
                match index {
                    0 => layer.forward(input, &mut a, n, cache, ctx)?,
                    i if i % 2 == 1 => layer.forward(&a, &mut b, n, cache, ctx)?,
                    _ => layer.forward(&b, &mut a, n, cache, ctx)?,
                }
            }
            let last = if self.layers.len() % 2 == 1 { &a } else { &b };
            let output = last.get(..n * self.output_dim()).ok_or_else(|| Error::value("output", "buffer too small"))?;
            sink(start, n, output)?;
            start += n;
        }
        Ok(())
    }
}

impl<T: Real> Network<T> {
    /// The head activation applied after the logits when the loss fuses it (softmax or sigmoid).
    fn fused_activation(&self) -> Option<Activation> {
        if self.fused_head { self.layers.last().and_then(Layer::activation) } else { None }
    }

    /// The last layer's output for `x` (rows × input_dim): probabilities for a fused head (softmax or sigmoid
    /// computed by the loss), otherwise whatever the last layer computes. `logits_only` skips the fused head.
    pub fn forward(&self, x: &[T], rows: usize, training: bool, logits_only: bool) -> Result<Vec<T>> {
        let cols = self.output_dim();
        let mut out = buffer::zeros(buffer::area(rows, cols, "the output")?, "the output")?;
        let head = if logits_only { None } else { self.fused_activation() };
        self.run_blocks(x, rows, training, |start, n, block| {
            let dst = out.get_mut(start * cols..(start + n) * cols).ok_or_else(|| Error::value("output", "buffer too small"))?;
            dst.copy_from_slice(block);
            if let Some(activation) = head {
                activation.forward(dst, cols);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The objective (weighted mean data loss + penalty) and the number of correct predictions, in inference
    /// mode.
    pub fn evaluate(&self, batch: &Batch<'_, T>) -> Result<(f64, f64)> {
        self.check_batch(batch)?;
        let cols = self.output_dim();
        let (mut loss_sum, mut weight_sum, mut correct) = (0.0f64, 0.0f64, 0.0f64);
        let mut grad = buffer::zeros(INFERENCE_BLOCK.min(batch.rows) * cols, "evaluation buffers")?;
        let short = || Error::value("evaluate", "block out of range");
        self.run_blocks(batch.x, batch.rows, false, |start, n, z| {
            let targets = match batch.targets {
                Targets::Labels(labels) => Targets::Labels(labels.get(start..start + n).ok_or_else(short)?),
                Targets::Dense(values) => Targets::Dense(values.get(start * cols..(start + n) * cols).ok_or_else(short)?),
            };
            let weights = match batch.weights {
                Some(w) => Some(w.get(start..start + n).ok_or_else(short)?),
                None => None,
            };
            let block_weight = weights.map_or(n as f64, |w| w.iter().map(|v| v.f64()).sum());
            let loss = self.loss.loss_and_grad(z, cols, targets, weights, grad.get_mut(..n * cols).ok_or_else(short)?)?;
            loss_sum += loss.f64() * block_weight;
            weight_sum += block_weight;
            correct += self.loss.count_correct(z, cols, targets);
            Ok(())
        })?;
        let data_loss = if weight_sum > 0.0 { loss_sum / weight_sum } else { 0.0 };
        Ok((data_loss + self.penalty(weight_sum), correct))
    }
}
