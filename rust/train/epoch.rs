//! Where an epoch is, how much of it a chunk may train, and what a chunk reports.

use std::time::{Duration, Instant};

/// An epoch in progress: its batch order and how far it got.
#[derive(Clone, Debug)]
pub struct EpochState {
    /// The epoch's number in the model's life (keys the shuffle).
    pub epoch: u64,
    pub order: Vec<u32>,
    /// Position in `order` of the next row to train on.
    pub next: usize,
    pub batch_size: usize,
    pub batch_index: usize,
    /// Σ over finished batches of (objective × rows).
    pub loss_sum: f64,
    pub correct: f64,
}

/// Where, in an epoch, the loss stopped being finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    /// 0-based batch of the epoch.
    pub batch: usize,
    pub value: f64,
}

/// Progress of the current epoch after a chunk (running totals since the epoch began).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkReport {
    pub done: bool,
    pub seen: usize,
    pub batches: usize,
    pub loss_sum: f64,
    pub correct: f64,
    /// The loss stopped being finite (the epoch ended there, that batch's update not applied).
    pub divergence: Option<Divergence>,
}

/// How much of an epoch one chunk trains: until `time` has passed since `started` or the epoch's batch index reaches
/// `end_batch` (whichever comes first; at least one batch either way).
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub started: Instant,
    pub time: Duration,
    pub end_batch: usize,
}

impl Budget {
    /// `time` from now, and at most `max_batches` more batches of `state`'s epoch.
    pub fn new(time: Duration, max_batches: Option<usize>, state: &EpochState) -> Self {
        let end_batch = max_batches.map_or(usize::MAX, |n| state.batch_index.saturating_add(n.max(1)));
        Budget { started: Instant::now(), time, end_batch }
    }

    pub fn spent(&self, state: &EpochState) -> bool {
        state.batch_index >= self.end_batch || self.started.elapsed() >= self.time
    }
}
