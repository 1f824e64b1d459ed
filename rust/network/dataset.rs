//! The engine-owned copy of a training set: features and targets in the model's dtype, contiguous, checked
//! once when created so that epochs never re-validate or re-convert anything.

use rayon::prelude::*;

use crate::buffer;
use crate::error::{Error, Result, expect_len};
use crate::network::workspace::Workspace;
use crate::scalar::Real;

#[derive(Clone, Debug, PartialEq)]
pub enum TargetData<T> {
    /// Class indices (softmax cross-entropy, hinge).
    Labels(Vec<u32>),
    /// A (rows × cols) matrix (mse, binary cross-entropy).
    Dense { values: Vec<T>, cols: usize },
}

impl<T> TargetData<T> {
    pub fn cols(&self) -> usize {
        match self {
            TargetData::Labels(_) => 1,
            TargetData::Dense { cols, .. } => *cols,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    pub x: Vec<T>,
    pub rows: usize,
    pub cols: usize,
    pub targets: TargetData<T>,
    pub weights: Option<Vec<T>>,
}

fn first_non_finite<T: Real>(values: &[T]) -> Option<usize> {
    values.iter().position(|v| !v.is_finite())
}

/// Rows copied per task when a dataset is copied in parallel.
const COPY_CHUNK_ROWS: usize = 512;

fn check_size(x_len: usize, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::value("X", format!("must have at least one row and one column; got ({rows}, {cols})")));
    }
    if u32::try_from(rows).is_err() {
        return Err(Error::value("X", format!("must have at most {} rows; got {rows}", u32::MAX)));
    }
    expect_len("X", x_len, rows * cols)
}

fn non_finite_error<T: Real>(index: usize, cols: usize, value: T) -> Error {
    Error::value("X", format!("contains NaN or infinity (first at index ({}, {}): {})", index / cols, index % cols, value.f64()))
}

impl<T: Real> Dataset<T> {
    pub fn new(x: Vec<T>, rows: usize, cols: usize, targets: TargetData<T>, weights: Option<Vec<T>>) -> Result<Self> {
        check_size(x.len(), rows, cols)?;
        if let Some(i) = first_non_finite(&x) {
            return Err(non_finite_error(i, cols, x.get(i).copied().unwrap_or_else(T::nan)));
        }
        Self::with_features(x, rows, cols, targets, weights)
    }

    /// Copy the features from a borrowed buffer (in parallel, checking they are finite in the same pass).
    pub fn copy_from(x: &[T], rows: usize, cols: usize, targets: TargetData<T>, weights: Option<Vec<T>>) -> Result<Self> {
        check_size(x.len(), rows, cols)?;
        let mut copy = buffer::zeros(x.len(), "X")?;
        let chunk = COPY_CHUNK_ROWS * cols;
        let first_bad = copy
            .par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .enumerate()
            .filter_map(|(index, (dst, src))| {
                dst.copy_from_slice(src);
                first_non_finite(src).map(|offset| index * chunk + offset)
            })
            .min();
        if let Some(i) = first_bad {
            return Err(non_finite_error(i, cols, x.get(i).copied().unwrap_or_else(T::nan)));
        }
        Self::with_features(copy, rows, cols, targets, weights)
    }

    /// Check targets and weights against already-checked features.
    fn with_features(x: Vec<T>, rows: usize, cols: usize, targets: TargetData<T>, weights: Option<Vec<T>>) -> Result<Self> {
        match &targets {
            TargetData::Labels(labels) => expect_len("y", labels.len(), rows)?,
            TargetData::Dense { values, cols: k } => {
                expect_len("y", values.len(), rows * k)?;
                if let Some(i) = first_non_finite(values) {
                    return Err(Error::value("y", format!("contains NaN or infinity (first at row {})", i / k.max(&1))));
                }
            }
        }
        if let Some(w) = &weights {
            expect_len("sample_weight", w.len(), rows)?;
            if w.iter().any(|v| !v.is_finite() || *v < T::zero()) {
                return Err(Error::value("sample_weight", "must be finite and >= 0"));
            }
        }
        Ok(Dataset { x, rows, cols, targets, weights })
    }

    /// Copy the rows `indices` into the workspace's input, target and weight buffers.
    pub fn gather(&self, indices: &[u32], ws: &mut Workspace<T>) -> Result<()> {
        let cols = self.cols;
        let n = indices.len();
        let short = || Error::value("batch", "workspace too small for the batch");
        let input = ws.acts.first_mut().and_then(|a| a.get_mut(..n * cols)).ok_or_else(short)?;
        let copy_rows = |dst: &mut [T], rows: &[u32]| -> Result<()> {
            for (row, &i) in dst.chunks_exact_mut(cols).zip(rows) {
                let start = i as usize * cols;
                row.copy_from_slice(self.x.get(start..start + cols).ok_or_else(short)?);
            }
            Ok(())
        };
        match crate::kernels::activation::parallel_rows(input.len(), cols) {
            Some(rows) => input.par_chunks_mut(rows * cols).zip(indices.par_chunks(rows)).try_for_each(|(dst, idx)| copy_rows(dst, idx))?,
            None => copy_rows(input, indices)?,
        }
        match &self.targets {
            TargetData::Labels(labels) => {
                for (dst, &i) in ws.labels.get_mut(..n).ok_or_else(short)?.iter_mut().zip(indices) {
                    *dst = *labels.get(i as usize).ok_or_else(short)?;
                }
            }
            TargetData::Dense { values, cols: k } => {
                let dst = ws.targets.get_mut(..n * k).ok_or_else(short)?;
                for (row, &i) in dst.chunks_exact_mut(*k).zip(indices) {
                    let start = i as usize * k;
                    row.copy_from_slice(values.get(start..start + k).ok_or_else(short)?);
                }
            }
        }
        if let Some(weights) = &self.weights {
            for (dst, &i) in ws.weights.get_mut(..n).ok_or_else(short)?.iter_mut().zip(indices) {
                *dst = *weights.get(i as usize).ok_or_else(short)?;
            }
        }
        Ok(())
    }
}
