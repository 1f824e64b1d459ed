//! All PyO3 code: the `ferronet._core` module. Nothing outside `py/` knows about Python; nothing here does
//! engine work — it converts arguments, calls the engine and converts the results.

mod cell;
mod convert;
mod dataset;
mod dtype;
mod errors;
mod model;
mod ops;
mod report;
mod run;

use pyo3::prelude::*;

use crate::threads;

/// Number of threads the engine computes with.
#[pyfunction]
fn get_num_threads() -> usize {
    threads::num_threads()
}

/// Resize the engine's thread pool (results do not depend on it, only speed does).
#[pyfunction]
fn set_num_threads(#[pyo3(from_py_with = convert::count)] n: usize) -> PyResult<()> {
    Ok(threads::set_num_threads(n)?)
}

/// In a child after `fork`: release the engine's process-wide state that a vanished parent thread may hold.
#[pyfunction]
fn after_fork() {
    threads::after_fork();
    crate::cancel::after_fork();
    crate::team::after_fork();
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::PyModel>()?;
    m.add_class::<dataset::PyDataset>()?;
    m.add_class::<report::PyChunkReport>()?;
    m.add_function(wrap_pyfunction!(model::read_model_file, m)?)?;
    m.add_function(wrap_pyfunction!(model::read_model_fd, m)?)?;
    m.add_function(wrap_pyfunction!(model::unbuilt_model_file, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(after_fork, m)?)?;
    ops::register(m)?;
    Ok(())
}
