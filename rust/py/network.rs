//! `ferronet._core.Network` and `ferronet._core.Dataset`: the engine's state behind one Python object each.
//! Arguments arrive already validated and converted by `python/ferronet`; the checks here are the second line
//! that keeps any call from crashing. Heavy calls release the GIL and run on the engine's thread pool.

use std::time::Duration;

use numpy::{Element, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::buffer;
use crate::init::Init;
use crate::kernels::activation::Activation;
use crate::kernels::loss::Loss;
use crate::network::{Batch, Dataset, Layer, LayerSpec, Network, NetworkSpec, TargetData};
use crate::optim::Optimizer;
use crate::py::convert::{self, Dtype, OwnedTargets, by_dtype};
use crate::scalar::Real;
use crate::threads;

enum Engine {
    F32(Network<f32>),
    F64(Network<f64>),
}

macro_rules! with_net {
    ($engine:expr, $net:ident => $body:expr) => {
        match $engine {
            Engine::F32($net) => $body,
            Engine::F64($net) => $body,
        }
    };
}

fn get<'py, V: FromPyObjectOwned<'py>>(dict: &Bound<'py, PyDict>, key: &str, what: &str) -> PyResult<V> {
    dict.get_item(key)?.ok_or_else(|| PyValueError::new_err(format!("{what} needs a {key:?} entry")))?.extract::<V>().map_err(|e| {
        let error: PyErr = e.into();
        PyTypeError::new_err(format!("{what}: bad {key:?}: {error}"))
    })
}

use pyo3::conversion::FromPyObjectOwned;

fn parse_layer(dict: &Bound<'_, PyDict>) -> PyResult<LayerSpec> {
    let kind: String = get(dict, "kind", "layer")?;
    Ok(match kind.as_str() {
        "dense" => LayerSpec::Dense {
            units: get(dict, "units", "dense layer")?,
            activation: Activation::from_name(&get::<String>(dict, "activation", "dense layer")?)?,
            init: Init::from_name(&get::<String>(dict, "init", "dense layer")?)?,
            dropconnect: get(dict, "dropconnect", "dense layer")?,
        },
        "activation" => LayerSpec::Activation(Activation::from_name(&get::<String>(dict, "activation", "activation layer")?)?),
        "dropout" => LayerSpec::Dropout(get(dict, "p", "dropout layer")?),
        "batchnorm" => {
            LayerSpec::BatchNorm { momentum: get(dict, "momentum", "batchnorm layer")?, eps: get(dict, "eps", "batchnorm layer")? }
        }
        other => return Err(PyValueError::new_err(format!("unknown layer kind {other:?}"))),
    })
}

fn parse_optimizer(dict: &Bound<'_, PyDict>) -> PyResult<Optimizer> {
    let kind: String = get(dict, "kind", "optimizer")?;
    let lr: f64 = get(dict, "lr", "optimizer")?;
    let optimizer = match kind.as_str() {
        "sgd" => Optimizer::Sgd { lr, momentum: get(dict, "momentum", "sgd")?, nesterov: get(dict, "nesterov", "sgd")? },
        "adam" => {
            Optimizer::Adam { lr, beta1: get(dict, "beta1", "adam")?, beta2: get(dict, "beta2", "adam")?, eps: get(dict, "eps", "adam")? }
        }
        "rmsprop" => Optimizer::RmsProp { lr, rho: get(dict, "rho", "rmsprop")?, eps: get(dict, "eps", "rmsprop")? },
        other => return Err(PyValueError::new_err(format!("unknown optimizer kind {other:?}"))),
    };
    optimizer.validate()?;
    Ok(optimizer)
}

/// The features of a call as (slice, rows), checked against the network's input width.
fn features<'a, T: Real + Element>(x: &'a PyReadonlyArrayDyn<'_, T>, input_dim: usize) -> PyResult<(&'a [T], usize)> {
    let (rows, cols) = convert::matrix_shape(x, "X")?;
    if cols != input_dim {
        return Err(PyValueError::new_err(format!("X has {cols} features, the model expects {input_dim}")));
    }
    Ok((convert::slice(x, "X")?, rows))
}

