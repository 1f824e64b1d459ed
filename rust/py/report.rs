//! What training calls report to Python, as named objects.

use pyo3::prelude::*;

use crate::train::ChunkReport;

/// Progress of the current epoch after `Model.train_chunk` (running totals since the epoch began).
#[pyclass(name = "ChunkReport", module = "ferronet._core", frozen, get_all)]
pub struct PyChunkReport {
    /// The epoch ended (or diverged).
    pub done: bool,
    /// Rows trained on so far.
    pub seen: usize,
    pub batches: usize,
    /// Σ over finished batches of (objective × rows).
    pub loss_sum: f64,
    pub correct: f64,
    /// (0-based batch, loss value) where the loss stopped being finite, else None.
    pub divergence: Option<(usize, f64)>,
}

impl From<ChunkReport> for PyChunkReport {
    fn from(r: ChunkReport) -> Self {
        PyChunkReport {
            done: r.done,
            seen: r.seen,
            batches: r.batches,
            loss_sum: r.loss_sum,
            correct: r.correct,
            divergence: r.divergence.map(|d| (d.batch, d.value)),
        }
    }
}

#[pymethods]
impl PyChunkReport {
    fn __repr__(&self) -> String {
        format!(
            "ChunkReport(done={}, seen={}, batches={}, loss_sum={}, correct={}, divergence={:?})",
            self.done, self.seen, self.batches, self.loss_sum, self.correct, self.divergence
        )
    }
}
