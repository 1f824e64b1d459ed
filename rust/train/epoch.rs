//! Where an epoch is, and what a chunk of it reports.

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
