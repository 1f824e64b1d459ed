//! The one way the bindings choose a float type: `with_dtype!(dtype, T => body)` runs `body` with `T` bound to
//! f32 or f64, and `Float` gives the typed model or dataset inside the engine's two-type enums.

use numpy::{Element, PyArrayDescrMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

pub use crate::model::Dtype;
use crate::model::{AnyModel, Model};
use crate::scalar::Real;
use crate::train::{AnyDataset, Dataset};

/// The engine's float types, with their place in the two-type enums.
pub trait Float: Real + Element {
    fn model(model: &AnyModel) -> Option<&Model<Self>>;
    fn model_mut(model: &mut AnyModel) -> Option<&mut Model<Self>>;
    fn wrap_model(model: Model<Self>) -> AnyModel;
    fn dataset(data: &AnyDataset) -> Option<&Dataset<Self>>;
    fn wrap_dataset(data: Dataset<Self>) -> AnyDataset;
}

macro_rules! float_impl {
    ($T:ty, $variant:ident) => {
        impl Float for $T {
            fn model(model: &AnyModel) -> Option<&Model<Self>> {
                if let AnyModel::$variant(m) = model { Some(m) } else { None }
            }
            fn model_mut(model: &mut AnyModel) -> Option<&mut Model<Self>> {
                if let AnyModel::$variant(m) = model { Some(m) } else { None }
            }
            fn wrap_model(model: Model<Self>) -> AnyModel {
                AnyModel::$variant(model)
            }
            fn dataset(data: &AnyDataset) -> Option<&Dataset<Self>> {
                if let AnyDataset::$variant(d) = data { Some(d) } else { None }
            }
            fn wrap_dataset(data: Dataset<Self>) -> AnyDataset {
                AnyDataset::$variant(data)
            }
        }
    };
}
float_impl!(f32, F32);
float_impl!(f64, F64);

/// Run `$body` with `$T` bound to the Rust float type of `$dtype` (a `Dtype`).
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::py::dtype::Dtype::F32 => {
                type $T = f32;
                $body
            }
            $crate::py::dtype::Dtype::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

/// The dtype of a NumPy array argument (TypeError for anything but float32 and float64).
pub fn of_array(array: &Bound<'_, PyAny>, what: &str) -> PyResult<Dtype> {
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

pub fn of_model(model: &AnyModel) -> Dtype {
    match model {
        AnyModel::F32(_) => Dtype::F32,
        AnyModel::F64(_) => Dtype::F64,
    }
}

pub fn of_dataset(data: &AnyDataset) -> Dtype {
    match data {
        AnyDataset::F32(_) => Dtype::F32,
        AnyDataset::F64(_) => Dtype::F64,
    }
}
