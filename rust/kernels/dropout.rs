//! Inverted dropout with a given mask: the mask holds `1/(1−p)` for kept units and 0 for dropped ones, so
//! forward and backward are the same element-wise product. Masks come from `rng.rs` (counter-based).

use crate::buffer;
use crate::error::{Error, Result, expect_len};
use crate::rng;
use crate::scalar::Real;

/// `x ← x ⊙ mask` (training-mode forward).
pub fn dropout_forward<T: Real>(x: &mut [T], mask: &[T]) -> Result<()> {
    expect_len("mask", mask.len(), x.len())?;
    for (v, &m) in x.iter_mut().zip(mask) {
        *v *= m;
    }
    Ok(())
}

/// `grad ← grad ⊙ mask` (the same scaling carries the gradient back).
pub fn dropout_backward<T: Real>(grad: &mut [T], mask: &[T]) -> Result<()> {
    dropout_forward(grad, mask)
}

/// Fill a (rows × cols) scaled mask for drop probability `p`, keyed by (seed, stream, step, layer, row).
pub fn dropout_mask<T: Real>(out: &mut [T], cols: usize, p: f64, seed: u64, stream: u64, step: u64, layer: usize) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::value("p", format!("must be in [0, 1); got {p}")));
    }
    if cols == 0 || !out.len().is_multiple_of(cols) {
        return Err(Error::value("mask", format!("has {} values, which do not form rows of {cols} columns", out.len())));
    }
    let threshold = rng::keep_threshold(p);
    let scale = T::of(1.0 / (1.0 - p));
    for (row, values) in out.chunks_exact_mut(cols).enumerate() {
        rng::fill_mask_row(values, rng::mask_row_key(seed, stream, step, layer, row), threshold, scale);
    }
    Ok(())
}

/// The boolean keep-mask (rows × cols) the engine draws for (seed, stream, step, layer): what `dropout_mask`
/// scales, exposed so that other implementations can reproduce the engine's masks.
pub fn keep_mask(rows: usize, cols: usize, p: f64, seed: u64, stream: u64, step: u64, layer: usize) -> Result<Vec<bool>> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::value("p", format!("must be in [0, 1); got {p}")));
    }
    let mut keep = buffer::filled(buffer::area(rows, cols, "the mask")?, false, "the mask")?;
    let threshold = rng::keep_threshold(p);
    for (row, values) in keep.chunks_exact_mut(cols.max(1)).enumerate() {
        let key = rng::mask_row_key(seed, stream, step, layer, row);
        for (c, slot) in values.iter_mut().enumerate() {
            *slot = rng::keeps(key, c, threshold);
        }
    }
    Ok(keep)
}

/// `where(keep, 1/(1-p), 0)`: the scaled mask of a boolean keep-mask.
pub fn scaled_mask<T: Real>(keep: &[bool], p: f64) -> Result<Vec<T>> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::value("p", format!("must be in [0, 1); got {p}")));
    }
    let scale = T::of(1.0 / (1.0 - p));
    let mut mask = buffer::zeros(keep.len(), "the mask")?;
    mask.iter_mut().zip(keep).filter(|(_, k)| **k).for_each(|(m, _)| *m = scale);
    Ok(mask)
}
