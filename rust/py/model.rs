//! `ferronet._core.Model`: a model (network + trainer) behind one Python object. Arguments arrive validated by
//! `python/ferronet`; this file converts them (NumPy arrays to slices, JSON to configs) and hands them to the
//! engine, which checks its own invariants. Heavy calls release the GIL and run on the engine's thread pool.

use std::collections::BTreeMap;
use std::time::Duration;

use numpy::PyUntypedArrayMethods;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::buffer;
use crate::model::file::{self, LoadedFile};
use crate::model::state::{OwnedTensors, TrainingMeta, layer_tensors};
use crate::model::{AnyModel, Model, ModelConfig, OptimizerConfig};
use crate::network::Batch;
use crate::py::cell::ModelCell;
use crate::py::convert::{self, OwnedTargets};
use crate::py::dataset::PyDataset;
use crate::py::dtype::{self, Float, with_dtype};
use crate::py::report::PyChunkReport;
use crate::py::run;
use crate::threads::Work;

#[pyclass(name = "Model", module = "ferronet._core", frozen)]
pub struct PyModel {
    cell: ModelCell,
    /// Fixed when the model is made.
    dtype: dtype::Dtype,
}

impl PyModel {
    fn wrap(model: AnyModel) -> Self {
        PyModel { dtype: dtype::of_model(&model), cell: ModelCell::new(model) }
    }
}

/// Run engine work without the GIL, on the compute pool; Ctrl-C stops it.
fn compute<R: Send>(py: Python<'_>, work: impl FnOnce() -> crate::error::Result<R> + Send) -> PyResult<R> {
    run::interruptible(py, Work::Compute, work)
}

fn typed<T: Float>(model: &AnyModel) -> PyResult<&Model<T>> {
    T::model(model).ok_or_else(|| PyTypeError::new_err("the model's dtype changed"))
}

fn typed_mut<T: Float>(model: &mut AnyModel) -> PyResult<&mut Model<T>> {
    T::model_mut(model).ok_or_else(|| PyTypeError::new_err("the model's dtype changed"))
}

fn optimizer_of(json: &str) -> PyResult<crate::optim::Optimizer> {
    Ok(OptimizerConfig::from_json(json)?.optimizer()?)
}

fn json_of<V: serde::Serialize>(value: &V) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// How a call on a batch runs: interruptible on the compute pool (evaluate, gradients), or to its end on the
/// training pool (a training step updates the parameters in place).
#[derive(Clone, Copy, PartialEq, Eq)]
enum BatchCall {
    Inspect,
    Update,
}

/// A batch handed in from Python, borrowed for the call.
fn with_batch<'py, T: Float, R: Send>(
    py: Python<'py>,
    call: BatchCall,
    model: &mut Model<T>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    work: impl FnOnce(&mut Model<T>, &Batch<'_, T>) -> crate::error::Result<R> + Send,
) -> PyResult<R> {
    let x = convert::FeaturesArg::<T>::extract(x, "X")?;
    let rows = x.rows();
    let x = x.slices("X")?;
    let targets = OwnedTargets::<T>::extract(y, model.network.loss.uses_labels())?;
    let weights = convert::weights::<T>(sample_weight)?;
    let targets = targets.view()?;
    let weights = weights.as_ref().map(|w| convert::slice(w, "sample_weight")).transpose()?;
    let macs = rows.saturating_mul(model.network.n_params());
    let work = || {
        let index = x.checked_index("X")?;
        let batch = Batch { x: x.features(index.as_ref())?, rows, targets, weights };
        work(model, &batch)
    };
    match call {
        BatchCall::Inspect => run::compute_sized(py, macs, work),
        BatchCall::Update => run::uninterruptible(py, Work::Training, work),
    }
}

/// Per layer, a dict of its tensors (copies), from named tensors `layers.{i}.{name}` or `optimizer...`.
fn layer_dicts<'py, T: Float>(
    py: Python<'py>,
    model: &Model<T>,
    values: impl Fn(usize, &str) -> Option<Vec<T>>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (index, layer) in model.network.layers.iter().enumerate() {
        let dict = PyDict::new(py);
        for (name, shape) in layer_tensors(layer).0 {
            if let Some(data) = values(index, name) {
                dict.set_item(name, convert::to_numpy_shaped(py, data, &shape)?)?;
            }
        }
        list.append(dict)?;
    }
    Ok(list)
}