/// Run engine work without the GIL, on the engine's pool.
fn compute<R: Send>(py: Python<'_>, work: impl FnOnce() -> crate::error::Result<R> + Send) -> PyResult<R> {
    Ok(py.detach(|| threads::install(work))??)
}

#[pyclass(name = "Network", module = "ferronet._core")]
pub struct PyNetwork {
    engine: Engine,
}

fn forward_impl<'py, T: Real + Element>(
    py: Python<'py>,
    net: &Network<T>,
    x: &Bound<'py, PyAny>,
    training: bool,
    logits_only: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let x = convert::array::<T>(x, "X")?;
    let (data, rows) = features(&x, net.input_dim)?;
    let out = compute(py, || net.forward(data, rows, training, logits_only))?;
    convert::to_numpy_matrix(py, out, rows, net.output_dim())
}

fn batch_call<'py, T: Real + Element, R: Send>(
    py: Python<'py>,
    net: &mut Network<T>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    work: impl FnOnce(&mut Network<T>, &Batch<'_, T>) -> crate::error::Result<R> + Send,
) -> PyResult<R> {
    let x = convert::array::<T>(x, "X")?;
    let (data, rows) = features(&x, net.input_dim)?;
    let targets = OwnedTargets::<T>::extract(y, net.loss.uses_labels())?;
    let weights = convert::weights::<T>(sample_weight)?;
    let batch = Batch {
        x: data,
        rows,
        targets: targets.view()?,
        weights: weights.as_ref().map(|w| convert::slice(w, "sample_weight")).transpose()?,
    };
    compute(py, || work(net, &batch))
}

fn weights_impl<'py, T: Real + Element>(py: Python<'py>, net: &Network<T>) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for layer in &net.layers {
        let dict = PyDict::new(py);
        match layer {
            Layer::Dense(d) => {
                dict.set_item("W", convert::to_numpy_matrix(py, d.weight.value.clone(), d.fan_in, d.fan_out)?)?;
                dict.set_item("b", convert::to_numpy_vector(py, d.bias.value.clone()))?;
            }
            Layer::BatchNorm(bn) => {
                dict.set_item("gamma", convert::to_numpy_vector(py, bn.gamma.value.clone()))?;
                dict.set_item("beta", convert::to_numpy_vector(py, bn.beta.value.clone()))?;
                dict.set_item("running_mean", convert::to_numpy_vector(py, bn.running_mean.clone()))?;
                dict.set_item("running_var", convert::to_numpy_vector(py, bn.running_var.clone()))?;
            }
            Layer::Activation { .. } | Layer::Dropout { .. } => {}
        }
        list.append(dict)?;
    }
    Ok(list)
}

/// The arrays a layer stores, by name, with their shapes.
fn layer_arrays<T: Real>(layer: &Layer<T>) -> Vec<(&'static str, Vec<usize>)> {
    match layer {
        Layer::Dense(d) => vec![("W", vec![d.fan_in, d.fan_out]), ("b", vec![d.fan_out])],
        Layer::BatchNorm(bn) => ["gamma", "beta", "running_mean", "running_var"].into_iter().map(|k| (k, vec![bn.dim])).collect(),
        Layer::Activation { .. } | Layer::Dropout { .. } => Vec::new(),
    }
}

