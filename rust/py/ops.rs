//! `ferronet._core` functional kernels: each engine kernel on NumPy arrays, under the kernel's own name
//! (`fnet.ops.relu_backward` → here → `kernels::activation::relu_backward`). `python/ferronet/ops.py` validates
//! and converts the arguments (one float dtype, C-contiguous); the checks here only keep calls from crashing.

use ndarray::Array2;
use numpy::{Element, IntoPyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::kernels::activation::{self, Activation};
use crate::kernels::loss::{Loss, Targets};
use crate::kernels::{batchnorm, dense, dropout, penalty, sparse};
use crate::network::Features;
use crate::network::layer::view;
use crate::optim::{adam, rmsprop, sgd};
use crate::py::convert;
use crate::py::dtype::{self, with_dtype};
use crate::py::run;
use crate::scalar::Real;
use crate::threads::Work;
use crate::{buffer, rng};

type Any<'py> = Bound<'py, PyAny>;

/// A 2-D float array with its data and shape.
struct Mat<'py, T: Element> {
    array: PyReadonlyArrayDyn<'py, T>,
    rows: usize,
    cols: usize,
}

impl<'py, T: Real + Element> Mat<'py, T> {
    fn new(value: &Any<'py>, what: &str) -> PyResult<Self> {
        let array = convert::array::<T>(value, what)?;
        let (rows, cols) = convert::matrix_shape(&array, what)?;
        convert::slice(&array, what)?;
        Ok(Mat { array, rows, cols })
    }

    fn data(&self) -> &[T] {
        self.array.as_slice().unwrap_or(&[])
    }
}

/// A 1-D float array's data.
fn vector<'py, T: Real + Element>(value: &Any<'py>, what: &str, len: usize) -> PyResult<Vec<T>> {
    let array = convert::array::<T>(value, what)?;
    if array.shape() != [len] {
        return Err(PyValueError::new_err(format!("{what} must have shape ({len},); got {:?}", array.shape())));
    }
    Ok(buffer::copy_of(convert::slice(&array, what)?, what)?)
}

/// Any float array's data and shape (element-wise kernels).
fn elements<'py, T: Real + Element>(value: &Any<'py>, what: &str) -> PyResult<(Vec<T>, Vec<usize>)> {
    let array = convert::array::<T>(value, what)?;
    Ok((buffer::copy_of(convert::slice(&array, what)?, what)?, array.shape().to_vec()))
}

fn same_shape(a: &[usize], b: &[usize], what: &str) -> PyResult<()> {
    if a == b { Ok(()) } else { Err(PyValueError::new_err(format!("{what} must have shape {a:?}; got {b:?}"))) }
}

/// A zero matrix allocated fallibly (MemoryError instead of an abort).
fn zeros_matrix<T: Real>(rows: usize, cols: usize, what: &str) -> PyResult<Array2<T>> {
    let data = buffer::zeros(buffer::area(rows, cols, what)?, what)?;
    Array2::from_shape_vec((rows, cols), data).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn matrix<'py, T: Real + Element>(py: Python<'py>, data: Vec<T>, rows: usize, cols: usize) -> PyResult<Any<'py>> {
    convert::to_numpy_matrix(py, data, rows, cols)
}

// ---- dense ----------------------------------------------------------------------------------------------

#[pyfunction]
fn dense_forward<'py>(py: Python<'py>, x: &Any<'py>, w: &Any<'py>, b: &Any<'py>) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(x, "x")?, T => {
        let (x, w) = (Mat::<T>::new(x, "x")?, Mat::<T>::new(w, "W")?);
        let b = vector::<T>(b, "b", w.cols)?;
        let mut out = zeros_matrix::<T>(x.rows, w.cols, "the output")?;
        let (xv, wv) = (view(x.data(), x.rows, x.cols)?, view(w.data(), w.rows, w.cols)?);
        let macs = x.rows.saturating_mul(w.rows).saturating_mul(w.cols);
        run::compute_sized(py, macs, || dense::dense_forward(xv, wv, &b, Activation::Linear, out.view_mut()))?;
        Ok(out.into_pyarray(py).into_any())
    })
}

