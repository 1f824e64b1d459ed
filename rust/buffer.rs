//! Buffers whose size comes from user input are allocated fallibly: a request the machine cannot satisfy is an
//! error (Python's MemoryError) instead of an abort of the whole process.
//!
//! Zeroed buffers come from the allocator's zeroed memory (calloc: fresh pages are already zero), so a large
//! buffer costs no memset pass; its pages are touched first by whoever fills it, in parallel when that is parallel.

use std::alloc::{Layout, alloc_zeroed};

use num_traits::Zero;

use crate::error::{Error, Result};

/// Types whose zero value is all-zero bytes, so zeroed memory is a buffer of zeros.
///
/// # Safety
/// Implement only for types for which the all-zero bit pattern is a valid value equal to `Zero::zero()`.
pub unsafe trait ZeroBits: Copy + Zero {}

// SAFETY: 0.0 is all-zero bits in IEEE 754; integer zero is all-zero bits.
unsafe impl ZeroBits for f32 {}
unsafe impl ZeroBits for f64 {}
unsafe impl ZeroBits for u32 {}
unsafe impl ZeroBits for u8 {}
unsafe impl ZeroBits for i64 {}
unsafe impl ZeroBits for usize {}

fn reserve<T>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(len)
        .map_err(|_| Error::Memory { what: what.to_string(), bytes: (len as u128) * (std::mem::size_of::<T>() as u128) })?;
    Ok(buffer)
}

/// `len` zeros, from zeroed memory.
pub fn zeros<T: ZeroBits>(len: usize, what: &str) -> Result<Vec<T>> {
    let too_large = || Error::Memory { what: what.to_string(), bytes: (len as u128) * (std::mem::size_of::<T>() as u128) };
    if len == 0 || std::mem::size_of::<T>() == 0 {
        return Ok(Vec::new());
    }
    let layout = Layout::array::<T>(len).map_err(|_| too_large())?;
    // SAFETY: the layout has a non-zero size (checked above).
    let pointer = unsafe { alloc_zeroed(layout) }.cast::<T>();
    if pointer.is_null() {
        return Err(too_large());
    }
    // SAFETY: `pointer` was allocated by the global allocator with the layout of `len` values of T (so capacity
    // `len`), and all `len` values are initialized: all-zero bytes are a valid T (`ZeroBits`).
    Ok(unsafe { Vec::from_raw_parts(pointer, len, len) })
}

/// `len` copies of `value`.
pub fn filled<T: Copy>(len: usize, value: T, what: &str) -> Result<Vec<T>> {
    let mut buffer = reserve(len, what)?;
    buffer.resize(len, value);
    Ok(buffer)
}

/// A copy of `data`.
pub fn copy_of<T: Copy>(data: &[T], what: &str) -> Result<Vec<T>> {
    let mut buffer = reserve(data.len(), what)?;
    buffer.extend_from_slice(data);
    Ok(buffer)
}

/// `rows × cols` without overflow.
pub fn area(rows: usize, cols: usize, what: &str) -> Result<usize> {
    rows.checked_mul(cols).ok_or_else(|| Error::Memory { what: what.to_string(), bytes: u128::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        assert!(matches!(zeros::<f64>(usize::MAX / 4, "huge"), Err(Error::Memory { .. })));
        assert!(area(usize::MAX, 2, "huge").is_err());
        assert_eq!(zeros::<f32>(3, "small").unwrap(), vec![0.0; 3]);
    }
}