fn set_weights_impl<T: Real + Element>(net: &mut Network<T>, weights: &Bound<'_, PyList>) -> PyResult<()> {
    if weights.len() != net.layers.len() {
        return Err(PyValueError::new_err(format!("weights must hold one dict per layer ({}); got {}", net.layers.len(), weights.len())));
    }
    // Read and check everything first: a call that raises changes nothing.
    let mut staged: Vec<Vec<Vec<T>>> = Vec::with_capacity(net.layers.len());
    for (index, (layer, item)) in net.layers.iter().zip(weights.iter()).enumerate() {
        let dict = item.cast::<PyDict>().map_err(|_| PyTypeError::new_err(format!("weights[{index}] must be a dict")))?;
        let mut arrays = Vec::new();
        for (name, shape) in layer_arrays(layer) {
            let what = format!("weights[{index}][{name:?}]");
            let value = dict.get_item(name)?.ok_or_else(|| PyValueError::new_err(format!("{what} is missing")))?;
            let array = convert::array::<T>(&value, &what)?;
            if array.shape() != shape.as_slice() {
                return Err(PyValueError::new_err(format!("{what} must have shape {shape:?}; got {:?}", array.shape())));
            }
            let data = convert::slice(&array, &what)?.to_vec();
            if data.iter().any(|v| !v.is_finite()) {
                return Err(PyValueError::new_err(format!("{what} contains NaN or infinity")));
            }
            if name == "running_var" && data.iter().any(|v| *v < T::zero()) {
                return Err(PyValueError::new_err(format!("{what} must be >= 0")));
            }
            arrays.push(data);
        }
        if dict.len() != arrays.len() {
            let expected: Vec<_> = layer_arrays(layer).into_iter().map(|(k, _)| k).collect();
            return Err(PyValueError::new_err(format!("weights[{index}] must have exactly the keys {expected:?}")));
        }
        staged.push(arrays);
    }
    for (layer, arrays) in net.layers.iter_mut().zip(staged) {
        let mut arrays = arrays.into_iter();
        let mut next = || arrays.next().unwrap_or_default();
        match layer {
            Layer::Dense(d) => {
                d.weight.value = next();
                d.bias.value = next();
            }
            Layer::BatchNorm(bn) => {
                bn.gamma.value = next();
                bn.beta.value = next();
                bn.running_mean = next();
                bn.running_var = next();
            }
            Layer::Activation { .. } | Layer::Dropout { .. } => {}
        }
    }
    Ok(())
}

fn gradients_impl<'py, T: Real + Element>(
    py: Python<'py>,
    net: &mut Network<T>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
) -> PyResult<(f64, Bound<'py, PyList>)> {
    let (objective, grads) = batch_call(py, net, x, y, sample_weight, |net, batch| net.gradients(batch))?;
    let list = PyList::empty(py);
    for (layer, layer_grads) in net.layers.iter().zip(grads) {
        let dict = PyDict::new(py);
        for ((name, shape), grad) in layer_arrays(layer).into_iter().zip(layer_grads) {
            dict.set_item(name, convert::to_numpy_shaped(py, grad, &shape)?)?;
        }
        list.append(dict)?;
    }
    Ok((objective, list))
}

fn trace_impl<'py, T: Real + Element>(
    py: Python<'py>,
    net: &mut Network<T>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let trace = batch_call(py, net, x, y, sample_weight, |net, batch| net.trace(batch))?;
    let rows = convert::array::<T>(x, "X")?.shape().first().copied().unwrap_or(0);
    let outputs = PyList::empty(py);
    let output_grads = PyList::empty(py);
    let param_grads = PyList::empty(py);
    for (((layer, out), grad), pgrads) in net.layers.iter().zip(trace.outputs).zip(trace.output_grads).zip(trace.param_grads) {
        outputs.append(convert::to_numpy_matrix(py, out, rows, layer.out_dim())?)?;
        output_grads.append(convert::to_numpy_matrix(py, grad, rows, layer.out_dim())?)?;
        let dict = PyDict::new(py);
        for ((name, shape), g) in layer_arrays(layer).into_iter().zip(pgrads) {
            dict.set_item(name, convert::to_numpy_shaped(py, g, &shape)?)?;
        }
        param_grads.append(dict)?;
    }
    let result = PyDict::new(py);
    result.set_item("objective", trace.objective)?;
    result.set_item("outputs", outputs)?;
    result.set_item("output_grads", output_grads)?;
    result.set_item("param_grads", param_grads)?;
    Ok(result)
}