#[pyfunction]
fn dense_backward<'py>(py: Python<'py>, x: &Any<'py>, w: &Any<'py>, dz: &Any<'py>) -> PyResult<(Any<'py>, Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(x, "x")?, T => {
        let (x, w, dz) = (Mat::<T>::new(x, "x")?, Mat::<T>::new(w, "W")?, Mat::<T>::new(dz, "dz")?);
        let mut dx = zeros_matrix::<T>(x.rows, x.cols, "dx")?;
        let mut dw = zeros_matrix::<T>(w.rows, w.cols, "dW")?;
        let mut db = buffer::zeros::<T>(w.cols, "db")?;
        let (xv, wv, dzv) = (view(x.data(), x.rows, x.cols)?, view(w.data(), w.rows, w.cols)?, view(dz.data(), dz.rows, dz.cols)?);
        let macs = 2usize.saturating_mul(x.rows).saturating_mul(w.rows).saturating_mul(w.cols);
        run::compute_sized(py, macs, || dense::dense_backward(xv, wv, dzv, dx.view_mut(), dw.view_mut(), &mut db))?;
        Ok((dx.into_pyarray(py).into_any(), dw.into_pyarray(py).into_any(), convert::to_numpy_vector(py, db)))
    })
}

// ---- sparse × dense ---------------------------------------------------------------------------------------

/// A sparse x (CSR parts), its index converted and checked with its values, for one kernel call.
fn sparse_x<'py, T: Real + Element>(x: &Any<'py>) -> PyResult<convert::FeaturesArg<'py, T>> {
    let x = convert::FeaturesArg::<T>::extract(x, "x")?;
    if matches!(x, convert::FeaturesArg::Dense { .. }) {
        return Err(pyo3::exceptions::PyTypeError::new_err("x must be a CSR matrix (data, indices, indptr, shape)"));
    }
    Ok(x)
}

#[pyfunction]
fn sparse_dense_forward<'py>(py: Python<'py>, x: &Any<'py>, w: &Any<'py>, b: &Any<'py>) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(&convert::dtype_source(x, "x")?, "x")?, T => {
        let (x, w) = (sparse_x::<T>(x)?, Mat::<T>::new(w, "W")?);
        let b = vector::<T>(b, "b", w.cols)?;
        if w.rows != x.cols() {
            return Err(PyValueError::new_err(format!("W has {} rows but x has {} columns", w.rows, x.cols())));
        }
        let mut out = zeros_matrix::<T>(x.rows(), w.cols, "the output")?;
        let (parts, wd) = (x.slices("x")?, w.data());
        let out_data = out.as_slice_mut().ok_or_else(|| PyValueError::new_err("output is not contiguous"))?;
        run::interruptible(py, Work::Compute, || {
            let index = parts.checked_index("x")?;
            let Features::Sparse(view) = parts.features(index.as_ref())? else { return Ok(()) };
            sparse::sparse_dense_forward(view, wd, &b, Activation::Linear, out_data)
        })?;
        Ok(out.into_pyarray(py).into_any())
    })
}

#[pyfunction]
fn sparse_dense_weight_grads<'py>(py: Python<'py>, x: &Any<'py>, dz: &Any<'py>) -> PyResult<(Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(&convert::dtype_source(x, "x")?, "x")?, T => {
        let (x, dz) = (sparse_x::<T>(x)?, Mat::<T>::new(dz, "dz")?);
        if dz.rows != x.rows() {
            return Err(PyValueError::new_err(format!("dz has {} rows but x has {} rows", dz.rows, x.rows())));
        }
        let mut dw = zeros_matrix::<T>(x.cols(), dz.cols, "dW")?;
        let mut db = buffer::zeros::<T>(dz.cols, "db")?;
        let (parts, dzd) = (x.slices("x")?, dz.data());
        let dw_data = dw.as_slice_mut().ok_or_else(|| PyValueError::new_err("dW is not contiguous"))?;
        run::interruptible(py, Work::Compute, || {
            let index = parts.checked_index("x")?;
            let Features::Sparse(view) = parts.features(index.as_ref())? else { return Ok(()) };
            sparse::sparse_dense_weight_grads(view, dzd, dw_data, &mut db, &mut sparse::Transpose::default())
        })?;
        Ok((dw.into_pyarray(py).into_any(), convert::to_numpy_vector(py, db)))
    })
}

// ---- activations ----------------------------------------------------------------------------------------

fn last_dim(shape: &[usize]) -> usize {
    shape.last().copied().unwrap_or(1)
}

