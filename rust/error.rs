//! The engine's errors. No PyO3 here: `py/errors.rs` maps them to Python exceptions.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// An array has the wrong shape (maps to ValueError).
    #[error("{what} must have shape {expected}; got {got}")]
    Shape { what: String, expected: String, got: String },
    /// A value is out of range, unknown or inconsistent (maps to ValueError). Reads "<what> <why>", e.g.
    /// "X has 3 features, the model expects 784".
    #[error("{what} {why}")]
    Value { what: String, why: String },
    /// An argument has the wrong type (maps to TypeError).
    #[error("{what} {why}")]
    Type { what: String, why: String },
    /// A buffer could not be allocated (maps to MemoryError).
    #[error("not enough memory for {what} ({bytes} bytes)")]
    Memory { what: String, bytes: u128 },
    /// The training loss stopped being finite (maps to FloatingPointError): at a batch of an epoch (0-based), or
    /// on the one batch of a custom step, whose update was then not applied.
    #[error("the loss became {value}{}", match batch { Some(b) => format!(" at batch {} of the epoch", b + 1), None => "; the update was not applied".into() })]
    NonFinite { value: f64, batch: Option<usize> },
    /// Ctrl-C stopped the call (maps to KeyboardInterrupt).
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn shape(what: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Shape { what: what.into(), expected: expected.into(), got: got.into() }
    }

    pub fn value(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Value { what: what.into(), why: why.into() }
    }

    pub fn type_error(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Type { what: what.into(), why: why.into() }
    }
}

/// Shape check helper: `expect_shape("W", w.dim(), (3, 4))`.
pub fn expect_shape(what: &str, got: (usize, usize), expected: (usize, usize)) -> Result<()> {
    if got == expected { Ok(()) } else { Err(Error::shape(what, format!("{expected:?}"), format!("{got:?}"))) }
}

/// Length check helper for 1-D data.
pub fn expect_len(what: &str, got: usize, expected: usize) -> Result<()> {
    if got == expected { Ok(()) } else { Err(Error::shape(what, format!("({expected},)"), format!("({got},)"))) }
}