fn optimizer_dict<'py>(py: Python<'py>, optimizer: &Optimizer) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("kind", optimizer.kind())?;
    dict.set_item("lr", optimizer.lr())?;
    match *optimizer {
        Optimizer::Sgd { momentum, nesterov, .. } => {
            dict.set_item("momentum", momentum)?;
            dict.set_item("nesterov", nesterov)?;
        }
        Optimizer::Adam { beta1, beta2, eps, .. } => {
            dict.set_item("beta1", beta1)?;
            dict.set_item("beta2", beta2)?;
            dict.set_item("eps", eps)?;
        }
        Optimizer::RmsProp { rho, eps, .. } => {
            dict.set_item("rho", rho)?;
            dict.set_item("eps", eps)?;
        }
    }
    Ok(dict)
}

/// Counters, optimizer configuration and the optimizer's per-parameter state ("first"/"second" arrays of the
/// parameter's shape; absent when the optimizer does not use them or has not run yet).
fn state_impl<'py, T: Real + Element>(py: Python<'py>, net: &Network<T>) -> PyResult<Bound<'py, PyDict>> {
    let state = PyDict::new(py);
    state.set_item("step", net.step)?;
    state.set_item("updates", net.updates)?;
    state.set_item("epochs", net.epochs)?;
    match &net.optimizer {
        Some(optimizer) => state.set_item("optimizer", optimizer_dict(py, optimizer)?)?,
        None => state.set_item("optimizer", py.None())?,
    }
    let slots = PyList::empty(py);
    for layer in &net.layers {
        let dict = PyDict::new(py);
        for ((name, shape), (_, param)) in layer_arrays(layer).into_iter().zip(layer.params()) {
            let entry = PyDict::new(py);
            if !param.slots.first.is_empty() {
                entry.set_item("first", convert::to_numpy_shaped(py, param.slots.first.clone(), &shape)?)?;
            }
            if !param.slots.second.is_empty() {
                entry.set_item("second", convert::to_numpy_shaped(py, param.slots.second.clone(), &shape)?)?;
            }
            dict.set_item(name, entry)?;
        }
        slots.append(dict)?;
    }
    state.set_item("slots", slots)?;
    Ok(state)
}