fn act_forward<'py>(py: Python<'py>, z: &Any<'py>, act: Activation, slope: Option<f64>) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(z, "z")?, T => {
        let (mut data, shape) = elements::<T>(z, "z")?;
        if act == Activation::Softmax && shape.len() != 2 {
            return Err(PyValueError::new_err(format!("z must be 2-D for softmax; got shape {shape:?}")));
        }
        match slope {
            Some(slope) => activation::leaky_relu_forward(&mut data, T::of(slope)),
            None => act.forward(&mut data, last_dim(&shape)),
        }
        convert::to_numpy_shaped(py, data, &shape)
    })
}

fn act_backward<'py>(py: Python<'py>, grad: &Any<'py>, output: &Any<'py>, act: Activation, slope: Option<f64>) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(grad, "grad")?, T => {
        let (mut g, shape) = elements::<T>(grad, "grad")?;
        let (y, y_shape) = elements::<T>(output, "output")?;
        same_shape(&shape, &y_shape, "output")?;
        if act == Activation::Softmax && shape.len() != 2 {
            return Err(PyValueError::new_err(format!("grad must be 2-D for softmax; got shape {shape:?}")));
        }
        match slope {
            Some(slope) => activation::leaky_relu_backward(&mut g, &y, T::of(slope)),
            None => act.backward(&mut g, &y, last_dim(&shape)),
        }
        convert::to_numpy_shaped(py, g, &shape)
    })
}

macro_rules! activation_ops {
    ($($forward:ident, $backward:ident => $act:expr;)*) => {
        $(
            #[pyfunction]
            fn $forward<'py>(py: Python<'py>, z: &Any<'py>) -> PyResult<Any<'py>> {
                act_forward(py, z, $act, None)
            }

            #[pyfunction]
            fn $backward<'py>(py: Python<'py>, grad: &Any<'py>, output: &Any<'py>) -> PyResult<Any<'py>> {
                act_backward(py, grad, output, $act, None)
            }
        )*
    };
}

activation_ops! {
    relu_forward, relu_backward => Activation::Relu;
    sigmoid_forward, sigmoid_backward => Activation::Sigmoid;
    tanh_forward, tanh_backward => Activation::Tanh;
    linear_forward, linear_backward => Activation::Linear;
    softmax_forward, softmax_backward => Activation::Softmax;
}

#[pyfunction]
#[pyo3(signature = (z, slope = activation::LEAKY_SLOPE))]
fn leaky_relu_forward<'py>(py: Python<'py>, z: &Any<'py>, #[pyo3(from_py_with = convert::real)] slope: f64) -> PyResult<Any<'py>> {
    act_forward(py, z, Activation::LeakyRelu, Some(slope))
}

#[pyfunction]
#[pyo3(signature = (grad, output, slope = activation::LEAKY_SLOPE))]
fn leaky_relu_backward<'py>(
    py: Python<'py>,
    grad: &Any<'py>,
    output: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] slope: f64,
) -> PyResult<Any<'py>> {
    act_backward(py, grad, output, Activation::LeakyRelu, Some(slope))
}

// ---- losses ---------------------------------------------------------------------------------------------

fn loss_op<'py>(py: Python<'py>, kind: Loss, z: &Any<'py>, y: &Any<'py>, sample_weight: Option<&Any<'py>>) -> PyResult<(f64, Any<'py>)> {
    with_dtype!(dtype::of_array(z, "z")?, T => {
        let z = Mat::<T>::new(z, "z")?;
        let weights = convert::weights::<T>(sample_weight)?;
        let weights = weights.as_ref().map(|w| convert::slice(w, "sample_weight")).transpose()?;
        let mut grad = buffer::zeros::<T>(buffer::area(z.rows, z.cols, "the gradient")?, "the gradient")?;
        let value = if kind.uses_labels() {
            let labels = convert::labels(y, "labels")?;
            kind.loss_and_grad(z.data(), z.cols, Targets::Labels(&labels), weights, &mut grad)?
        } else {
            let target = Mat::<T>::new(y, "target")?;
            if (target.rows, target.cols) != (z.rows, z.cols) {
                return Err(PyValueError::new_err(format!("target must have shape ({}, {}); got ({}, {})", z.rows, z.cols, target.rows, target.cols)));
            }
            kind.loss_and_grad(z.data(), z.cols, Targets::Dense(target.data()), weights, &mut grad)?
        };
        Ok((value.f64(), matrix(py, grad, z.rows, z.cols)?))
    })
}

