//! Buffers whose size comes from user input are allocated fallibly: a request the machine cannot satisfy is an
//! error (Python's MemoryError) instead of an abort of the whole process.

use num_traits::Zero;

use crate::error::{Error, Result};

fn reserve<T>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(len)
        .map_err(|_| Error::Memory { what: what.to_string(), bytes: (len as u128) * (std::mem::size_of::<T>() as u128) })?;
    Ok(buffer)
}

/// `len` zeros.
pub fn zeros<T: Copy + Zero>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut buffer = reserve(len, what)?;
    buffer.resize(len, T::zero());
    Ok(buffer)
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
