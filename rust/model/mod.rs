//! A model: its description (`config`), the network it computes with, and the trainer that trains it — the
//! unit the bindings hold, files store and snapshots restore. `state` names its tensors; `file` writes and
//! reads the model file format (safetensors).

pub mod config;
pub mod file;
pub mod state;

use crate::error::{Error, Result};
use crate::network::Network;
use crate::scalar::Real;
use crate::train::Trainer;

pub use config::{Dtype, LayerConfig, ModelConfig, OptimizerConfig};

#[derive(Clone, Debug)]
pub struct Model<T: Real> {
    pub config: ModelConfig,
    pub network: Network<T>,
    pub trainer: Trainer<T>,
}

impl<T: Real> Model<T> {
    /// A new model with fresh parameters drawn from the config's seed.
    pub fn build(config: ModelConfig) -> Result<Self> {
        if config.dtype != T::NAME {
            return Err(Error::value("dtype", format!("is {:?}, this model computes in {}", config.dtype, T::NAME)));
        }
        let network = Network::new(&config.network_spec()?)?;
        Ok(Model { config, network, trainer: Trainer::new() })
    }

    /// A model of the same architecture with zero parameters (zeroed memory costs nothing until written):
    /// what state is loaded into.
    pub fn blank(config: &ModelConfig) -> Result<Self> {
        let mut zero = config.clone();
        for layer in &mut zero.layers {
            if let LayerConfig::Dense { init, .. } = layer {
                *init = "zeros".into();
            }
        }
        let network = Network::new(&zero.network_spec()?)?;
        Ok(Model { config: config.clone(), network, trainer: Trainer::new() })
    }
}

impl<T: Real> Model<T> {
    /// An independent copy of the parameters, the optimizer and its state and the counters (fallible: a large
    /// model may not fit twice). The copy starts without an epoch or a fit in progress.
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Model { config: self.config.clone(), network: self.network.try_clone()?, trainer: self.trainer.try_clone_state()? })
    }
}

/// A model in either float type: what the bindings and files handle.
#[derive(Clone, Debug)]
pub enum AnyModel {
    F32(Model<f32>),
    F64(Model<f64>),
}

impl AnyModel {
    pub fn build(config: ModelConfig) -> Result<Self> {
        Ok(match config.dtype()? {
            Dtype::F32 => AnyModel::F32(Model::build(config)?),
            Dtype::F64 => AnyModel::F64(Model::build(config)?),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            AnyModel::F32(m) => &m.config,
            AnyModel::F64(m) => &m.config,
        }
    }
}