#[pyfunction]
#[pyo3(signature = (logits, labels, sample_weight = None))]
fn softmax_cross_entropy<'py>(
    py: Python<'py>,
    logits: &Any<'py>,
    labels: &Any<'py>,
    sample_weight: Option<&Any<'py>>,
) -> PyResult<(f64, Any<'py>)> {
    loss_op(py, Loss::SoftmaxCrossEntropy, logits, labels, sample_weight)
}

#[pyfunction]
#[pyo3(signature = (pred, target, sample_weight = None))]
fn mse<'py>(py: Python<'py>, pred: &Any<'py>, target: &Any<'py>, sample_weight: Option<&Any<'py>>) -> PyResult<(f64, Any<'py>)> {
    loss_op(py, Loss::Mse, pred, target, sample_weight)
}

#[pyfunction]
#[pyo3(signature = (logits, target, sample_weight = None))]
fn binary_cross_entropy<'py>(
    py: Python<'py>,
    logits: &Any<'py>,
    target: &Any<'py>,
    sample_weight: Option<&Any<'py>>,
) -> PyResult<(f64, Any<'py>)> {
    loss_op(py, Loss::BinaryCrossEntropy, logits, target, sample_weight)
}

#[pyfunction]
#[pyo3(signature = (scores, labels, sample_weight = None))]
fn hinge<'py>(py: Python<'py>, scores: &Any<'py>, labels: &Any<'py>, sample_weight: Option<&Any<'py>>) -> PyResult<(f64, Any<'py>)> {
    loss_op(py, Loss::Hinge, scores, labels, sample_weight)
}

#[pyfunction]
#[pyo3(signature = (z, target, sample_weight = None))]
fn poisson<'py>(py: Python<'py>, z: &Any<'py>, target: &Any<'py>, sample_weight: Option<&Any<'py>>) -> PyResult<(f64, Any<'py>)> {
    loss_op(py, Loss::Poisson, z, target, sample_weight)
}

// ---- penalty --------------------------------------------------------------------------------------------

#[pyfunction(name = "penalty")]
fn penalty_value(
    w: &Any<'_>,
    #[pyo3(from_py_with = convert::real)] l1: f64,
    #[pyo3(from_py_with = convert::real)] l2: f64,
) -> PyResult<f64> {
    with_dtype!(dtype::of_array(w, "W")?, T => {
        let (data, _) = elements::<T>(w, "W")?;
        Ok(penalty::penalty(&data, T::of(l1), T::of(l2)).f64())
    })
}

#[pyfunction]
fn penalty_grad<'py>(
    py: Python<'py>,
    w: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] l1: f64,
    #[pyo3(from_py_with = convert::real)] l2: f64,
) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(w, "W")?, T => {
        let (data, shape) = elements::<T>(w, "W")?;
        let mut grad = buffer::zeros::<T>(data.len(), "the gradient")?;
        penalty::penalty_grad(&data, T::of(l1), T::of(l2), &mut grad)?;
        convert::to_numpy_shaped(py, grad, &shape)
    })
}

// ---- batch normalization --------------------------------------------------------------------------------

#[pyfunction]
fn batchnorm_forward_train<'py>(
    py: Python<'py>,
    x: &Any<'py>,
    gamma: &Any<'py>,
    beta: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] eps: f64,
) -> PyResult<(Any<'py>, Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(x, "x")?, T => {
        let x = Mat::<T>::new(x, "x")?;
        let (gamma, beta) = (vector::<T>(gamma, "gamma", x.cols)?, vector::<T>(beta, "beta", x.cols)?);
        let n = buffer::area(x.rows, x.cols, "the output")?;
        let (mut y, mut xhat) = (buffer::zeros::<T>(n, "the output")?, buffer::zeros::<T>(n, "the output")?);
        let (mut mean, mut var) = (buffer::zeros::<T>(x.cols, "the statistics")?, buffer::zeros::<T>(x.cols, "the statistics")?);
        batchnorm::batchnorm_forward_train(x.data(), x.cols, &gamma, &beta, T::of(eps), &mut y, &mut xhat, &mut mean, &mut var)?;
        Ok((matrix(py, y, x.rows, x.cols)?, convert::to_numpy_vector(py, mean), convert::to_numpy_vector(py, var)))
    })
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn batchnorm_forward_eval<'py>(
    py: Python<'py>,
    x: &Any<'py>,
    gamma: &Any<'py>,
    beta: &Any<'py>,
    running_mean: &Any<'py>,
    running_var: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] eps: f64,
) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(x, "x")?, T => {
        let x = Mat::<T>::new(x, "x")?;
        let (gamma, beta) = (vector::<T>(gamma, "gamma", x.cols)?, vector::<T>(beta, "beta", x.cols)?);
        let (rm, rv) = (vector::<T>(running_mean, "running_mean", x.cols)?, vector::<T>(running_var, "running_var", x.cols)?);
        let mut y = buffer::zeros::<T>(buffer::area(x.rows, x.cols, "the output")?, "the output")?;
        batchnorm::batchnorm_forward_eval(x.data(), x.cols, &gamma, &beta, &rm, &rv, T::of(eps), &mut y)?;
        matrix(py, y, x.rows, x.cols)
    })
}

