//! The fused epoch loop: shuffle once per epoch, then batch after batch (gather, forward, loss, backward,
//! update) without leaving Rust, for up to a time budget per call so that the caller can report progress and
//! handle Ctrl-C between chunks. The weights at the start of the epoch are kept, so that a loss that stops
//! being finite can put them back.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::kernels::loss::Loss;
use crate::network::dataset::{Dataset, TargetData};
use crate::network::layer::Layer;
use crate::network::network::Network;
use crate::optim::Optimizer;
use crate::rng;
use crate::scalar::Real;

/// Where an epoch is: its batch order and how far it got.
#[derive(Clone, Debug)]
pub struct EpochState {
    pub epoch: u64,
    pub order: Vec<u32>,
    pub next: usize,
    pub batch_size: usize,
    pub batch_index: usize,
    /// Σ over finished batches of (objective × rows).
    pub loss_sum: f64,
    pub correct: f64,
}

/// Everything training changes, to go back to the start of an epoch.
#[derive(Clone, Debug)]
pub struct Snapshot<T> {
    layers: Vec<Layer<T>>,
    optimizer: Option<Optimizer>,
    updates: u64,
    step: u64,
    epochs: u64,
}

/// Progress of the current epoch after a chunk (running totals since the epoch began).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkReport {
    pub done: bool,
    pub seen: usize,
    pub batches: usize,
    pub loss_sum: f64,
    pub correct: f64,
}

impl<T: Real> Network<T> {
    pub fn snapshot(&self) -> Snapshot<T> {
        Snapshot { layers: self.layers.clone(), optimizer: self.optimizer, updates: self.updates, step: self.step, epochs: self.epochs }
    }

    pub fn restore(&mut self, snapshot: Snapshot<T>) {
        self.layers = snapshot.layers;
        self.optimizer = snapshot.optimizer;
        self.updates = snapshot.updates;
        self.step = snapshot.step;
        self.epochs = snapshot.epochs;
    }

    /// Check that a dataset fits this network (features, target kind and width).
    pub fn check_dataset(&self, data: &Dataset<T>) -> Result<()> {
        if data.cols != self.input_dim {
            return Err(Error::value("X", format!("has {} features, the model expects {}", data.cols, self.input_dim)));
        }
        let outputs = self.output_dim();
        match (&data.targets, self.loss.uses_labels()) {
            (TargetData::Labels(labels), true) => {
                if let Some(&bad) = labels.iter().find(|&&y| y as usize >= outputs) {
                    return Err(Error::value("y", format!("holds label {bad}, out of range for a model with {outputs} outputs")));
                }
            }
            (TargetData::Dense { cols, .. }, false) => {
                if *cols != outputs {
                    return Err(Error::value("y", format!("has {cols} columns, the model has {outputs} outputs")));
                }
            }
            (_, uses_labels) => {
                let expected = if uses_labels { "class labels" } else { "a target matrix" };
                return Err(Error::value("y", format!("must be {expected} for {}", self.loss.name())));
            }
        }
        Ok(())
    }

    /// Start an epoch over `rows` rows: its batch order (shuffled by (seed, epoch number) or in order) and a
    /// snapshot to return to if the loss stops being finite.
    pub fn begin_epoch(&mut self, rows: usize, batch_size: usize, shuffle: bool) -> Result<()> {
        if rows == 0 || u32::try_from(rows).is_err() {
            return Err(Error::value("X", format!("must have between 1 and {} rows; got {rows}", u32::MAX)));
        }
        if batch_size == 0 {
            return Err(Error::value("batch_size", "must be >= 1"));
        }
        if self.optimizer.is_none() {
            return Err(Error::value("optimizer", "is not set: call set_optimizer first"));
        }
        let batch_size = batch_size.min(rows);
        if self.layers.iter().any(|l| matches!(l, Layer::BatchNorm(_))) && (batch_size < 2 || rows % batch_size == 1) {
            return Err(Error::value(
                "batch_size",
                format!("leaves a batch of 1 row ({batch_size} over {rows} rows); BatchNorm needs at least 2 rows per training batch"),
            ));
        }
        let mut order = self.epoch.take().map(|state| state.order).unwrap_or_default();
        if order.len() != rows {
            order = crate::buffer::zeros(rows, "the epoch's batch order")?;
        }
        if shuffle {
            rng::epoch_permutation(&mut order, self.seed, self.epochs);
        } else {
            order.iter_mut().enumerate().for_each(|(i, slot)| *slot = i as u32);
        }
        self.snapshot = Some(self.snapshot());
        self.epoch = Some(EpochState { epoch: self.epochs, order, next: 0, batch_size, batch_index: 0, loss_sum: 0.0, correct: 0.0 });
        Ok(())
    }