fn copy_of<T: Copy>(data: &[T]) -> Option<Vec<T>> {
    buffer::copy_of(data, "a copy of the parameters").ok()
}

/// `weights[i][name]` arrays as named tensors `layers.{i}.{name}`.
fn tensors_from_layers<T: Float>(weights: &Bound<'_, PyList>) -> PyResult<OwnedTensors<T>> {
    let mut owned = OwnedTensors::default();
    for (index, item) in weights.iter().enumerate() {
        let dict = item.cast::<PyDict>().map_err(|_| PyTypeError::new_err(format!("weights[{index}] must be a dict")))?;
        for (key, value) in dict.iter() {
            let name: String = key.extract().map_err(|_| PyTypeError::new_err(format!("weights[{index}] keys must be strings")))?;
            let what = format!("weights[{index}][{name:?}]");
            let array = convert::array::<T>(&value, &what)?;
            let data = buffer::copy_of(convert::slice(&array, &what)?, &what)?;
            owned.tensors.insert(format!("layers.{index}.{name}"), (array.shape().to_vec(), data));
        }
    }
    Ok(owned)
}

fn tensors_from_dict<T: Float>(tensors: &Bound<'_, PyDict>) -> PyResult<OwnedTensors<T>> {
    let mut owned = OwnedTensors::default();
    for (key, value) in tensors.iter() {
        let name: String = key.extract().map_err(|_| PyTypeError::new_err("state tensor names must be strings"))?;
        let what = format!("tensor {name:?}");
        let array = convert::array::<T>(&value, &what)?;
        let data = buffer::copy_of(convert::slice(&array, &what)?, &what)?;
        owned.tensors.insert(name, (array.shape().to_vec(), data));
    }
    Ok(owned)
}

fn file_bytes<'py>(py: Python<'py>, data: Vec<u8>) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &data)
}

impl PyModel {
    fn dtype(&self) -> dtype::Dtype {
        self.dtype
    }
}

#[pymethods]
impl PyModel {
    /// `Model(config_json)`: a new model with fresh parameters; the config must give `input_dim`.
    #[new]
    fn new(py: Python<'_>, config: &str) -> PyResult<Self> {
        let config = ModelConfig::from_json(config)?;
        Ok(PyModel::wrap(compute(py, || AnyModel::build(config))?))
    }

    /// In a forked child: take over a lock a thread of the parent held, abandoning the fit it was running.
    fn after_fork(&self) {
        self.cell.after_fork();
    }

