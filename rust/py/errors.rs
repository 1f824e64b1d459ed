//! The one mapping from engine errors to Python exceptions.

use pyo3::PyErr;
use pyo3::exceptions::{PyFloatingPointError, PyKeyboardInterrupt, PyMemoryError, PyTypeError, PyValueError};

use crate::error::Error;

impl From<Error> for PyErr {
    fn from(error: Error) -> PyErr {
        let message = error.to_string();
        match error {
            Error::Shape { .. } | Error::Value { .. } => PyValueError::new_err(message),
            Error::Type { .. } => PyTypeError::new_err(message),
            Error::NonFinite { .. } => PyFloatingPointError::new_err(message),
            Error::Memory { .. } => PyMemoryError::new_err(message),
            Error::Interrupted => PyKeyboardInterrupt::new_err(()),
        }
    }
}
