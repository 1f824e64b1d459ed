//! The description of a model as JSON: what `Sequential.config()` produces, what a model file stores, and
//! what the engine builds a network from. The schema is defined here, once (serde, unknown keys refused).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::init::Init;
use crate::kernels::activation::Activation;
use crate::kernels::loss::Loss;
use crate::network::layer::MAX_WIDTH;
use crate::network::{LayerSpec, NetworkSpec};
use crate::optim::{Optimizer, SgdRule};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerConfig {
    Dense { units: usize, activation: String, init: String, dropconnect: f64 },
    Activation { activation: String },
    Dropout { p: f64 },
    Batchnorm { momentum: f64, eps: f64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub layers: Vec<LayerConfig>,
    /// None: not built yet (the first fit decides).
    pub input_dim: Option<usize>,
    pub loss: String,
    pub l1: f64,
    pub l2: f64,
    pub dtype: String,
    pub seed: u64,
    pub penalty_per_sample: bool,
}

/// The float type a model computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "float32" => Ok(Dtype::F32),
            "float64" => Ok(Dtype::F64),
            other => Err(Error::value("dtype", format!("must be 'float32' or 'float64'; got '{other}'"))),
        }
    }
}

impl LayerConfig {
    fn spec(&self) -> Result<LayerSpec> {
        Ok(match self {
            LayerConfig::Dense { units, activation, init, dropconnect } => LayerSpec::Dense {
                units: *units,
                activation: Activation::from_name(activation)?,
                init: Init::from_name(init)?,
                dropconnect: *dropconnect,
            },
            LayerConfig::Activation { activation } => LayerSpec::Activation(Activation::from_name(activation)?),
            LayerConfig::Dropout { p } => LayerSpec::Dropout(*p),
            LayerConfig::Batchnorm { momentum, eps } => LayerSpec::BatchNorm { momentum: *momentum, eps: *eps },
        })
    }
}

impl ModelConfig {
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::value("the model config", format!("is not valid: {e}")))
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::value("the model config", format!("cannot be written: {e}")))
    }

    pub fn dtype(&self) -> Result<Dtype> {
        Dtype::from_name(&self.dtype)
    }

    /// Check every field that does not need the input width (names, ranges, dtype).
    pub fn validate(&self) -> Result<()> {
        self.dtype()?;
        Loss::from_name(&self.loss)?;
        if self.layers.is_empty() {
            return Err(Error::value("layers", "must hold at least one layer"));
        }
        if let Some(width) = self.input_dim
            && !(1..=MAX_WIDTH).contains(&width)
        {
            return Err(Error::value("input_dim", format!("must be between 1 and {MAX_WIDTH}; got {width}")));
        }
        for layer in &self.layers {
            if let LayerConfig::Dense { units, .. } = layer
                && !(1..=MAX_WIDTH).contains(units)
            {
                return Err(Error::value("units", format!("must be between 1 and {MAX_WIDTH}; got {units}")));
            }
            layer.spec()?;
        }
        for (what, value) in [("l1", self.l1), ("l2", self.l2)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::value(what, format!("must be a finite number >= 0; got {value}")));
            }
        }
        Ok(())
    }

    /// The network to build, for inputs of `input_dim` features.
    pub fn network_spec(&self) -> Result<NetworkSpec> {
        self.validate()?;
        let input_dim = self.input_dim.ok_or_else(|| Error::value("input_dim", "is not known: the model is not built"))?;
        Ok(NetworkSpec {
            input_dim,
            layers: self.layers.iter().map(LayerConfig::spec).collect::<Result<_>>()?,
            loss: Loss::from_name(&self.loss)?,
            l1: self.l1,
            l2: self.l2,
            penalty_per_sample: self.penalty_per_sample,
            seed: self.seed,
        })
    }
}

/// An optimizer as JSON (the Python optimizers' `config()`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    Sgd { lr: f64, momentum: f64, nesterov: bool },
    Adam { lr: f64, beta1: f64, beta2: f64, eps: f64 },
    Rmsprop { lr: f64, rho: f64, eps: f64 },
}

impl OptimizerConfig {
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::value("the optimizer config", format!("is not valid: {e}")))
    }

    /// The engine's optimizer, its hyperparameters checked.
    pub fn optimizer(self) -> Result<Optimizer> {
        let optimizer = match self {
            OptimizerConfig::Sgd { lr, momentum, nesterov } => Optimizer::Sgd(SgdRule { lr, momentum, nesterov }),
            OptimizerConfig::Adam { lr, beta1, beta2, eps } => Optimizer::Adam { lr, beta1, beta2, eps },
            OptimizerConfig::Rmsprop { lr, rho, eps } => Optimizer::RmsProp { lr, rho, eps },
        };
        optimizer.validate()?;
        Ok(optimizer)
    }

    pub fn of(optimizer: Optimizer) -> Self {
        match optimizer {
            Optimizer::Sgd(SgdRule { lr, momentum, nesterov }) => OptimizerConfig::Sgd { lr, momentum, nesterov },
            Optimizer::Adam { lr, beta1, beta2, eps } => OptimizerConfig::Adam { lr, beta1, beta2, eps },
            Optimizer::RmsProp { lr, rho, eps } => OptimizerConfig::Rmsprop { lr, rho, eps },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_config_round_trips_and_unknown_keys_are_refused() -> Result<()> {
        let text = r#"{"layers": [{"kind": "dense", "units": 3, "activation": "relu", "init": "he", "dropconnect": 0.0},
            {"kind": "batchnorm", "momentum": 0.9, "eps": 1e-05}, {"kind": "dropout", "p": 0.5},
            {"kind": "activation", "activation": "tanh"}], "input_dim": 4, "loss": "mse", "l1": 0.0, "l2": 0.001,
            "dtype": "float64", "seed": 7, "penalty_per_sample": false}"#;
        let config = ModelConfig::from_json(text)?;
        assert_eq!(config.network_spec()?.layers.len(), 4);
        assert_eq!(ModelConfig::from_json(&config.to_json()?)?, config);
        assert!(ModelConfig::from_json(&text.replace("\"p\"", "\"q\"")).is_err());
        assert!(ModelConfig::from_json(&text.replace("float64", "float16"))?.validate().is_err());
        Ok(())
    }
}