    /// An independent copy: parameters, optimizer and its state, counters.
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        let guard = self.cell.lock(py);
        let model = with_dtype!(self.dtype(), T => {
            let source = typed::<T>(&guard)?;
            T::wrap_model(compute(py, || source.try_clone())?)
        });
        Ok(PyModel::wrap(model))
    }

    #[getter]
    fn input_dim(&self, py: Python<'_>) -> usize {
        let guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => T::model(&guard).map_or(0, |m| m.network.input_dim))
    }

    #[getter]
    fn output_dim(&self, py: Python<'_>) -> usize {
        let guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => T::model(&guard).map_or(0, |m| m.network.output_dim()))
    }

    #[getter]
    fn n_params(&self, py: Python<'_>) -> usize {
        let guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => T::model(&guard).map_or(0, |m| m.network.n_params()))
    }

    /// The model config as JSON.
    #[getter]
    fn config(&self, py: Python<'_>) -> PyResult<String> {
        let guard = self.cell.lock(py);
        Ok(guard.config().to_json()?)
    }

    /// {"step", "updates", "epochs", "optimizer_epochs"}: updates in the model's life (they key the dropout
    /// masks), updates and epochs with the current optimizer state, epochs in the model's life (they key the
    /// shuffle).
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.cell.lock(py);
        let (counters, opt_updates, opt_epochs) = with_dtype!(self.dtype(), T => {
            let m = typed::<T>(&guard)?;
            (m.trainer.counters, m.trainer.opt.updates, m.trainer.opt.epochs)
        });
        let dict = PyDict::new(py);
        dict.set_item("step", counters.step)?;
        dict.set_item("updates", opt_updates)?;
        dict.set_item("epochs", counters.epochs)?;
        dict.set_item("optimizer_epochs", opt_epochs)?;
        Ok(dict)
    }

    /// The optimizer as configured (JSON), or None.
    #[getter]
    fn optimizer(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let guard = self.cell.lock(py);
        let configured = with_dtype!(self.dtype(), T => typed::<T>(&guard)?.trainer.opt.configured);
        configured.map(|o| json_of(&OptimizerConfig::of(o))).transpose()
    }

    /// The learning rate the next updates use (None without an optimizer).
    #[getter]
    fn lr(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        let guard = self.cell.lock(py);
        Ok(with_dtype!(self.dtype(), T => typed::<T>(&guard)?.trainer.opt.in_use().map(|o| o.lr())))
    }

    /// The last layer's output; `training` uses the current masks and batch statistics (nothing is updated).
    fn forward<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, training: bool, logits_only: bool) -> PyResult<Bound<'py, PyAny>> {
        let guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let model = typed::<T>(&guard)?;
            let x = convert::FeaturesArg::<T>::extract(x, "X")?;
            let rows = x.rows();
            let x = x.slices("X")?;
            let step = model.trainer.counters.step;
            let macs = rows.saturating_mul(model.network.n_params());
            let out = run::compute_sized(py, macs, || {
                let index = x.checked_index("X")?;
                model.network.forward(x.features(index.as_ref())?, rows, training, step, logits_only)
            })?;
            convert::to_numpy_matrix(py, out, rows, model.network.output_dim())
        })
    }

    /// (objective, correct count) in inference mode.
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, f64)> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => with_batch(py, BatchCall::Inspect, typed_mut::<T>(&mut guard)?, x, y, sample_weight, |m, batch| m.network.evaluate(batch)))
    }

    /// (objective, gradients per layer as dicts) in training mode, without updating anything.
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn gradients<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, Bound<'py, PyList>)> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let model = typed_mut::<T>(&mut guard)?;
            let (objective, grads) = with_batch(py, BatchCall::Inspect, model, x, y, sample_weight, |m, batch| m.trainer.gradients(&mut m.network, batch))?;
            let list = layer_dicts(py, model, |index, name| {
                let position = layer_tensors(model.network.layers.get(index)?).0.iter().position(|(n, _)| *n == name)?;
                grads.get(index)?.get(position).cloned()
            })?;
            Ok((objective, list))
        })
    }

    /// Layer outputs, d loss / d output per layer and parameter gradients on a batch in training mode.
    #[pyo3(signature = (x, y, sample_weight = None))]
    fn trace<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let model = typed_mut::<T>(&mut guard)?;
            let rows = convert::FeaturesArg::<T>::extract(x, "X")?.rows();
            let trace = with_batch(py, BatchCall::Inspect, model, x, y, sample_weight, |m, batch| m.trainer.trace(&mut m.network, batch))?;
            let (outputs, output_grads) = (PyList::empty(py), PyList::empty(py));
            for ((layer, out), grad) in model.network.layers.iter().zip(trace.outputs).zip(trace.output_grads) {
                outputs.append(convert::to_numpy_matrix(py, out, rows, layer.out_dim())?)?;
                output_grads.append(convert::to_numpy_matrix(py, grad, rows, layer.out_dim())?)?;
            }
            let param_grads = layer_dicts(py, model, |index, name| {
                let position = layer_tensors(model.network.layers.get(index)?).0.iter().position(|(n, _)| *n == name)?;
                trace.param_grads.get(index)?.get(position).cloned()
            })?;
            let result = PyDict::new(py);
            result.set_item("objective", trace.objective)?;
            result.set_item("outputs", outputs)?;
            result.set_item("output_grads", output_grads)?;
            result.set_item("param_grads", param_grads)?;
            Ok(result)
        })
    }

    /// Copies of the parameters: one dict per layer ({"W", "b"}, BatchNorm's four arrays, or {}).
    fn get_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let model = typed::<T>(&guard)?;
            let (tensors, _) = model.export(false);
            layer_dicts(py, model, |index, name| {
                let full = format!("layers.{index}.{name}");
                tensors.iter().find(|t| t.name == full).and_then(|t| copy_of(t.data))
            })
        })
    }

    /// Replace the parameters (the structure of `get_weights`), all or nothing.
    fn set_weights(&self, py: Python<'_>, weights: &Bound<'_, PyList>) -> PyResult<()> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let tensors = tensors_from_layers::<T>(weights)?;
            Ok(typed_mut::<T>(&mut guard)?.replace_parameters(&tensors)?)
        })
    }

    /// The state as named tensors (copies) and the rest of it as JSON (counters, optimizer).
    fn state_dict<'py>(&self, py: Python<'py>, include_optimizer: bool) -> PyResult<(Bound<'py, PyDict>, String)> {
        let guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let (tensors, meta) = typed::<T>(&guard)?.export(include_optimizer);
            let dict = PyDict::new(py);
            for tensor in tensors {
                let data = buffer::copy_of(tensor.data, "the state")?;
                dict.set_item(&tensor.name, convert::to_numpy_shaped(py, data, &tensor.shape)?)?;
            }
            Ok((dict, json_of(&meta)?))
        })
    }

    /// Replace the whole state (what `state_dict` returns), all or nothing.
    fn load_state_dict(&self, py: Python<'_>, tensors: &Bound<'_, PyDict>, meta: &str) -> PyResult<()> {
        let mut guard = self.cell.lock(py);
        let meta: TrainingMeta = serde_json::from_str(meta).map_err(|e| PyValueError::new_err(format!("state meta is not valid: {e}")))?;
        with_dtype!(self.dtype(), T => {
            let source = tensors_from_dict::<T>(tensors)?;
            let model = typed_mut::<T>(&mut guard)?;
            let config = model.config.clone();
            let fresh = compute(py, || {
                let mut fresh = Model::<T>::blank(&config)?;
                fresh.import(&source, &meta)?;
                Ok(fresh)
            })?;
            *model = fresh;
            Ok(())
        })
    }

    /// The model as the bytes of a model file.
    /// The model file's bytes; `metadata` adds entries of the caller's own (strings, not the engine's keys).
    #[pyo3(signature = (include_optimizer, metadata = None))]
    fn to_file_bytes<'py>(
        &self,
        py: Python<'py>,
        include_optimizer: bool,
        metadata: Option<BTreeMap<String, String>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let extra = metadata.unwrap_or_default();
        let guard = self.cell.lock(py);
        let data = with_dtype!(self.dtype(), T => {
            let model = typed::<T>(&guard)?;
            compute(py, || model.to_file_bytes(include_optimizer, &extra))?
        });
        Ok(file_bytes(py, data))
    }

    /// The learning rate of the next updates.
    fn set_lr(&self, py: Python<'_>, #[pyo3(from_py_with = convert::real)] lr: f64) -> PyResult<()> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => Ok(typed_mut::<T>(&mut guard)?.trainer.set_lr(lr)?))
    }

    /// One update (optionally with a new optimizer, JSON, installed only if the update succeeds). Returns
    /// (objective before the update, correct count). A non-finite loss raises FloatingPointError and changes
    /// nothing.
    #[pyo3(signature = (x, y, sample_weight = None, optimizer = None, reset = false))]
    fn train_step<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
        optimizer: Option<&str>,
        reset: bool,
    ) -> PyResult<(f64, f64)> {
        let mut guard = self.cell.lock(py);
        let optimizer = optimizer.map(optimizer_of).transpose()?.map(|o| (o, reset));
        let result = with_dtype!(self.dtype(), T => with_batch(py, BatchCall::Update, typed_mut::<T>(&mut guard)?, x, y, sample_weight, |m, batch| {
            m.trainer.train_step(&mut m.network, batch, optimizer)
        }))?;
        Ok((result.objective, result.correct))
    }

    /// Start a fit with `optimizer` (JSON); `reset` starts fresh optimizer state. `end_fit(False)` returns to here.
    fn begin_fit(&self, py: Python<'_>, optimizer: &str, reset: bool) -> PyResult<()> {
        let mut guard = self.cell.lock(py);
        let optimizer = optimizer_of(optimizer)?;
        with_dtype!(self.dtype(), T => {
            let m = typed_mut::<T>(&mut guard)?;
            compute(py, || m.trainer.begin_fit(&m.network, optimizer, reset))
        })
    }

    /// End a fit: keep what it trained (`commit`) or return to the state of `begin_fit`.
    fn end_fit(&self, py: Python<'_>, commit: bool) -> PyResult<()> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let m = typed_mut::<T>(&mut guard)?;
            m.trainer.end_fit(&mut m.network, commit);
        });
        Ok(())
    }

    /// Start an epoch (inside a fit); `first_batch` skips the epoch's batches before it.
    #[pyo3(signature = (dataset, batch_size, shuffle, first_batch = 0))]
    fn begin_epoch(
        &self,
        py: Python<'_>,
        dataset: &PyDataset,
        #[pyo3(from_py_with = convert::count)] batch_size: usize,
        shuffle: bool,
        #[pyo3(from_py_with = convert::count)] first_batch: usize,
    ) -> PyResult<()> {
        let mut guard = self.cell.lock(py);
        with_dtype!(self.dtype(), T => {
            let m = typed_mut::<T>(&mut guard)?;
            let data = T::dataset(&dataset.data).ok_or_else(|| PyTypeError::new_err("the dataset's dtype differs from the model's"))?;
            Ok(m.trainer.begin_epoch(&m.network, data, batch_size, shuffle, first_batch)?)
        })
    }

    /// Train the current epoch for about `seconds`, and at most `max_batches` batches (at least one batch).
    #[pyo3(signature = (dataset, seconds, max_batches = None))]
    fn train_chunk(
        &self,
        py: Python<'_>,
        dataset: &PyDataset,
        #[pyo3(from_py_with = convert::real)] seconds: f64,
        max_batches: Option<usize>,
    ) -> PyResult<PyChunkReport> {
        let mut guard = self.cell.lock(py);
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(PyValueError::new_err(format!("seconds must be a finite number >= 0; got {seconds}")));
        }
        let budget = Duration::from_secs_f64(seconds.min(3600.0));
        let report = with_dtype!(self.dtype(), T => {
            let m = typed_mut::<T>(&mut guard)?;
            let data = T::dataset(&dataset.data).ok_or_else(|| PyTypeError::new_err("the dataset's dtype differs from the model's"))?;
            run::interruptible(py, Work::Training, || m.trainer.train_chunk(&mut m.network, data, budget, max_batches))?
        });
        Ok(report.into())
    }
}