#[pyfunction]
fn batchnorm_backward<'py>(
    py: Python<'py>,
    dy: &Any<'py>,
    x: &Any<'py>,
    gamma: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] eps: f64,
) -> PyResult<(Any<'py>, Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(x, "x")?, T => {
        let (x, dy) = (Mat::<T>::new(x, "x")?, Mat::<T>::new(dy, "dy")?);
        if (dy.rows, dy.cols) != (x.rows, x.cols) {
            return Err(PyValueError::new_err(format!("dy must have shape ({}, {}); got ({}, {})", x.rows, x.cols, dy.rows, dy.cols)));
        }
        let gamma = vector::<T>(gamma, "gamma", x.cols)?;
        let (dx, dgamma, dbeta) = batchnorm::batchnorm_backward_from_input(x.data(), dy.data(), x.cols, &gamma, T::of(eps))?;
        Ok((matrix(py, dx, x.rows, x.cols)?, convert::to_numpy_vector(py, dgamma), convert::to_numpy_vector(py, dbeta)))
    })
}

#[pyfunction]
fn batchnorm_update_running<'py>(
    py: Python<'py>,
    running_mean: &Any<'py>,
    running_var: &Any<'py>,
    batch_mean: &Any<'py>,
    batch_var: &Any<'py>,
    #[pyo3(from_py_with = convert::count)] n: usize,
    #[pyo3(from_py_with = convert::real)] momentum: f64,
) -> PyResult<(Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(running_mean, "running_mean")?, T => {
        let (mut rm, shape) = elements::<T>(running_mean, "running_mean")?;
        if shape.len() != 1 {
            return Err(PyValueError::new_err(format!("running_mean must be 1-D; got shape {shape:?}")));
        }
        let cols = rm.len();
        let mut rv = vector::<T>(running_var, "running_var", cols)?;
        let (mean, var) = (vector::<T>(batch_mean, "batch_mean", cols)?, vector::<T>(batch_var, "batch_var", cols)?);
        batchnorm::batchnorm_update_running(&mut rm, &mut rv, &mean, &var, n, T::of(momentum))?;
        Ok((convert::to_numpy_shaped(py, rm, &shape)?, convert::to_numpy_shaped(py, rv, &shape)?))
    })
}

// ---- dropout --------------------------------------------------------------------------------------------

/// The scaled mask of a boolean NumPy mask of `shape`.
fn scaled_mask<T: Real>(mask: &Any<'_>, p: f64, shape: &[usize]) -> PyResult<Vec<T>> {
    let mask = mask
        .extract::<PyReadonlyArrayDyn<'_, bool>>()
        .map_err(|_| pyo3::exceptions::PyTypeError::new_err("mask must be a NumPy array of bool"))?;
    same_shape(shape, mask.shape(), "mask")?;
    Ok(dropout::scaled_mask(convert::slice(&mask, "mask")?, p)?)
}

#[pyfunction]
fn dropout_forward<'py>(
    py: Python<'py>,
    x: &Any<'py>,
    mask: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] p: f64,
) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(x, "x")?, T => {
        let (mut data, shape) = elements::<T>(x, "x")?;
        dropout::dropout_forward(&mut data, &scaled_mask::<T>(mask, p, &shape)?)?;
        convert::to_numpy_shaped(py, data, &shape)
    })
}

