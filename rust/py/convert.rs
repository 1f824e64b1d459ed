//! NumPy arrays in and out: dtype dispatch, contiguity, labels and targets, sparse X by its parts.

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use numpy::{Element, IntoPyArray, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::kernels::loss::Targets;
use crate::kernels::sparse::{CsrIndex, CsrParts, IndexSlice};
use crate::network::Features;
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

/// A CSR index array: SciPy uses int32 or int64.
pub enum IndexArray<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

impl<'py> IndexArray<'py> {
    fn extract(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(array) = value.extract::<PyReadonlyArray1<'py, i32>>() {
            return Ok(IndexArray::I32(array));
        }
        value
            .extract::<PyReadonlyArray1<'py, i64>>()
            .map(IndexArray::I64)
            .map_err(|_| PyTypeError::new_err(format!("{what} must be a 1-D NumPy array of int32 or int64")))
    }

    fn slice(&self, what: &str) -> PyResult<IndexSlice<'_>> {
        let contiguous = || PyValueError::new_err(format!("{what} must be C-contiguous"));
        Ok(match self {
            IndexArray::I32(a) => IndexSlice::I32(a.as_slice().map_err(|_| contiguous())?),
            IndexArray::I64(a) => IndexSlice::I64(a.as_slice().map_err(|_| contiguous())?),
        })
    }
}

/// X as handed in: a NumPy matrix, or a CSR matrix by its parts — any object with `data` (the model's dtype),
/// `indices` and `indptr` (int32 or int64) and `shape` (SciPy's CSR matrices and arrays; Python passes a
/// `ferronet._validation.SparseRows`).
pub enum FeaturesArg<'py, T: Element> {
    Dense { array: PyReadonlyArrayDyn<'py, T>, rows: usize, cols: usize },
    Sparse { data: PyReadonlyArrayDyn<'py, T>, indices: IndexArray<'py>, indptr: IndexArray<'py>, rows: usize, cols: usize },
}

/// The borrowed data of a `FeaturesArg` (what crosses into the engine with the GIL released).
pub enum FeatureSlices<'a, T> {
    Dense(&'a [T]),
    Sparse(CsrParts<'a, T>),
}

/// Whether `value` is a NumPy array (dense X) rather than a sparse matrix's parts.
fn is_array(value: &Bound<'_, PyAny>) -> bool {
    value.cast::<numpy::PyUntypedArray>().is_ok()
}

/// The object whose dtype decides a call's float type: X itself, or the `data` of a sparse X.
pub fn dtype_source<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    if is_array(value) {
        return Ok(value.clone());
    }
    value
        .getattr("data")
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a NumPy array or a CSR matrix (data, indices, indptr, shape)")))
}

impl<'py, T: Real + Element> FeaturesArg<'py, T> {
    pub fn extract(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if is_array(value) {
            let array = array::<T>(value, what)?;
            let (rows, cols) = matrix_shape(&array, what)?;
            return Ok(FeaturesArg::Dense { array, rows, cols });
        }
        let part = |name: &str| {
            value
                .getattr(name)
                .map_err(|_| PyTypeError::new_err(format!("{what} must be a NumPy array or a CSR matrix (data, indices, indptr, shape)")))
        };
        let (rows, cols): (usize, usize) =
            part("shape")?.extract().map_err(|_| PyValueError::new_err(format!("{what}.shape must be (rows, cols)")))?;
        let data = array::<T>(&part("data")?, &format!("{what}.data"))?;
        if data.ndim() != 1 {
            return Err(PyValueError::new_err(format!("{what}.data must be 1-D")));
        }
        let indices = IndexArray::extract(&part("indices")?, &format!("{what}.indices"))?;
        let indptr = IndexArray::extract(&part("indptr")?, &format!("{what}.indptr"))?;
        Ok(FeaturesArg::Sparse { data, indices, indptr, rows, cols })
    }

    pub fn rows(&self) -> usize {
        match self {
            FeaturesArg::Dense { rows, .. } | FeaturesArg::Sparse { rows, .. } => *rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            FeaturesArg::Dense { cols, .. } | FeaturesArg::Sparse { cols, .. } => *cols,
        }
    }

    pub fn slices(&self, what: &str) -> PyResult<FeatureSlices<'_, T>> {
        Ok(match self {
            FeaturesArg::Dense { array, .. } => FeatureSlices::Dense(slice(array, what)?),
            FeaturesArg::Sparse { data, indices, indptr, rows, cols } => FeatureSlices::Sparse(CsrParts {
                rows: *rows,
                cols: *cols,
                indptr: indptr.slice(&format!("{what}.indptr"))?,
                indices: indices.slice(&format!("{what}.indices"))?,
                values: slice(data, &format!("{what}.data"))?,
            }),
        })
    }
}

