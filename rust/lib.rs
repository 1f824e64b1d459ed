//! ferronet's engine: dense neural networks trained with every hot loop in Rust.
//!
//! Everything outside `py/` is plain Rust with no PyO3, usable and tested on its own (`cargo test`);
//! `py/` is the thin binding layer that the `ferronet` Python package loads as `ferronet._core`.

pub mod buffer;
pub mod cancel;
pub mod cpu;
pub mod denormals;
pub mod error;
pub mod gemm;
pub mod init;
pub mod kernels;
pub mod model;
pub mod network;
pub mod optim;
pub mod parallel;
pub mod parking;
pub mod rng;
pub mod scalar;
pub mod spin_barrier;
pub mod team;
pub mod threads;
pub mod train;

mod py;