#[pyfunction]
fn dropout_backward<'py>(
    py: Python<'py>,
    grad: &Any<'py>,
    mask: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] p: f64,
) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(grad, "grad")?, T => {
        let (mut data, shape) = elements::<T>(grad, "grad")?;
        dropout::dropout_backward(&mut data, &scaled_mask::<T>(mask, p, &shape)?)?;
        convert::to_numpy_shaped(py, data, &shape)
    })
}

/// The boolean keep-mask the engine draws for (seed, stream, step, layer), rows × cols.
#[pyfunction]
#[pyo3(signature = (rows, cols, p, seed, step, layer, stream = rng::DROPOUT))]
#[allow(clippy::too_many_arguments)]
fn dropout_mask<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = convert::count)] rows: usize,
    #[pyo3(from_py_with = convert::count)] cols: usize,
    #[pyo3(from_py_with = convert::real)] p: f64,
    #[pyo3(from_py_with = convert::uint64)] seed: u64,
    #[pyo3(from_py_with = convert::uint64)] step: u64,
    #[pyo3(from_py_with = convert::count)] layer: usize,
    #[pyo3(from_py_with = convert::uint64)] stream: u64,
) -> PyResult<Any<'py>> {
    let keep = dropout::keep_mask(rows, cols, p, seed, stream, step, layer)?;
    let keep = Array2::from_shape_vec((rows, cols), keep).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(keep.into_pyarray(py).into_any())
}

// ---- optimizers -----------------------------------------------------------------------------------------

#[pyfunction]
fn sgd_update<'py>(
    py: Python<'py>,
    param: &Any<'py>,
    grad: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] lr: f64,
) -> PyResult<Any<'py>> {
    with_dtype!(dtype::of_array(param, "param")?, T => {
        let (mut p, shape) = elements::<T>(param, "param")?;
        let (g, g_shape) = elements::<T>(grad, "grad")?;
        same_shape(&shape, &g_shape, "grad")?;
        sgd::sgd_update(&mut p, &g, T::of(lr))?;
        convert::to_numpy_shaped(py, p, &shape)
    })
}

fn momentum_op<'py>(
    py: Python<'py>,
    param: &Any<'py>,
    grad: &Any<'py>,
    velocity: &Any<'py>,
    lr: f64,
    momentum: f64,
    nesterov: bool,
) -> PyResult<(Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(param, "param")?, T => {
        let (mut p, shape) = elements::<T>(param, "param")?;
        let (g, g_shape) = elements::<T>(grad, "grad")?;
        let (mut v, v_shape) = elements::<T>(velocity, "velocity")?;
        same_shape(&shape, &g_shape, "grad")?;
        same_shape(&shape, &v_shape, "velocity")?;
        if nesterov {
            sgd::nesterov_update(&mut p, &g, &mut v, T::of(lr), T::of(momentum))?;
        } else {
            sgd::momentum_update(&mut p, &g, &mut v, T::of(lr), T::of(momentum))?;
        }
        Ok((convert::to_numpy_shaped(py, p, &shape)?, convert::to_numpy_shaped(py, v, &shape)?))
    })
}

#[pyfunction]
fn momentum_update<'py>(
    py: Python<'py>,
    param: &Any<'py>,
    grad: &Any<'py>,
    velocity: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] lr: f64,
    #[pyo3(from_py_with = convert::real)] momentum: f64,
) -> PyResult<(Any<'py>, Any<'py>)> {
    momentum_op(py, param, grad, velocity, lr, momentum, false)
}