impl<T: Real> FeatureSlices<'_, T> {
    /// For sparse features, their index arrays converted and checked (structure, column indices in range); None
    /// for dense ones. The values are Python's to check, as a dense X's are (`fit`'s dataset checks its copy).
    pub fn checked_index(&self, what: &str) -> crate::error::Result<Option<CsrIndex>> {
        match self {
            FeatureSlices::Dense(_) => Ok(None),
            FeatureSlices::Sparse(parts) => parts.checked_index(what).map(Some),
        }
    }

    /// The features for the engine (`index` from `checked_index`).
    pub fn features<'a>(&'a self, index: Option<&'a CsrIndex>) -> crate::error::Result<Features<'a, T>> {
        match (self, index) {
            (FeatureSlices::Dense(x), _) => Ok(Features::Dense(x)),
            (FeatureSlices::Sparse(parts), Some(index)) => Ok(Features::Sparse(index.view(parts.values)?)),
            (FeatureSlices::Sparse(_), None) => Err(crate::error::Error::value("X", "was not checked")),
        }
    }
}

// ---- numbers ---------------------------------------------------------------------------------------------
// The private API's number arguments (`#[pyo3(from_py_with = ...)]`). PyO3's own conversions raise OverflowError
// for an int beyond the type's range (or a Fraction beyond a float's) and accept NumPy's complex scalars with a
// ComplexWarning; these raise TypeError instead, which PyO3 prefixes with the argument's name, so the private API
// speaks the public API's vocabulary.

fn out_of_range(error: PyErr, py: Python<'_>, expected: &str) -> PyErr {
    if error.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) {
        PyTypeError::new_err(format!("expected {expected}; got a value out of that range"))
    } else {
        error
    }
}

fn is_complex(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<pyo3::types::PyComplex>()
        || value.get_type().name().is_ok_and(|name| {
            let name = name.to_string();
            name.contains("complex") || name == "clongdouble"
        })
}

/// A real number within the float range.
pub fn real(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if is_complex(value) {
        return Err(PyTypeError::new_err("expected a real number; got a complex number"));
    }
    value.extract::<f64>().map_err(|e| out_of_range(e, value.py(), "a real number within the float range (about ±1.8e308)"))
}

/// An integer from 0 to 2**64 - 1 (a count or an index).
pub fn count(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    value.extract::<usize>().map_err(|e| out_of_range(e, value.py(), "an integer from 0 to 2**64 - 1"))
}

/// An integer from 0 to 2**64 - 1 (a seed or a counter).
pub fn uint64(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    value.extract::<u64>().map_err(|e| out_of_range(e, value.py(), "an integer from 0 to 2**64 - 1"))
}

/// A file descriptor (a 32-bit int).
pub fn descriptor(value: &Bound<'_, PyAny>) -> PyResult<i32> {
    value.extract::<i32>().map_err(|e| out_of_range(e, value.py(), "a file descriptor (a 32-bit int)"))
}

/// A sequence of integers from 0 to 2**64 - 1.
pub fn words(value: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    value.extract::<Vec<u64>>().map_err(|e| out_of_range(e, value.py(), "a sequence of integers from 0 to 2**64 - 1"))
}
