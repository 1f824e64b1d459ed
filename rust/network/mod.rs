//! The network: layers, workspace, the engine-owned dataset and the fused training loop.

pub mod dataset;
pub mod layer;
#[allow(clippy::module_inception)]
pub mod network;
mod online;
mod online_team;
pub mod train;
pub mod workspace;

pub use dataset::{Dataset, TargetData};
pub use layer::{Layer, LayerSpec};
pub use network::{Batch, BatchResult, Network, NetworkSpec};
pub use train::ChunkReport;
