//! Training: the trainer (optimizer state, counters, epochs, the fit transaction), the engine-owned dataset,
//! and the step paths it chooses between — the general batched step, the online (batch-1) path and the batch-1
//! team of threads.

pub mod dataset;
pub mod epoch;
mod online;
mod online_team;
pub mod parts;
pub mod small_net;
mod step;
pub mod trainer;

pub use dataset::{AnyDataset, Dataset, TargetData, TargetSource};
pub use epoch::{ChunkReport, Divergence};
pub use parts::Counters;
pub use trainer::{Snapshot, Trace, Trainer};