    /// Train batches of the current epoch until it ends or `budget` has passed (at least one batch).
    pub fn train_chunk(&mut self, data: &Dataset<T>, budget: Duration) -> Result<ChunkReport> {
        let mut state =
            self.epoch.take().ok_or_else(|| Error::value("train_chunk", "needs an epoch in progress: call begin_epoch first"))?;
        if data.rows != state.order.len() {
            let why = format!("has {} rows but the epoch was started for {}", data.rows, state.order.len());
            self.epoch = Some(state);
            return Err(Error::value("dataset", why));
        }
        if let Err(error) = self.check_dataset(data) {
            self.epoch = Some(state);
            return Err(error);
        }
        let target_cols = if self.loss.uses_labels() { 1 } else { self.output_dim() };
        if let Err(error) = self.ws.ensure(&self.layers, self.input_dim, target_cols, state.batch_size) {
            self.epoch = Some(state);
            return Err(error);
        }
        let started = Instant::now();
        let rows = data.rows;
        let _flush = crate::denormals::FlushGuard::on_pool();
        // Batch-1 SGD runs the whole chunk on a team of threads (see online_team.rs).
        let team = state.batch_size == 1 && self.team_eligible();
        if team && let Err(error) = self.train_team(data, &mut state, budget, started) {
            self.abandon_epoch();
            return Err(error);
        }
        while !team && state.next < rows {
            let end = (state.next + state.batch_size).min(rows);
            let n = end - state.next;
            let outcome = state
                .order
                .get(state.next..end)
                .ok_or_else(|| Error::value("epoch", "batch out of range"))
                .and_then(|indices| data.gather(indices, &mut self.ws))
                .and_then(|()| self.train_workspace(n, data.weights.is_some()));
            let result = match outcome {
                Ok(result) if result.objective.is_finite() => result,
                Ok(result) => {
                    self.abandon_epoch();
                    return Err(Error::NonFinite { epoch: state.epoch, batch: state.batch_index, value: result.objective });
                }
                Err(error) => {
                    self.abandon_epoch();
                    return Err(error);
                }
            };
            state.loss_sum += result.objective * n as f64;
            state.correct += result.correct;
            state.next = end;
            state.batch_index += 1;
            if started.elapsed() >= budget {
                break;
            }
        }
        let report = ChunkReport {
            done: state.next >= rows,
            seen: state.next,
            batches: state.batch_index,
            loss_sum: state.loss_sum,
            correct: state.correct,
        };
        if report.done {
            self.epochs += 1;
            self.snapshot = None;
        }
        self.epoch = Some(state);
        Ok(report)
    }

    /// Put back the weights from the start of the epoch and forget the epoch.
    pub fn abandon_epoch(&mut self) {
        if let Some(snapshot) = self.snapshot.take() {
            self.restore(snapshot);
        }
        self.epoch = None;
    }

    /// Stop the epoch where it is (after Ctrl-C): the weights stay as trained so far.
    pub fn stop_epoch(&mut self) {
        self.snapshot = None;
        self.epoch = None;
    }

    pub fn loss_kind(&self) -> Loss {
        self.loss
    }
}