fn set_state_impl<T: Real + Element>(net: &mut Network<T>, state: &Bound<'_, PyDict>) -> PyResult<()> {
    let step: u64 = get(state, "step", "state")?;
    let updates: u64 = get(state, "updates", "state")?;
    let epochs: u64 = get(state, "epochs", "state")?;
    let optimizer = match state.get_item("optimizer")? {
        Some(value) if !value.is_none() => {
            Some(parse_optimizer(value.cast::<PyDict>().map_err(|_| PyTypeError::new_err("state['optimizer'] must be a dict"))?)?)
        }
        _ => None,
    };
    let slots_value = state.get_item("slots")?.ok_or_else(|| PyValueError::new_err("state needs a 'slots' entry"))?;
    let slots = slots_value.cast::<PyList>().map_err(|_| PyTypeError::new_err("state['slots'] must be a list"))?;
    if slots.len() != net.layers.len() {
        return Err(PyValueError::new_err(format!(
            "state['slots'] must hold one dict per layer ({}); got {}",
            net.layers.len(),
            slots.len()
        )));
    }
    // Read and check everything before changing anything.
    let mut staged: Vec<Vec<(Vec<T>, Vec<T>)>> = Vec::new();
    for (index, (layer, item)) in net.layers.iter().zip(slots.iter()).enumerate() {
        let dict = item.cast::<PyDict>().map_err(|_| PyTypeError::new_err(format!("state['slots'][{index}] must be a dict")))?;
        let mut layer_slots = Vec::new();
        for (name, shape) in layer_arrays(layer).into_iter().take(layer.params().len()) {
            let entry = match dict.get_item(name)? {
                Some(entry) => entry
                    .cast_into::<PyDict>()
                    .map_err(|_| PyTypeError::new_err(format!("state['slots'][{index}][{name:?}] must be a dict")))?,
                None => PyDict::new(state.py()),
            };
            let read = |key: &str| -> PyResult<Vec<T>> {
                match entry.get_item(key)? {
                    None => Ok(Vec::new()),
                    Some(value) => {
                        let what = format!("state['slots'][{index}][{name:?}][{key:?}]");
                        let array = convert::array::<T>(&value, &what)?;
                        if array.shape() != shape.as_slice() {
                            return Err(PyValueError::new_err(format!("{what} must have shape {shape:?}; got {:?}", array.shape())));
                        }
                        let data = buffer::copy_of(convert::slice(&array, &what)?, &what)?;
                        if data.iter().any(|v| !v.is_finite()) {
                            return Err(PyValueError::new_err(format!("{what} contains NaN or infinity")));
                        }
                        Ok(data)
                    }
                }
            };
            layer_slots.push((read("first")?, read("second")?));
        }
        staged.push(layer_slots);
    }
    if let Some(optimizer) = optimizer {
        net.set_optimizer(optimizer)?;
    } else {
        net.optimizer = None;
    }
    for (layer, layer_slots) in net.layers.iter_mut().zip(staged) {
        for ((_, param), (first, second)) in layer.params_mut().zip(layer_slots) {
            param.slots.first = first;
            param.slots.second = second;
        }
    }
    net.step = step;
    net.updates = updates;
    net.epochs = epochs;
    Ok(())
}