/// What `read_model_file` returns: config JSON, the model (None when saved unbuilt), the optimizer as
/// configured (JSON or None) and the metadata entries that are not the engine's.
type ReadFile = (String, Option<PyModel>, Option<String>, BTreeMap<String, String>);

/// Read a model file's bytes (see `ReadFile`). Errors name the file as `source`.
#[pyfunction]
pub fn read_model_file(py: Python<'_>, data: &[u8], source: &str) -> PyResult<ReadFile> {
    loaded(compute(py, || file::read(data, source))?)
}

/// Read a model file from an open file descriptor (Python keeps it open for the call): the tensors go straight
/// from the file into the model, so the file's bytes are never all in memory.
#[pyfunction]
pub fn read_model_fd(py: Python<'_>, #[pyo3(from_py_with = convert::descriptor)] fd: i32, source: &str) -> PyResult<ReadFile> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(PyValueError::new_err(format!("fd must be an open file descriptor; got {fd}")));
    }
    // SAFETY: the caller passes the descriptor of a file it holds open for the length of this call; it is only
    // duplicated here (the duplicate is closed when `file` drops).
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .map_err(|e| PyValueError::new_err(format!("fd must be an open file descriptor; got {fd} ({e})")))?;
    let file = std::fs::File::from(owned);
    loaded(compute(py, || file::read_file(&file, source))?)
}

fn loaded(file: LoadedFile) -> PyResult<ReadFile> {
    let LoadedFile { config, model, optimizer, extra } = file;
    Ok((config.to_json()?, model.map(PyModel::wrap), optimizer.map(|o| json_of(&o)).transpose()?, extra))
}

/// The model file of a model that is not built yet (its config only).
#[pyfunction]
pub fn unbuilt_model_file<'py>(py: Python<'py>, config: &str) -> PyResult<Bound<'py, PyBytes>> {
    let config = ModelConfig::from_json(config)?;
    config.validate()?;
    Ok(file_bytes(py, file::unbuilt_to_file_bytes(&config)?))
}
