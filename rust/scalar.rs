//! `Real`: the one trait that makes every kernel generic over f32 and f64.

use std::fmt::{Debug, Display};
use std::iter::Sum;

use num_traits::{Float, NumAssignOps};

use crate::buffer::ZeroBits;
use crate::gemm::Element;

pub trait Real:
    Float + NumAssignOps + Default + Debug + Display + Sum + Send + Sync + ZeroBits + Element + bytemuck::Pod + 'static
{
    /// NumPy's name for the type.
    const NAME: &'static str;

    /// Convert a hyperparameter or constant (always exact for f64, rounded for f32).
    fn of(x: f64) -> Self;

    /// Widen to f64 for reporting.
    fn f64(self) -> f64;
}

impl Real for f32 {
    const NAME: &'static str = "float32";

    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }

    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const NAME: &'static str = "float64";

    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }

    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}
