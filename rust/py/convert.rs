//! NumPy arrays in and out: dtype dispatch, contiguity, labels and targets.

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use numpy::{Element, IntoPyArray, PyArrayDescrMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::kernels::loss::Targets;
use crate::scalar::Real;

/// The float types the engine computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    pub fn from_name(name: &str) -> PyResult<Self> {
        match name {
            "float32" => Ok(Dtype::F32),
            "float64" => Ok(Dtype::F64),
            other => Err(PyValueError::new_err(format!("dtype must be 'float32' or 'float64'; got {other:?}"))),
        }
    }

    /// The dtype of a NumPy array argument (TypeError for anything else).
    pub fn of(array: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        let untyped = array
            .cast::<numpy::PyUntypedArray>()
            .map_err(|_| PyTypeError::new_err(format!("{what} must be a NumPy array of float32 or float64")))?;
        let dtype = untyped.dtype();
        let py = array.py();
        if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
            Ok(Dtype::F32)
        } else if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
            Ok(Dtype::F64)
        } else {
            Err(PyTypeError::new_err(format!("{what} must be float32 or float64; got {dtype}")))
        }
    }
}

/// Run `$body` with `$T` bound to the Rust type of `$dtype`.
macro_rules! by_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::py::convert::Dtype::F32 => {
                type $T = f32;
                $body
            }
            $crate::py::convert::Dtype::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use by_dtype;

/// A read-only float array of element type T (any number of dimensions).
pub fn array<'py, T: Real + Element>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    value.extract::<PyReadonlyArrayDyn<'py, T>>().map_err(|_| PyTypeError::new_err(format!("{what} must be a NumPy array of {}", T::NAME)))
}

/// The data of an array as one C-contiguous slice.
pub fn slice<'a, T: Element>(array: &'a PyReadonlyArrayDyn<'_, T>, what: &str) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous and aligned (use numpy.require(x, requirements=\"CA\"))")))
}

/// The (rows, cols) of a 2-D array.
pub fn matrix_shape<T: Element>(array: &PyReadonlyArrayDyn<'_, T>, what: &str) -> PyResult<(usize, usize)> {
    match array.shape() {
        [rows, cols] => Ok((*rows, *cols)),
        other => Err(PyValueError::new_err(format!("{what} must be 2-D; got shape {other:?}"))),
    }
}

/// Class labels (any integer array) as u32, checked to be in 0..=u32::MAX.
pub fn labels(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    let array: PyReadonlyArray1<'_, i64> =
        value.extract().map_err(|_| PyTypeError::new_err(format!("{what} must be a 1-D NumPy array of int64 class labels")))?;
    array
        .as_array()
        .iter()
        .map(|&y| u32::try_from(y).map_err(|_| PyValueError::new_err(format!("{what} holds label {y}; labels must be in 0..2^32"))))
        .collect()
}

/// Targets owned for the duration of a call: labels converted to u32, or a dense matrix borrowed from NumPy.
pub enum OwnedTargets<'py, T: Element> {
    Labels(Vec<u32>),
    Dense(PyReadonlyArrayDyn<'py, T>),
}

impl<'py, T: Real + Element> OwnedTargets<'py, T> {
    pub fn extract(value: &Bound<'py, PyAny>, use_labels: bool) -> PyResult<Self> {
        if use_labels { Ok(OwnedTargets::Labels(labels(value, "y")?)) } else { Ok(OwnedTargets::Dense(array::<T>(value, "y")?)) }
    }

    pub fn view(&self) -> PyResult<Targets<'_, T>> {
        Ok(match self {
            OwnedTargets::Labels(labels) => Targets::Labels(labels),
            OwnedTargets::Dense(array) => Targets::Dense(slice(array, "y")?),
        })
    }
}

/// Optional per-sample weights.
pub fn weights<'py, T: Real + Element>(value: Option<&Bound<'py, PyAny>>) -> PyResult<Option<PyReadonlyArrayDyn<'py, T>>> {
    value.filter(|v| !v.is_none()).map(|v| array::<T>(v, "sample_weight")).transpose()
}

pub fn to_numpy_matrix<'py, T: Real + Element>(py: Python<'py>, data: Vec<T>, rows: usize, cols: usize) -> PyResult<Bound<'py, PyAny>> {
    let array = Array2::from_shape_vec((rows, cols), data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py).into_any())
}

pub fn to_numpy_vector<'py, T: Real + Element>(py: Python<'py>, data: Vec<T>) -> Bound<'py, PyAny> {
    Array1::from_vec(data).into_pyarray(py).into_any()
}

pub fn to_numpy_shaped<'py, T: Real + Element>(py: Python<'py>, data: Vec<T>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let array = ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py).into_any())
}
