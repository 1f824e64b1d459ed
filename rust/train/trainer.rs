//! `Trainer`: everything training changes besides the parameters — the optimizer and its state, the counters,
//! the epoch in progress, the checkpoint a failed fit returns to, and the workspace. It works on a `Network`
//! it is handed, so a model is a network plus a trainer.
//!
//! A fit is a transaction: `begin_fit` keeps a copy of the parameters, the optimizer state and the counters,
//! and `end_fit(false)` puts them back, so a fit that fails (divergence, Ctrl-C, an error in a callback) leaves
//! the model exactly as it was. Epochs run in chunks bounded by a time budget (`train_chunk`), so that the
//! caller can report progress and handle Ctrl-C between them.

use std::time::Duration;

use crate::buffer;
use crate::error::{Error, Result};
use crate::network::layer::Layer;
use crate::network::{Batch, BatchResult, Network, Workspace};
use crate::optim::{Optimizer, OptimizerState};
use crate::rng;
use crate::scalar::Real;
use crate::train::dataset::{Dataset, TargetData};
use crate::train::epoch::{Budget, ChunkReport, Divergence, EpochState};
use crate::train::parts::{Counters, OnlineScratch, Parts, SmallNetScratch};
use crate::train::small_net::{GROUP_ROWS, small_net};

/// What a diagnostic needs from one batch in training mode (see `Trainer::trace`).
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

/// Everything a fit changes, to go back to its start.
#[derive(Clone, Debug)]
pub struct Snapshot<T> {
    layers: Vec<Layer<T>>,
    opt: OptimizerState<T>,
    counters: Counters,
}

#[derive(Clone, Debug, Default)]
pub struct Trainer<T: Real> {
    pub opt: OptimizerState<T>,
    pub counters: Counters,
    ws: Workspace<T>,
    scratch: OnlineScratch<T>,
    small: SmallNetScratch<T>,
    epoch: Option<EpochState>,
    checkpoint: Option<Snapshot<T>>,
}

fn copy_nested<T: Copy>(values: &[Vec<T>], what: &str) -> Result<Vec<Vec<T>>> {
    values.iter().map(|v| buffer::copy_of(v, what)).collect()
}

impl<T: Real> Trainer<T> {
    pub fn new() -> Self {
        Trainer {
            opt: OptimizerState::default(),
            counters: Counters::default(),
            ws: Workspace::default(),
            scratch: OnlineScratch::default(),
            small: SmallNetScratch::default(),
            epoch: None,
            checkpoint: None,
        }
    }

    /// The optimizer state and counters, copied fallibly; no epoch, fit or workspace.
    pub fn try_clone_state(&self) -> Result<Self> {
        Ok(Trainer { opt: self.opt.try_clone()?, counters: self.counters, ..Trainer::new() })
    }

    fn parts<'a>(&'a mut self, net: &'a mut Network<T>) -> Parts<'a, T> {
        Parts {
            net,
            ws: &mut self.ws,
            opt: &mut self.opt,
            counters: &mut self.counters,
            scratch: &mut self.scratch,
            small: &mut self.small,
        }
    }

    /// Use `optimizer` from now on: its state is kept when only hyperparameters change, unless `reset`.
    pub fn set_optimizer(&mut self, optimizer: Optimizer, reset: bool) -> Result<()> {
        self.opt.configure(optimizer, reset)
    }

