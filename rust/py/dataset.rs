//! `ferronet._core.Dataset`: a training set copied once into engine memory in the model's dtype.

use numpy::PyReadonlyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::py::convert;
use crate::py::dtype::{self, Float, with_dtype};
use crate::train::{AnyDataset, Dataset, TargetData, TargetSource};

#[pyclass(name = "Dataset", module = "ferronet._core", frozen)]
pub struct PyDataset {
    pub(crate) data: AnyDataset,
}

fn build<T: Float>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    use_labels: bool,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<Dataset<T>> {
    let x = convert::FeaturesArg::<T>::extract(x, "X")?;
    let (rows, cols) = (x.rows(), x.cols());
    let x = x.slices("X")?;
    let weights = convert::weights::<T>(sample_weight)?;
    let weights = weights.as_ref().map(|w| convert::slice(w, "sample_weight")).transpose()?;
    let (labels, dense): (Option<numpy::PyReadonlyArray1<'_, i64>>, Option<PyReadonlyArrayDyn<'_, T>>) =
        if use_labels { (Some(convert::label_array(y, "y")?), None) } else { (None, Some(convert::array::<T>(y, "y")?)) };
    let targets = match (&labels, &dense) {
        (Some(labels), _) => TargetSource::Labels(labels.as_slice().map_err(|_| PyValueError::new_err("y must be C-contiguous"))?),
        (None, Some(values)) => {
            let k = match values.shape() {
                [_, k] => *k,
                [_] => 1,
                other => return Err(PyValueError::new_err(format!("y must be 1-D or 2-D; got shape {other:?}"))),
            };
            TargetSource::Dense { values: convert::slice(values, "y")?, cols: k }
        }
        (None, None) => return Err(PyValueError::new_err("y is missing")),
    };
    crate::py::run::interruptible(py, crate::threads::Work::Compute, || match x {
        convert::FeatureSlices::Dense(data) => Dataset::copy_from(data, rows, cols, targets, weights),
        convert::FeatureSlices::Sparse(parts) => Dataset::copy_sparse(parts, targets, weights),
    })
}

use numpy::PyUntypedArrayMethods;

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
        let data = with_dtype!(dtype::of_array(&convert::dtype_source(x, "X")?, "X")?, T => T::wrap_dataset(build::<T>(py, x, y, use_labels, sample_weight)?));
        Ok(PyDataset { data })
    }

    #[getter]
    fn rows(&self) -> usize {
        with_dtype!(dtype::of_dataset(&self.data), T => T::dataset(&self.data).map_or(0, |d| d.rows))
    }

    #[getter]
    fn cols(&self) -> usize {
        with_dtype!(dtype::of_dataset(&self.data), T => T::dataset(&self.data).map_or(0, |d| d.cols))
    }

    /// One more than the largest label (0 for dense targets): recorded when the dataset was built.
    #[getter]
    fn classes(&self) -> usize {
        with_dtype!(dtype::of_dataset(&self.data), T => match T::dataset(&self.data).map(|d| &d.targets) {
            Some(TargetData::Labels { classes, .. }) => *classes,
            _ => 0,
        })
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        match dtype::of_dataset(&self.data) {
            dtype::Dtype::F32 => "float32",
            dtype::Dtype::F64 => "float64",
        }
    }
}
