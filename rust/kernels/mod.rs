//! The numerical kernels: pure functions on slices and views, generic over f32/f64.
//!
//! Each has a NumPy twin of the same name in `ferronet.reference` and a binding of the same name in
//! `rust/py/ops.rs`. Element-wise kernels work in place; the network owns every buffer.

pub mod activation;
pub mod batchnorm;
pub mod dense;
pub mod dropout;
pub mod loss;
pub mod penalty;
pub mod sparse;
