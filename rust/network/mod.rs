//! The network: what a model computes. Layers, the loss, and the forward and backward passes (training mode on
//! a workspace, inference block by block). Nothing here knows about optimizers or epochs (`crate::train`).

pub mod inference;
pub mod input;
pub mod layer;
#[allow(clippy::module_inception)]
pub mod network;
pub mod passes;
pub mod sparse;
pub mod workspace;

pub use input::Features;
pub use layer::{Layer, LayerSpec};
pub use network::{Batch, BatchResult, Network, NetworkSpec};
pub use workspace::Workspace;