#[pyfunction]
fn nesterov_update<'py>(
    py: Python<'py>,
    param: &Any<'py>,
    grad: &Any<'py>,
    velocity: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] lr: f64,
    #[pyo3(from_py_with = convert::real)] momentum: f64,
) -> PyResult<(Any<'py>, Any<'py>)> {
    momentum_op(py, param, grad, velocity, lr, momentum, true)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn adam_update<'py>(
    py: Python<'py>,
    param: &Any<'py>,
    grad: &Any<'py>,
    m: &Any<'py>,
    v: &Any<'py>,
    #[pyo3(from_py_with = convert::uint64)] step: u64,
    #[pyo3(from_py_with = convert::real)] lr: f64,
    #[pyo3(from_py_with = convert::real)] beta1: f64,
    #[pyo3(from_py_with = convert::real)] beta2: f64,
    #[pyo3(from_py_with = convert::real)] eps: f64,
) -> PyResult<(Any<'py>, Any<'py>, Any<'py>)> {
    if step == 0 {
        return Err(PyValueError::new_err("step must be >= 1 (the first update is step 1)"));
    }
    with_dtype!(dtype::of_array(param, "param")?, T => {
        let (mut p, shape) = elements::<T>(param, "param")?;
        let (g, g_shape) = elements::<T>(grad, "grad")?;
        let (mut m, m_shape) = elements::<T>(m, "m")?;
        let (mut v, v_shape) = elements::<T>(v, "v")?;
        for (what, other) in [("grad", &g_shape), ("m", &m_shape), ("v", &v_shape)] {
            same_shape(&shape, other, what)?;
        }
        adam::adam_update(&mut p, &g, &mut m, &mut v, &adam::AdamStep::new(lr, beta1, beta2, eps, step))?;
        Ok((convert::to_numpy_shaped(py, p, &shape)?, convert::to_numpy_shaped(py, m, &shape)?, convert::to_numpy_shaped(py, v, &shape)?))
    })
}

#[pyfunction]
fn rmsprop_update<'py>(
    py: Python<'py>,
    param: &Any<'py>,
    grad: &Any<'py>,
    sq: &Any<'py>,
    #[pyo3(from_py_with = convert::real)] lr: f64,
    #[pyo3(from_py_with = convert::real)] rho: f64,
    #[pyo3(from_py_with = convert::real)] eps: f64,
) -> PyResult<(Any<'py>, Any<'py>)> {
    with_dtype!(dtype::of_array(param, "param")?, T => {
        let (mut p, shape) = elements::<T>(param, "param")?;
        let (g, g_shape) = elements::<T>(grad, "grad")?;
        let (mut s, s_shape) = elements::<T>(sq, "sq")?;
        same_shape(&shape, &g_shape, "grad")?;
        same_shape(&shape, &s_shape, "sq")?;
        rmsprop::rmsprop_update(&mut p, &g, &mut s, T::of(lr), T::of(rho), T::of(eps))?;
        Ok((convert::to_numpy_shaped(py, p, &shape)?, convert::to_numpy_shaped(py, s, &shape)?))
    })
}

// ---- randomness -----------------------------------------------------------------------------------------

/// The batch order of epoch `epoch` for a model seeded with `seed`.
#[pyfunction]
fn epoch_permutation<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = convert::count)] n: usize,
    #[pyo3(from_py_with = convert::uint64)] seed: u64,
    #[pyo3(from_py_with = convert::uint64)] epoch: u64,
) -> PyResult<Any<'py>> {
    if u32::try_from(n).is_err() {
        return Err(PyValueError::new_err(format!("n must be < 2^32; got {n}")));
    }
    let mut order = buffer::zeros::<u32>(n, "the permutation")?;
    rng::epoch_permutation(&mut order, seed, epoch);
    let mut wide = buffer::zeros::<i64>(n, "the permutation")?;
    wide.iter_mut().zip(&order).for_each(|(w, &o)| *w = i64::from(o));
    Ok(wide.into_pyarray(py).into_any())
}

#[pyfunction]
fn splitmix64(#[pyo3(from_py_with = convert::uint64)] x: u64) -> u64 {
    rng::splitmix64(x)
}

#[pyfunction]
fn hash_words(#[pyo3(from_py_with = convert::words)] words: Vec<u64>) -> u64 {
    rng::hash_words(&words)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(
        dense_forward,
        dense_backward,
        sparse_dense_forward,
        sparse_dense_weight_grads,
        relu_forward,
        relu_backward,
        leaky_relu_forward,
        leaky_relu_backward,
        sigmoid_forward,
        sigmoid_backward,
        tanh_forward,
        tanh_backward,
        linear_forward,
        linear_backward,
        softmax_forward,
        softmax_backward,
        softmax_cross_entropy,
        mse,
        binary_cross_entropy,
        hinge,
        poisson,
        penalty_value,
        penalty_grad,
        batchnorm_forward_train,
        batchnorm_forward_eval,
        batchnorm_backward,
        batchnorm_update_running,
        dropout_forward,
        dropout_backward,
        dropout_mask,
        sgd_update,
        momentum_update,
        nesterov_update,
        adam_update,
        rmsprop_update,
        epoch_permutation,
        splitmix64,
        hash_words,
    );
    Ok(())
}