    /// The learning rate of the next updates (a schedule's or a callback's choice).
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        self.opt.set_lr(lr)
    }

    /// A copy of the trainable state for a rollback (fallible: a large model may not fit twice).
    pub fn snapshot(&self, net: &Network<T>) -> Result<Snapshot<T>> {
        Ok(Snapshot { layers: net.try_clone_layers()?, opt: self.opt.try_clone()?, counters: self.counters })
    }

    pub fn restore(&mut self, net: &mut Network<T>, snapshot: Snapshot<T>) {
        net.layers = snapshot.layers;
        self.opt = snapshot.opt;
        self.counters = snapshot.counters;
        self.epoch = None;
    }

    /// One update on a batch (the custom-loop API), with `optimizer` (and whether to reset the state) installed
    /// for it. Returns the objective before the update. A non-finite loss is an error that changes nothing, the
    /// optimizer included.
    pub fn train_step(&mut self, net: &mut Network<T>, batch: &Batch<'_, T>, optimizer: Option<(Optimizer, bool)>) -> Result<BatchResult> {
        net.load_batch(&mut self.ws, batch)?;
        let previous = match optimizer {
            Some((optimizer, reset)) => {
                optimizer.validate()?;
                let fresh = reset || !self.opt.configured.is_some_and(|current| current.same_kind(&optimizer));
                let previous = if fresh { std::mem::take(&mut self.opt) } else { self.opt.clone_config() };
                self.opt.configure(optimizer, false)?;
                Some((previous, fresh))
            }
            None => None,
        };
        self.opt.require()?;
        let outcome = self.parts(net).train_batch(batch.rows, batch.weights.is_some());
        let failed = !matches!(&outcome, Ok(result) if result.objective.is_finite());
        if failed && let Some((previous, fresh)) = previous {
            if fresh {
                self.opt = previous;
            } else {
                self.opt.restore_config(previous);
            }
        }
        match outcome {
            Ok(result) if !result.objective.is_finite() => Err(Error::NonFinite { value: result.objective, batch: None }),
            other => other,
        }
    }

    /// d objective / d parameter in training mode (masks of the current step, batch statistics), without
    /// updating anything. Returns the objective and the gradients per layer in `Layer::params()` order.
    pub fn gradients(&mut self, net: &mut Network<T>, batch: &Batch<'_, T>) -> Result<(f64, Vec<Vec<Vec<T>>>)> {
        let (objective, _) = self.backward_only(net, batch, None)?;
        let grads = self.ws.param_grads.iter().map(|layer| copy_nested(layer, "the gradients")).collect::<Result<_>>()?;
        Ok((objective, grads))
    }

    /// Everything a diagnostic needs from one batch in training mode, without updating anything: the objective,
    /// each layer's output, d loss / d output of each layer (for a fused head, the last one is d loss / d logits)
    /// and the parameter gradients.
    pub fn trace(&mut self, net: &mut Network<T>, batch: &Batch<'_, T>) -> Result<Trace<T>> {
        let rows = batch.rows;
        let mut output_grads = net
            .layers
            .iter()
            .map(|l| buffer::zeros(buffer::area(rows, l.out_dim(), "the trace")?, "the trace"))
            .collect::<Result<Vec<_>>>()?;
        let (objective, _) = self.backward_only(net, batch, Some(&mut output_grads))?;
        let outputs = net
            .layers
            .iter()
            .zip(self.ws.acts.iter().skip(1))
            .map(|(layer, act)| buffer::copy_of(act.get(..rows * layer.out_dim()).unwrap_or(&[]), "the trace"))
            .collect::<Result<Vec<_>>>()?;
        let param_grads = self.ws.param_grads.iter().map(|layer| copy_nested(layer, "the trace")).collect::<Result<_>>()?;
        Ok(Trace { objective, outputs, output_grads, param_grads })
    }

    /// Forward, loss and backward on a batch without any update (gradients, trace).
    fn backward_only(&mut self, net: &mut Network<T>, batch: &Batch<'_, T>, record: Option<&mut Vec<Vec<T>>>) -> Result<(f64, f64)> {
        net.load_batch(&mut self.ws, batch)?;
        let (rows, weighted, step) = (batch.rows, batch.weights.is_some(), self.counters.step);
        net.forward_workspace(&mut self.ws, rows, step)?;
        let (loss, correct) = net.loss_workspace(&mut self.ws, rows, weighted)?;
        let penalty_value = net.backward_workspace(&mut self.ws, rows, weighted, step, record, &mut |_, _, _, _| Ok(()))?;
        Ok(((loss + penalty_value).f64(), correct))
    }

    /// Start a fit: keep the state to return to, then use `optimizer`.
    pub fn begin_fit(&mut self, net: &Network<T>, optimizer: Optimizer, reset: bool) -> Result<()> {
        optimizer.validate()?;
        self.checkpoint = Some(self.snapshot(net)?);
        self.opt.configure(optimizer, reset)?;
        self.epoch = None;
        Ok(())
    }

    /// End a fit: keep what it trained (`commit`), or put back the state `begin_fit` kept.
    pub fn end_fit(&mut self, net: &mut Network<T>, commit: bool) {
        self.epoch = None;
        match self.checkpoint.take() {
            Some(snapshot) if !commit => self.restore(net, snapshot),
            _ => {}
        }
    }

    /// Whether `data` fits this network: features, target kind and width, label range (recorded by the
    /// dataset when it was built, so this costs nothing).
    fn check_dataset(net: &Network<T>, data: &Dataset<T>) -> Result<()> {
        if data.cols != net.input_dim {
            return Err(Error::value("X", format!("has {} features, the model expects {}", data.cols, net.input_dim)));
        }
        let outputs = net.output_dim();
        match (&data.targets, net.loss.uses_labels()) {
            (TargetData::Labels { classes, .. }, true) if *classes > outputs => {
                Err(Error::value("y", format!("holds label {}, out of range for a model with {outputs} outputs", classes - 1)))
            }
            (TargetData::Dense { cols, .. }, false) if *cols != outputs => {
                Err(Error::value("y", format!("has {cols} columns, the model has {outputs} outputs")))
            }
            (TargetData::Labels { .. }, true) | (TargetData::Dense { .. }, false) => Ok(()),
            (_, uses_labels) => {
                let expected = if uses_labels { "class labels" } else { "a target matrix" };
                Err(Error::value("y", format!("must be {expected} for {}", net.loss.name())))
            }
        }
    }

    /// Start an epoch over `data` inside a fit: its batch order (shuffled by (seed, epoch number) or in order).
    /// `first_batch` starts the epoch further on (its batches before are skipped): a distributed worker resumes an
    /// epoch where the previous round left it.
    pub fn begin_epoch(&mut self, net: &Network<T>, data: &Dataset<T>, batch_size: usize, shuffle: bool, first_batch: usize) -> Result<()> {
        if self.checkpoint.is_none() {
            return Err(Error::value("begin_epoch", "needs a fit in progress: call begin_fit first"));
        }
        Self::check_dataset(net, data)?;
        self.opt.require()?;
        if batch_size == 0 {
            return Err(Error::value("batch_size", "must be >= 1"));
        }
        let rows = data.rows;
        let batch_size = batch_size.min(rows);
        let mut order = self.epoch.take().map(|state| state.order).unwrap_or_default();
        if order.len() != rows {
            order = buffer::zeros(rows, "the epoch's batch order")?;
        }
        if shuffle {
            rng::epoch_permutation(&mut order, net.seed, self.counters.epochs);
        } else {
            order.iter_mut().enumerate().for_each(|(i, slot)| *slot = i as u32);
        }
        net.check_training_rows(batch_size)?;
        data.ensure_workspace(net, &mut self.ws, batch_size)?;
        let next = first_batch.saturating_mul(batch_size).min(rows);
        self.epoch = Some(EpochState {
            epoch: self.counters.epochs,
            order,
            next,
            batch_size,
            batch_index: first_batch,
            loss_sum: 0.0,
            correct: 0.0,
        });
        Ok(())
    }

    /// Train batches of the current epoch until it ends or `budget` has passed (at least one batch). A loss that
    /// stops being finite ends the epoch and is reported (`ChunkReport::divergence`); an error ends it too. Either
    /// way the fit's `end_fit(false)` then restores the model.
    pub fn train_chunk(
        &mut self,
        net: &mut Network<T>,
        data: &Dataset<T>,
        time: Duration,
        max_batches: Option<usize>,
    ) -> Result<ChunkReport> {
        let mut state =
            self.epoch.take().ok_or_else(|| Error::value("train_chunk", "needs an epoch in progress: call begin_epoch first"))?;
        if data.rows != state.order.len() || data.cols != net.input_dim {
            return Err(Error::value("dataset", format!("is not the one the epoch was started with ({} rows)", state.order.len())));
        }
        let budget = Budget::new(time, max_batches, &state);
        let mut parts = self.parts(net);
        // Batch-1 SGD runs the whole chunk on a team of threads of its own (see online_team.rs); larger batches
        // on a team that runs each step's parallel phases (team.rs) when a step has phases worth splitting.
        let outcome = if state.batch_size == 1 && !data.is_sparse() && parts.team_eligible() {
            parts.train_team(data, &mut state, &budget)
        } else if team_pays(parts.net, data, state.batch_size) {
            crate::team::with_team(|| run_batches(&mut parts, data, &mut state, &budget))
        } else {
            run_batches(&mut parts, data, &mut state, &budget)
        };
        let divergence = match outcome {
            Ok(()) => None,
            Err(Error::NonFinite { value, batch: Some(batch) }) => Some(Divergence { batch, value }),
            Err(error) => return Err(error),
        };
        let report = ChunkReport {
            done: divergence.is_some() || state.next >= data.rows,
            seen: state.next,
            batches: state.batch_index,
            loss_sum: state.loss_sum,
            correct: state.correct,
            divergence,
        };
        if divergence.is_some() {
            return Ok(report);
        }
        if report.done {
            self.counters.epochs += 1;
            self.opt.epochs += 1;
        }
        self.epoch = Some(state);
        Ok(report)
    }
}

