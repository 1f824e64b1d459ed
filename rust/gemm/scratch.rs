//! Packing buffers, kept per thread and reused: after the first products of a given size, a product allocates
//! nothing. A buffer is taken out of its slot for the duration of one use, so a nested product on the same
//! thread (a rayon worker stealing another product's task while it waits) just gets a fresh one.

use std::cell::Cell;
use std::thread::LocalKey;

use crate::error::{Error, Result};

/// One cache line: the unit of the buffers, so that packed panels start 64-byte aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Line([u8; 64]);

pub type Slot = LocalKey<Cell<Vec<Line>>>;

thread_local! {
    /// The packed B shared by the tasks of the product this thread drives.
    pub static PACKED_B: Cell<Vec<Line>> = const { Cell::new(Vec::new()) };
    /// The packed A of the task this thread runs.
    pub static PACKED_A: Cell<Vec<Line>> = const { Cell::new(Vec::new()) };
}

/// Run `work` with this thread's buffer from `slot`, grown to at least `len` values of T.
pub fn with<T, R>(slot: &'static Slot, len: usize, work: impl FnOnce(*mut T) -> R) -> Result<R> {
    let too_large = || Error::Memory { what: "GEMM packing buffer".into(), bytes: (len as u128) * (std::mem::size_of::<T>() as u128) };
    let bytes = len.checked_mul(std::mem::size_of::<T>()).ok_or_else(too_large)?;
    let lines = bytes.div_ceil(std::mem::size_of::<Line>()).max(1);
    let mut buffer = slot.take();
    if buffer.len() < lines {
        buffer = Vec::new();
        buffer.try_reserve_exact(lines).map_err(|_| too_large())?;
        buffer.resize(lines, Line([0; 64]));
    }
    let result = work(buffer.as_mut_ptr().cast::<T>());
    slot.set(buffer);
    Ok(result)
}
