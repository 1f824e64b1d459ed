//! NumPy arrays in and out: dtype dispatch, contiguity, labels and targets.

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use numpy::{Element, IntoPyArray, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::kernels::loss::Targets;
use crate::scalar::Real;

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

/// Class labels: a 1-D int64 array (its values are the engine's to check).
pub fn label_array<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray1<'py, i64>> {
    value.extract().map_err(|_| PyTypeError::new_err(format!("{what} must be a 1-D NumPy array of int64 class labels")))
}

/// Class labels as u32 for a kernel call (fallible: a failed allocation is a MemoryError).
pub fn labels(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    let array = label_array(value, what)?;
    let labels = array.as_slice().map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous")))?;
    let mut out = crate::buffer::zeros::<u32>(labels.len(), what)?;
    for (dst, &y) in out.iter_mut().zip(labels) {
        *dst = u32::try_from(y).map_err(|_| PyValueError::new_err(format!("{what} holds label {y}; labels must be in 0..2^32")))?;
    }
    Ok(out)
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