/// Multiply-adds of a step's largest product below which no phase of the step is split (one GEMM task is
/// 2^18: `gemm/plan.rs`), so keeping a team awake would only burn a core.
const TEAM_MIN_PRODUCT: usize = 1 << 19;

/// Whether training `data` at `batch_size` runs on a team: dense input (the sparse kernels run on the pool) and
/// a product large enough to split, or for the small-net step more than one group of rows. Decided by shapes
/// alone; results are the same either way.
fn team_pays<T: Real>(net: &Network<T>, data: &Dataset<T>, batch_size: usize) -> bool {
    let largest = net.layers.iter().map(|layer| match layer {
        Layer::Dense(d) => d.fan_in.saturating_mul(d.fan_out),
        _ => 0,
    });
    if data.is_sparse() || batch_size < 2 {
        return false;
    }
    // A small net's step (small_net.rs) splits its batch into groups of rows: a team pays from two groups on.
    if data.weights.is_none() && small_net(&net.layers, net.input_dim) {
        return batch_size > GROUP_ROWS;
    }
    largest.max().unwrap_or(0).saturating_mul(batch_size) >= TEAM_MIN_PRODUCT
}

/// Batches of the epoch, one training step each, until the epoch ends or the budget is spent.
fn run_batches<T: Real>(parts: &mut Parts<'_, T>, data: &Dataset<T>, state: &mut EpochState, budget: &Budget) -> Result<()> {
    let weighted = data.weights.is_some();
    while state.next < data.rows {
        crate::cancel::check()?;
        let end = (state.next + state.batch_size).min(data.rows);
        let n = end - state.next;
        let indices = state.order.get(state.next..end).ok_or_else(|| Error::value("epoch", "batch out of range"))?;
        data.gather(indices, parts.ws)?;
        let result = parts.train_batch(n, weighted)?;
        if !result.objective.is_finite() {
            return Err(Error::NonFinite { value: result.objective, batch: Some(state.batch_index) });
        }
        state.loss_sum += result.objective * n as f64;
        state.correct += result.correct;
        state.next = end;
        state.batch_index += 1;
        if budget.spent(state) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;
    use crate::kernels::activation::Activation;
    use crate::kernels::loss::{Loss, Targets};
    use crate::network::{Features, LayerSpec, NetworkSpec};
    use crate::optim::SgdRule;
    use crate::train::TargetSource;

    fn network() -> Network<f64> {
        let layers = vec![dense(5, Activation::Relu), LayerSpec::Dropout(0.2), dense(2, Activation::Linear)];
        Network::new(&classifier(3, layers, 1e-3, 3)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn data() -> Dataset<f64> {
        let x: Vec<f64> = (0..30).map(|i| (i as f64 * 0.37).sin()).collect();
        let labels: Vec<i64> = (0..10).map(|i| i % 2).collect();
        Dataset::copy_from(&x, 10, 3, TargetSource::Labels(&labels), None).unwrap_or_else(|e| panic!("{e}"))
    }

    const MOMENTUM: Optimizer = Optimizer::Sgd(SgdRule { lr: 0.1, momentum: 0.9, nesterov: false });

    fn dense(units: usize, activation: Activation) -> LayerSpec {
        LayerSpec::Dense { units, activation, init: Init::He, dropconnect: 0.0 }
    }

    /// A softmax classifier over `input_dim` features with these layers.
    fn classifier(input_dim: usize, layers: Vec<LayerSpec>, l2: f64, seed: u64) -> NetworkSpec {
        NetworkSpec { input_dim, layers, loss: Loss::SoftmaxCrossEntropy, l1: 0.0, l2, penalty_per_sample: false, seed }
    }

    /// `rows` rows of `cols` features in [-0.5, 0.5) and labels cycling through `classes`.
    fn labelled(rows: usize, cols: usize, classes: i64) -> Result<Dataset<f32>> {
        let x: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let labels: Vec<i64> = (0..rows as i64).map(|i| i % classes).collect();
        Dataset::copy_from(&x, rows, cols, TargetSource::Labels(&labels), None)
    }

    fn epoch(trainer: &mut Trainer<f64>, net: &mut Network<f64>, data: &Dataset<f64>) -> Result<ChunkReport> {
        trainer.begin_epoch(net, data, 4, true, 0)?;
        trainer.train_chunk(net, data, Duration::from_secs(60), None)
    }

    #[test]
    fn a_fit_that_is_not_committed_leaves_everything_as_before() -> Result<()> {
        let (mut net, data) = (network(), data());
        let mut trainer = Trainer::new();
        trainer.begin_fit(&net, MOMENTUM, false)?;
        epoch(&mut trainer, &mut net, &data)?;
        trainer.end_fit(&mut net, true);
        let (layers, opt, counters) = (net.layers.clone(), trainer.opt.clone(), trainer.counters);
        trainer.begin_fit(&net, Optimizer::Adam { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, true)?;
        epoch(&mut trainer, &mut net, &data)?;
        assert_ne!(net.layers, layers);
        trainer.end_fit(&mut net, false);
        assert_eq!((net.layers.clone(), trainer.opt.clone(), trainer.counters), (layers, opt, counters));
        Ok(())
    }

    #[test]
    fn a_non_finite_step_keeps_the_previous_optimizer_and_its_state() -> Result<()> {
        let dense = LayerSpec::Dense { units: 1, activation: Activation::Linear, init: Init::He, dropconnect: 0.0 };
        let spec = NetworkSpec { input_dim: 3, layers: vec![dense], loss: Loss::Mse, l1: 0.0, l2: 0.0, penalty_per_sample: false, seed: 1 };
        let mut net = Network::<f64>::new(&spec)?;
        let mut trainer = Trainer::new();
        let x = [0.5, -0.2, 0.1, 0.3, 0.0, -0.4];
        let batch = Batch { x: Features::Dense(&x), rows: 2, targets: Targets::Dense(&[1.0, -1.0]), weights: None };
        trainer.train_step(&mut net, &batch, Some((MOMENTUM, false)))?;
        let before = (net.layers.clone(), trainer.opt.clone());
        let bad = Batch { targets: Targets::Dense(&[1e200, 1e200]), ..batch }; // its squared error is inf
        let adam = Optimizer::Adam { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
        let outcome = trainer.train_step(&mut net, &bad, Some((adam, false)));
        assert!(matches!(outcome, Err(Error::NonFinite { batch: None, .. })), "{outcome:?}");
        assert_eq!((net.layers, trainer.opt), before);
        Ok(())
    }

    #[test]
    fn an_epoch_resumed_at_a_batch_equals_one_trained_straight_through() -> Result<()> {
        let data = data();
        let (mut straight, mut resumed) = (network(), network());
        let (mut a, mut b) = (Trainer::new(), Trainer::new());
        a.begin_fit(&straight, MOMENTUM, false)?;
        epoch(&mut a, &mut straight, &data)?;
        b.begin_fit(&resumed, MOMENTUM, false)?;
        b.begin_epoch(&resumed, &data, 4, true, 0)?;
        let first = b.train_chunk(&mut resumed, &data, Duration::from_secs(60), Some(2))?;
        assert_eq!((first.batches, first.seen, first.done), (2, 8, false));
        b.begin_epoch(&resumed, &data, 4, true, 2)?; // as a worker that restarts the epoch at batch 2
        let rest = b.train_chunk(&mut resumed, &data, Duration::from_secs(60), None)?;
        assert!(rest.done && rest.batches == 3);
        assert_eq!(straight.layers, resumed.layers);
        assert_eq!((a.counters, a.opt.updates), (b.counters, b.opt.updates));
        Ok(())
    }

    /// A net whose steps run on a team (largest product 64 × 96 × 120 ≥ `TEAM_MIN_PRODUCT`): the same bits on
    /// 1 thread (no team) and on teams of 2, 3 and 4.
    #[test]
    fn a_team_trains_the_bits_of_one_thread() -> Result<()> {
        let layers = vec![dense(120, Activation::Relu), dense(64, Activation::Tanh), dense(3, Activation::Linear)];
        let spec = classifier(96, layers, 1e-4, 5);
        let data = labelled(640, 96, 3)?;
        assert!(team_pays(&Network::<f32>::new(&spec)?, &data, 64));
        let train = |threads: usize| -> Result<Vec<Layer<f32>>> {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::value("pool", e.to_string()))?;
            pool.install(|| {
                let mut net = Network::<f32>::new(&spec)?;
                let mut trainer = Trainer::new();
                trainer.begin_fit(&net, Optimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, false)?;
                for _ in 0..2 {
                    trainer.begin_epoch(&net, &data, 64, true, 0)?;
                    let report = trainer.train_chunk(&mut net, &data, Duration::from_secs(60), None)?;
                    assert!(report.done);
                }
                trainer.end_fit(&mut net, true);
                Ok(net.layers)
            })
        };
        let alone = train(1)?;
        for threads in 2..=4 {
            assert!(train(threads)? == alone, "{threads} threads");
        }
        Ok(())
    }

    /// A batch-1 team and a chunk team asked for at the same time on one pool: one of them runs without its
    /// team (two teams on one pool would each wait for a thread the other holds).
    #[test]
    fn a_batch_one_team_and_a_chunk_team_never_wait_for_each_other() -> Result<()> {
        let spec = classifier(300, vec![dense(128, Activation::Relu), dense(10, Activation::Linear)], 0.0, 2);
        let data = labelled(512, 300, 10)?;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().map_err(|e| Error::value("pool", e.to_string()))?;
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            for batch_size in [1, 64, 1, 64] {
                let (pool, data, spec, done) = (&pool, &data, &spec, done.clone());
                s.spawn(move || {
                    let outcome = pool.install(|| -> Result<()> {
                        let mut net = Network::<f32>::new(spec)?;
                        let mut trainer = Trainer::new();
                        trainer.begin_fit(&net, MOMENTUM, false)?;
                        for _ in 0..3 {
                            trainer.begin_epoch(&net, data, batch_size, true, 0)?;
                            while !trainer.train_chunk(&mut net, data, Duration::from_millis(5), None)?.done {}
                        }
                        Ok(())
                    });
                    let _ = done.send(outcome);
                });
            }
            for _ in 0..4 {
                match finished.recv_timeout(Duration::from_secs(60)) {
                    Ok(outcome) => outcome.unwrap_or_else(|e| panic!("{e}")),
                    Err(_) => {
                        eprintln!("the teams deadlocked");
                        std::process::abort();
                    }
                }
            }
        });
        Ok(())
    }

    #[test]
    fn epochs_need_a_fit_and_report_divergence() -> Result<()> {
        let (mut net, data) = (network(), data());
        let mut trainer = Trainer::new();
        assert!(trainer.begin_epoch(&net, &data, 4, true, 0).is_err());
        trainer.begin_fit(&net, Optimizer::Sgd(SgdRule { lr: 1e300, momentum: 0.0, nesterov: false }), false)?;
        let mut report = epoch(&mut trainer, &mut net, &data)?;
        for _ in 0..5 {
            if report.divergence.is_some() {
                break;
            }
            report = epoch(&mut trainer, &mut net, &data)?;
        }
        assert!(report.done && report.divergence.is_some_and(|d| !d.value.is_finite()), "{report:?}");
        Ok(())
    }
}