#[pymethods]
impl PyNetwork {
    #[new]
    #[pyo3(signature = (input_dim, layers, loss, l1, l2, seed, dtype, penalty_per_sample = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        input_dim: usize,
        layers: Vec<Bound<'_, PyDict>>,
        loss: &str,
        l1: f64,
        l2: f64,
        seed: u64,
        dtype: &str,
        penalty_per_sample: bool,
    ) -> PyResult<Self> {
        let spec = NetworkSpec {
            input_dim,
            layers: layers.iter().map(parse_layer).collect::<PyResult<_>>()?,
            loss: Loss::from_name(loss)?,
            l1,
            l2,
            penalty_per_sample,
            seed,
        };
        let engine = match Dtype::from_name(dtype)? {
            Dtype::F32 => Engine::F32(Network::new(&spec)?),
            Dtype::F64 => Engine::F64(Network::new(&spec)?),
        };
        Ok(PyNetwork { engine })
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        with_net!(&self.engine, net => net_dtype(net))
    }

    #[getter]
    fn n_params(&self) -> usize {
        with_net!(&self.engine, net => net.n_params())
    }

    #[getter]
    fn input_dim(&self) -> usize {
        with_net!(&self.engine, net => net.input_dim)
    }

    #[getter]
    fn output_dim(&self) -> usize {
        with_net!(&self.engine, net => net.output_dim())
    }

    /// Whether the last activation is computed by the loss on the logits.
    #[getter]
    fn fused_head(&self) -> bool {
        with_net!(&self.engine, net => net.fused_head)
    }

    /// Updates made in the model's life (keys dropout masks).
    #[getter]
    fn step(&self) -> u64 {
        with_net!(&self.engine, net => net.step)
    }

    /// Updates made with the current optimizer state (Adam's step count).
    #[getter]
    fn updates(&self) -> u64 {
        with_net!(&self.engine, net => net.updates)
    }

    /// Epochs trained in the model's life (keys the shuffle).
    #[getter]
    fn epochs(&self) -> u64 {
        with_net!(&self.engine, net => net.epochs)
    }

    /// Restore the counters (loading a saved model).
    fn set_counters(&mut self, step: u64, updates: u64, epochs: u64) {
        with_net!(&mut self.engine, net => {
            net.step = step;
            net.updates = updates;
            net.epochs = epochs;
        })
    }

    /// The penalty at the current weights (for a set of total sample weight `total` when it is per sample).
    #[pyo3(signature = (total = 1.0))]
    fn penalty(&self, total: f64) -> f64 {
        with_net!(&self.engine, net => net.penalty(total))
    }

    #[pyo3(signature = (x, training = false, logits_only = false))]
    fn forward<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, training: bool, logits_only: bool) -> PyResult<Bound<'py, PyAny>> {
        with_net!(&self.engine, net => forward_impl(py, net, x, training, logits_only))
    }

    /// (objective, correct count) in inference mode.
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn evaluate<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, f64)> {
        with_net!(&mut self.engine, net => batch_call(py, net, x, y, sample_weight, |net, batch| net.evaluate(batch)))
    }

    /// (objective, gradients per layer as dicts) in training mode, without updating anything.
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn gradients<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, Bound<'py, PyList>)> {
        with_net!(&mut self.engine, net => gradients_impl(py, net, x, y, sample_weight))
    }

    /// One update; returns (objective before the update, correct count). A non-finite loss raises
    /// FloatingPointError and changes nothing.
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn train_step<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, f64)> {
        let result = with_net!(&mut self.engine, net => batch_call(py, net, x, y, sample_weight, |net, batch| net.train_step(batch)))?;
        if !result.objective.is_finite() {
            return Err(pyo3::exceptions::PyFloatingPointError::new_err(format!(
                "the loss became {}; the update was not applied",
                result.objective
            )));
        }
        Ok((result.objective, result.correct))
    }

    /// Use this optimizer from now on (state kept if only hyperparameters changed). `reset` starts fresh state.
    #[pyo3(signature = (config, reset = false))]
    fn set_optimizer(&mut self, config: &Bound<'_, PyDict>, reset: bool) -> PyResult<()> {
        let optimizer = parse_optimizer(config)?;
        with_net!(&mut self.engine, net => {
            if reset {
                net.reset_optimizer_state();
            }
            net.set_optimizer(optimizer)?;
        });
        Ok(())
    }

    fn begin_epoch(&mut self, rows: usize, batch_size: usize, shuffle: bool) -> PyResult<()> {
        with_net!(&mut self.engine, net => net.begin_epoch(rows, batch_size, shuffle))?;
        Ok(())
    }

    /// Train the current epoch for about `seconds`. Returns (done, rows seen, batches, Σ objective·rows,
    /// correct, divergence) where divergence is None or (batch index, loss value): the loss stopped being
    /// finite and the weights were put back as they were at the start of the epoch.
    #[allow(clippy::type_complexity)]
    fn train_chunk(
        &mut self,
        py: Python<'_>,
        data: &PyDataset,
        seconds: f64,
    ) -> PyResult<(bool, usize, usize, f64, f64, Option<(usize, f64)>)> {
        let budget = Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
        let outcome = match (&mut self.engine, &data.data) {
            (Engine::F32(net), AnyDataset::F32(d)) => py.detach(|| threads::install(|| net.train_chunk(d, budget)))?,
            (Engine::F64(net), AnyDataset::F64(d)) => py.detach(|| threads::install(|| net.train_chunk(d, budget)))?,
            _ => return Err(PyTypeError::new_err("the dataset's dtype differs from the model's")),
        };
        match outcome {
            Ok(r) => Ok((r.done, r.seen, r.batches, r.loss_sum, r.correct, None)),
            Err(crate::error::Error::NonFinite { batch, value, .. }) => Ok((true, 0, batch, f64::NAN, 0.0, Some((batch, value)))),
            Err(error) => Err(error.into()),
        }
    }

    /// Stop the current epoch where it is (the weights stay as trained so far).
    fn stop_epoch(&mut self) {
        with_net!(&mut self.engine, net => net.stop_epoch())
    }

    /// Layer outputs, d loss / d output per layer and parameter gradients on a batch in training mode (no update).
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn trace<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        with_net!(&mut self.engine, net => trace_impl(py, net, x, y, sample_weight))
    }

    /// The training state beyond the weights (counters, optimizer and its state), for saving and resuming.
    fn get_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        with_net!(&self.engine, net => state_impl(py, net))
    }

    fn set_state(&mut self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        with_net!(&mut self.engine, net => set_state_impl(net, state))
    }

    fn get_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        with_net!(&self.engine, net => weights_impl(py, net))
    }

    fn set_weights(&mut self, weights: &Bound<'_, PyList>) -> PyResult<()> {
        with_net!(&mut self.engine, net => set_weights_impl(net, weights))
    }
}

