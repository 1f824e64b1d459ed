//! A model's state as named tensors — the names, shapes and checks of the model file format, used by files
//! (`file.rs`) and by `state_dict`/`load_state_dict` alike:
//!
//! - `layers.{i}.W` (fan_in × fan_out) and `layers.{i}.b` for Dense layers; `layers.{i}.gamma`, `.beta`,
//!   `.running_mean`, `.running_var` for BatchNorm;
//! - `optimizer.{i}.{param}.{slot}` for the optimizer state of each trainable tensor, under torch's names:
//!   `momentum_buffer` (SGD), `exp_avg` and `exp_avg_sq` (Adam), `square_avg` (RMSProp). A slot is stored for
//!   every trainable tensor or for none (the state is allocated for all of them at the first update);
//! - the counters and the optimizer's configuration beside them (`TrainingMeta`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::buffer;
use crate::error::{Error, Result};
use crate::model::{Model, ModelConfig, OptimizerConfig};
use crate::network::LayerSpec;
use crate::network::layer::Layer;
use crate::optim::{Optimizer, OptimizerState, Slots};
use crate::scalar::Real;

/// The counters a model file stores (`optimizer_epochs` is absent from files of ferronet 0.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountersMeta {
    pub step: u64,
    pub updates: u64,
    pub epochs: u64,
    #[serde(default)]
    pub optimizer_epochs: u64,
}

/// The optimizer beside its state: as configured (`config`, the base learning rate) and as in use (`engine`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerMeta {
    pub config: Option<OptimizerConfig>,
    pub engine: Option<OptimizerConfig>,
}

/// What a model's state holds besides its tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingMeta {
    pub counters: CountersMeta,
    /// None: no optimizer stored (the next fit starts fresh state).
    pub optimizer: Option<OptimizerMeta>,
}

/// A tensor of a model's state, borrowed.
pub struct TensorRef<'a, T> {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: &'a [T],
}

/// Where imported tensors come from (a file's bytes, NumPy arrays): shapes first, values when all are checked.
pub trait TensorSource<T> {
    fn names(&self) -> Vec<String>;
    fn shape(&self, name: &str) -> Option<Vec<usize>>;
    /// Copy the values of `name` into `out` (of its length).
    fn read_into(&self, name: &str, out: &mut [T]) -> Result<()>;
}

/// Tensors held in memory (from NumPy arrays): name → (shape, values).
#[derive(Default)]
pub struct OwnedTensors<T> {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<T>)>,
}

impl<T: Real> TensorSource<T> for OwnedTensors<T> {
    fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|(shape, _)| shape.clone())
    }
    fn read_into(&self, name: &str, out: &mut [T]) -> Result<()> {
        let (_, values) = self.tensors.get(name).ok_or_else(|| Error::value(format!("tensor {name:?}"), "is missing"))?;
        if values.len() != out.len() {
            return Err(Error::value(format!("tensor {name:?}"), format!("has {} values, expected {}", values.len(), out.len())));
        }
        out.copy_from_slice(values);
        Ok(())
    }
}

/// Torch's name of each optimizer state slot: (first, second).
pub fn slot_names(optimizer: &Optimizer) -> [Option<&'static str>; 2] {
    match optimizer {
        Optimizer::Sgd(_) => [Some("momentum_buffer"), None],
        Optimizer::Adam { .. } => [Some("exp_avg"), Some("exp_avg_sq")],
        Optimizer::RmsProp { .. } => [None, Some("square_avg")],
    }
}

/// A layer's stored tensors as far as names and shapes go.
#[derive(Clone, Copy)]
enum Stored {
    Dense { fan_in: usize, fan_out: usize },
    BatchNorm { dim: usize },
    Nothing,
}

