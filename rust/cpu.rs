//! Which SIMD instruction set the engine's kernels use, chosen at run time (the wheel is built for baseline
//! x86_64 and must run anywhere).
//!
//! The default is the best set this CPU has. `FERRONET_ISA` = `auto` | `avx512` | `avx2` | `generic`, read once
//! on first use, or `set_isa` (later, Python's `ferronet.set_isa`) force one, so that every path can be measured
//! and tested on one machine. Asking for a set the CPU lacks is an error, never undefined behaviour: the kernels
//! of a set are only entered after `Isa::available` said yes.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512 Foundation (512-bit vectors, 32 registers), with AVX2 and FMA.
    Avx512,
    /// AVX2 with FMA (256-bit vectors, 16 registers).
    Avx2,
    /// Portable Rust, vectorized by the compiler for baseline x86_64 (SSE2) or any other target.
    Generic,
}

impl Isa {
    /// Every set, fastest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Generic];

    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Generic => "generic",
        }
    }

    /// The set named `name`; `auto` is the best available one.
    pub fn from_name(name: &str) -> Result<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(detected()),
            "avx512" => Ok(Isa::Avx512),
            "avx2" => Ok(Isa::Avx2),
            "generic" => Ok(Isa::Generic),
            other => Err(Error::value("isa", format!("must be one of auto, avx512, avx2, generic; got {other:?}"))),
        }
    }

    /// Whether this CPU (and OS) can run the set's kernels.
    pub fn available(self) -> bool {
        match self {
            Isa::Generic => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Isa::Avx2.available() && is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => false,
        }
    }

    /// The sets this machine can run, fastest first (tests loop over these).
    pub fn all_available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.available())
    }

    fn code(self) -> u8 {
        match self {
            Isa::Avx512 => 1,
            Isa::Avx2 => 2,
            Isa::Generic => 3,
        }
    }

    fn of_code(code: u8) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.code() == code)
    }
}

/// The best set this CPU has.
pub fn detected() -> Isa {
    Isa::all_available().next().unwrap_or(Isa::Generic)
}

/// The current choice: 0 until first read, then an `Isa::code`, or `ENV_ERROR` when `FERRONET_ISA` is invalid.
static CURRENT: AtomicU8 = AtomicU8::new(0);
const ENV_ERROR: u8 = u8::MAX;
const ENV_VAR: &str = "FERRONET_ISA";

/// The set the kernels use now. An error if `FERRONET_ISA` names an unknown set or one this CPU lacks (until
/// `set_isa` chooses another).
pub fn isa() -> Result<Isa> {
    let code = CURRENT.load(Ordering::Relaxed);
    if let Some(isa) = Isa::of_code(code) {
        return Ok(isa);
    }
    if code == 0 {
        // Two threads may both read the variable on first use; both store the same answer.
        let stored = from_env().map_or(ENV_ERROR, Isa::code);
        CURRENT.store(stored, Ordering::Relaxed);
    }
    match Isa::of_code(CURRENT.load(Ordering::Relaxed)) {
        Some(isa) => Ok(isa),
        None => from_env(),
    }
}

/// Force a set for every later kernel call; an error (and no change) if this CPU lacks it.
pub fn set_isa(isa: Isa) -> Result<()> {
    require(isa)?;
    CURRENT.store(isa.code(), Ordering::Relaxed);
    Ok(())
}

/// `isa` if this CPU can run it, else an error naming what is missing.
pub fn require(isa: Isa) -> Result<Isa> {
    if isa.available() {
        Ok(isa)
    } else {
        Err(Error::value("isa", format!("{:?} is not supported by this CPU (best available: {})", isa.name(), detected().name())))
    }
}

fn from_env() -> Result<Isa> {
    let text = std::env::var(ENV_VAR).unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(detected());
    }
    let isa = Isa::from_name(&text).map_err(|_| Error::value(ENV_VAR, format!("must be auto, avx512, avx2 or generic; got {text:?}")))?;
    require(isa).map_err(|_| {
        Error::value(ENV_VAR, format!("asks for {:?}, which this CPU lacks (best available: {})", isa.name(), detected().name()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()), Ok(isa));
        }
        assert_eq!(Isa::from_name(" AVX2 "), Ok(Isa::Avx2));
        assert_eq!(Isa::from_name("auto"), Ok(detected()));
        assert!(Isa::from_name("sse9").is_err());
    }

    #[test]
    fn generic_is_always_available_and_detection_picks_an_available_set() {
        assert!(Isa::Generic.available());
        assert!(detected().available());
        assert_eq!(Isa::all_available().last(), Some(Isa::Generic));
    }

    #[test]
    fn forcing_an_unavailable_set_is_an_error_and_changes_nothing() -> Result<()> {
        let before = isa()?;
        for wanted in Isa::ALL {
            if wanted.available() {
                set_isa(wanted)?;
                assert_eq!(isa()?, wanted);
            } else {
                assert!(set_isa(wanted).is_err());
            }
        }
        set_isa(before)?;
        assert_eq!(isa()?, before);
        Ok(())
    }
}