fn net_dtype<T: Real>(_: &Network<T>) -> &'static str {
    T::NAME
}

enum AnyDataset {
    F32(Dataset<f32>),
    F64(Dataset<f64>),
}

/// A training set copied once into engine memory in the model's dtype.
#[pyclass(name = "Dataset", module = "ferronet._core", frozen)]
pub struct PyDataset {
    data: AnyDataset,
}

fn dataset_impl<T: Real + Element>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    use_labels: bool,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<Dataset<T>> {
    let x = convert::array::<T>(x, "X")?;
    let (rows, cols) = convert::matrix_shape(&x, "X")?;
    let x_data = convert::slice(&x, "X")?;
    let targets = OwnedTargets::<T>::extract(y, use_labels)?;
    let weights = convert::weights::<T>(sample_weight)?;
    let weights = weights.as_ref().map(|w| convert::slice(w, "sample_weight")).transpose()?;
    let target_cols = match &targets {
        OwnedTargets::Dense(array) => match array.shape() {
            [_, k] => *k,
            [_] => 1,
            other => return Err(PyValueError::new_err(format!("y must be 1-D or 2-D; got shape {other:?}"))),
        },
        OwnedTargets::Labels(_) => 1,
    };
    let targets = targets.view()?;
    compute(py, || {
        let target_data = match targets {
            crate::kernels::loss::Targets::Labels(labels) => TargetData::Labels(buffer::copy_of(labels, "y")?),
            crate::kernels::loss::Targets::Dense(values) => TargetData::Dense { values: buffer::copy_of(values, "y")?, cols: target_cols },
        };
        let weights = weights.map(|w| buffer::copy_of(w, "sample_weight")).transpose()?;
        Dataset::copy_from(x_data, rows, cols, target_data, weights)
    })
}

#[pymethods]
impl PyDataset {
    /// `Dataset(X, y, use_labels, sample_weight=None)`: X a C-contiguous float32/float64 matrix; y int64 labels
    /// when `use_labels`, else a float matrix of X's dtype.
    #[new]
    #[pyo3(signature = (x, y, use_labels, sample_weight = None))]
    fn new(
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        use_labels: bool,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let data = by_dtype!(Dtype::of(x, "X")?, T => {
            let dataset = dataset_impl::<T>(py, x, y, use_labels, sample_weight)?;
            wrap_dataset(dataset)
        });
        Ok(PyDataset { data })
    }

    #[getter]
    fn rows(&self) -> usize {
        match &self.data {
            AnyDataset::F32(d) => d.rows,
            AnyDataset::F64(d) => d.rows,
        }
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        match &self.data {
            AnyDataset::F32(_) => "float32",
            AnyDataset::F64(_) => "float64",
        }
    }
}

trait IntoAnyDataset {
    fn wrap(self) -> AnyDataset;
}

impl IntoAnyDataset for Dataset<f32> {
    fn wrap(self) -> AnyDataset {
        AnyDataset::F32(self)
    }
}

impl IntoAnyDataset for Dataset<f64> {
    fn wrap(self) -> AnyDataset {
        AnyDataset::F64(self)
    }
}

fn wrap_dataset(dataset: impl IntoAnyDataset) -> AnyDataset {
    dataset.wrap()
}