impl Stored {
    /// The tensors, by name, with their shapes; the first `trainable` of them have optimizer state.
    fn tensors(self) -> (Vec<(&'static str, Vec<usize>)>, usize) {
        match self {
            Stored::Dense { fan_in, fan_out } => (vec![("W", vec![fan_in, fan_out]), ("b", vec![fan_out])], 2),
            Stored::BatchNorm { dim } => {
                (["gamma", "beta", "running_mean", "running_var"].into_iter().map(|k| (k, vec![dim])).collect(), 2)
            }
            Stored::Nothing => (Vec::new(), 0),
        }
    }

    fn of<T: Real>(layer: &Layer<T>) -> Self {
        match layer {
            Layer::Dense(d) => Stored::Dense { fan_in: d.fan_in, fan_out: d.fan_out },
            Layer::BatchNorm(bn) => Stored::BatchNorm { dim: bn.dim },
            Layer::Activation { .. } | Layer::Dropout { .. } => Stored::Nothing,
        }
    }
}

/// The tensors of a layer, by name, with their shapes; the first `trainable` of them have optimizer state.
pub fn layer_tensors<T: Real>(layer: &Layer<T>) -> (Vec<(&'static str, Vec<usize>)>, usize) {
    Stored::of(layer).tensors()
}

/// The tensors a state for `config` holds, given `meta`: every parameter, and every optimizer slot name the
/// stored optimizer may have (each present for all trainable tensors or for none). Computed from the config
/// alone, so a file is checked before any model is built.
pub fn expected_tensors(config: &ModelConfig, meta: &TrainingMeta) -> Result<BTreeMap<String, Vec<usize>>> {
    let spec = config.network_spec()?;
    let configured = configured_optimizer(meta)?;
    let mut expected = BTreeMap::new();
    let mut width = spec.input_dim;
    for (index, layer) in spec.layers.iter().enumerate() {
        let stored = match *layer {
            LayerSpec::Dense { units, .. } => {
                let stored = Stored::Dense { fan_in: width, fan_out: units };
                width = units;
                stored
            }
            LayerSpec::BatchNorm { .. } => Stored::BatchNorm { dim: width },
            LayerSpec::Activation(_) | LayerSpec::Dropout(_) => Stored::Nothing,
        };
        let (names, trainable) = stored.tensors();
        for (position, (name, shape)) in names.into_iter().enumerate() {
            if let Some(optimizer) = configured.filter(|_| position < trainable) {
                for slot_name in slot_names(&optimizer).into_iter().flatten() {
                    expected.insert(format!("optimizer.{index}.{name}.{slot_name}"), shape.clone());
                }
            }
            expected.insert(format!("layers.{index}.{name}"), shape);
        }
    }
    Ok(expected)
}

fn layer_values<T: Real>(layer: &Layer<T>) -> Vec<&[T]> {
    match layer {
        Layer::Dense(d) => vec![&d.weight.value, &d.bias.value],
        Layer::BatchNorm(bn) => vec![&bn.gamma.value, &bn.beta.value, &bn.running_mean, &bn.running_var],
        Layer::Activation { .. } | Layer::Dropout { .. } => Vec::new(),
    }
}

fn layer_values_mut<T: Real>(layer: &mut Layer<T>) -> Vec<&mut Vec<T>> {
    match layer {
        Layer::Dense(d) => vec![&mut d.weight.value, &mut d.bias.value],
        Layer::BatchNorm(bn) => vec![&mut bn.gamma.value, &mut bn.beta.value, &mut bn.running_mean, &mut bn.running_var],
        Layer::Activation { .. } | Layer::Dropout { .. } => Vec::new(),
    }
}

impl<T: Real> Model<T> {
    /// The parameters (and, with `include_optimizer`, the optimizer state) as named tensors, and the rest of
    /// the training state. Without the optimizer, `updates` and `optimizer_epochs` are 0 (the next optimizer
    /// starts fresh).
    pub fn export(&self, include_optimizer: bool) -> (Vec<TensorRef<'_, T>>, TrainingMeta) {
        let mut tensors = Vec::new();
        for (index, layer) in self.network.layers.iter().enumerate() {
            let (names, _) = layer_tensors(layer);
            for ((name, shape), data) in names.into_iter().zip(layer_values(layer)) {
                tensors.push(TensorRef { name: format!("layers.{index}.{name}"), shape, data });
            }
        }
        let opt = &self.trainer.opt;
        let counters = self.trainer.counters;
        let mut meta = TrainingMeta {
            counters: CountersMeta { step: counters.step, updates: 0, epochs: counters.epochs, optimizer_epochs: 0 },
            optimizer: None,
        };
        if include_optimizer {
            meta.counters.updates = opt.updates;
            meta.counters.optimizer_epochs = opt.epochs;
            meta.optimizer =
                Some(OptimizerMeta { config: opt.configured.map(OptimizerConfig::of), engine: opt.in_use().map(OptimizerConfig::of) });
            if let Some(optimizer) = opt.configured {
                let names = slot_names(&optimizer);
                for (index, (layer, slots)) in self.network.layers.iter().zip(&opt.slots).enumerate() {
                    let (params, trainable) = layer_tensors(layer);
                    for ((param, shape), slots) in params.into_iter().take(trainable).zip(slots) {
                        for (slot_name, data) in names.iter().zip([&slots.first, &slots.second]) {
                            if let Some(slot_name) = slot_name
                                && !data.is_empty()
                            {
                                tensors.push(TensorRef {
                                    name: format!("optimizer.{index}.{param}.{slot_name}"),
                                    shape: shape.clone(),
                                    data,
                                });
                            }
                        }
                    }
                }
            }
        }
        (tensors, meta)
    }

    /// Replace the parameters, counters, optimizer and its state with those of `source` and `meta`, in place.
    /// Every name and shape is checked before any value is read; values must be finite (running variances and
    /// second moments >= 0). On error the model is left partly written: import into a `Model::blank`.
    pub fn import(&mut self, source: &dyn TensorSource<T>, meta: &TrainingMeta) -> Result<()> {
        let expected = expected_tensors(&self.config, meta)?;
        let names = source.names();
        let unexpected: Vec<_> = names.iter().filter(|n| !expected.contains_key(*n)).take(5).cloned().collect();
        let missing: Vec<_> = expected.keys().filter(|n| n.starts_with("layers.") && source.shape(n).is_none()).take(5).cloned().collect();
        if !unexpected.is_empty() || !missing.is_empty() {
            let mut parts = Vec::new();
            if !missing.is_empty() {
                parts.push(format!("missing tensors {missing:?}"));
            }
            if !unexpected.is_empty() {
                parts.push(format!("unexpected tensors {unexpected:?}"));
            }
            return Err(Error::value("the state", format!("does not match the model config: {}", parts.join("; "))));
        }
        for name in &names {
            let (Some(shape), Some(want)) = (source.shape(name), expected.get(name)) else { continue };
            if &shape != want {
                return Err(Error::value(format!("tensor {name:?}"), format!("has shape {shape:?}; the model config implies {want:?}")));
            }
        }
        let configured = configured_optimizer(meta)?;
        let present = |slot_name: &str| names.iter().any(|n| n.starts_with("optimizer.") && n.ends_with(&format!(".{slot_name}")));
        if let Some(optimizer) = configured {
            for slot_name in slot_names(&optimizer).into_iter().flatten() {
                let stored = names.iter().filter(|n| n.starts_with("optimizer.") && n.ends_with(&format!(".{slot_name}"))).count();
                let wanted = expected.keys().filter(|n| n.starts_with("optimizer.") && n.ends_with(&format!(".{slot_name}"))).count();
                if stored != 0 && stored != wanted {
                    return Err(Error::value("the optimizer state", format!("has {stored} of the {wanted} {slot_name:?} tensors")));
                }
            }
        }
        // Everything is checked: read the values.
        for (index, layer) in self.network.layers.iter_mut().enumerate() {
            let (names, _) = layer_tensors(layer);
            for ((name, _), values) in names.into_iter().zip(layer_values_mut(layer)) {
                let full = format!("layers.{index}.{name}");
                source.read_into(&full, values)?;
                check_values(&full, values, name == "running_var")?;
            }
        }
        let mut opt = OptimizerState::default();
        if let (Some(optimizer), Some(optimizer_meta)) = (configured, meta.optimizer) {
            opt.configured = Some(optimizer);
            opt.lr = optimizer_meta.engine.map_or(Ok(optimizer.lr()), |engine| engine.optimizer().map(|o| o.lr()))?;
            opt.updates = meta.counters.updates;
            opt.epochs = meta.counters.optimizer_epochs;
            opt.slots = self.read_slots(source, &optimizer, &present)?;
        }
        self.trainer.opt = opt;
        self.trainer.counters.step = meta.counters.step;
        self.trainer.counters.epochs = meta.counters.epochs;
        Ok(())
    }

    /// Replace the parameters (the `layers.*` tensors, all of them) and nothing else, all or nothing.
    pub fn replace_parameters(&mut self, source: &dyn TensorSource<T>) -> Result<()> {
        let mut staged = self.network.try_clone_layers()?;
        let mut expected = Vec::new();
        for (index, layer) in staged.iter().enumerate() {
            let (names, _) = layer_tensors(layer);
            expected.extend(names.into_iter().map(|(name, shape)| (format!("layers.{index}.{name}"), shape)));
        }
        let names = source.names();
        let unexpected: Vec<_> = names.iter().filter(|n| !expected.iter().any(|(e, _)| e == *n)).take(5).collect();
        if !unexpected.is_empty() {
            return Err(Error::value("weights", format!("hold tensors the model does not have: {unexpected:?}")));
        }
        for (name, shape) in &expected {
            match source.shape(name) {
                None => return Err(Error::value("weights", format!("lack tensor {name:?}"))),
                Some(got) if &got != shape => {
                    return Err(Error::value(format!("tensor {name:?}"), format!("must have shape {shape:?}; got {got:?}")));
                }
                Some(_) => {}
            }
        }
        for (index, layer) in staged.iter_mut().enumerate() {
            let (names, _) = layer_tensors(layer);
            for ((name, _), values) in names.into_iter().zip(layer_values_mut(layer)) {
                let full = format!("layers.{index}.{name}");
                source.read_into(&full, values)?;
                check_values(&full, values, name == "running_var")?;
            }
        }
        self.network.layers = staged;
        Ok(())
    }

    fn read_slots(
        &self,
        source: &dyn TensorSource<T>,
        optimizer: &Optimizer,
        present: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<[Slots<T>; 2]>> {
        let names = slot_names(optimizer);
        let mut all = Vec::with_capacity(self.network.layers.len());
        for (index, layer) in self.network.layers.iter().enumerate() {
            let (params, trainable) = layer_tensors(layer);
            let mut pair: [Slots<T>; 2] = Default::default();
            for ((param, shape), slots) in params.into_iter().take(trainable).zip(pair.iter_mut()) {
                for (slot_name, buffer_slot) in names.iter().zip([&mut slots.first, &mut slots.second]) {
                    let Some(slot_name) = slot_name.filter(|name| present(name)) else { continue };
                    let full = format!("optimizer.{index}.{param}.{slot_name}");
                    let mut values = buffer::zeros(shape.iter().product(), "the optimizer state")?;
                    source.read_into(&full, &mut values)?;
                    check_values(&full, &values, slot_name.ends_with("sq") || slot_name == "square_avg")?;
                    *buffer_slot = values;
                }
            }
            all.push(pair);
        }
        Ok(all)
    }
}

/// The optimizer a stored state was made with (as configured; the one in use when only that was stored).
fn configured_optimizer(meta: &TrainingMeta) -> Result<Option<Optimizer>> {
    match meta.optimizer {
        Some(OptimizerMeta { config: Some(config), engine }) => {
            let optimizer = config.optimizer()?;
            if let Some(engine) = engine
                && !engine.optimizer()?.same_kind(&optimizer)
            {
                return Err(Error::value("the optimizer metadata", "holds two different kinds of optimizer"));
            }
            Ok(Some(optimizer))
        }
        Some(OptimizerMeta { config: None, engine: Some(engine) }) => Ok(Some(engine.optimizer()?)),
        _ => Ok(None),
    }
}

fn check_values<T: Real>(name: &str, values: &[T], non_negative: bool) -> Result<()> {
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::value(format!("tensor '{name}'"), "contains NaN or infinity"));
    }
    if non_negative && values.iter().any(|v| *v < T::zero()) {
        return Err(Error::value(format!("tensor '{name}'"), "must be >= 0"));
    }
    Ok(())
}
