//! The engine-owned copy of a training set: features and targets in the model's dtype, contiguous, checked
//! once when created so that epochs never re-validate or re-convert anything.

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

impl<T: Real> Dataset<T> {
    pub fn new(x: Vec<T>, rows: usize, cols: usize, targets: TargetData<T>, weights: Option<Vec<T>>) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::value("X", format!("needs at least one row and one column; got ({rows}, {cols})")));
        }
        if u32::try_from(rows).is_err() {
            return Err(Error::value("X", format!("at most {} rows are supported; got {rows}", u32::MAX)));
        }
        expect_len("X", x.len(), rows * cols)?;
        if let Some(i) = first_non_finite(&x) {
            return Err(Error::value("X", format!("contains NaN or infinity (first at row {}, column {})", i / cols, i % cols)));
        }
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
        for (dst, &i) in input.chunks_exact_mut(cols).zip(indices) {
            let start = i as usize * cols;
            dst.copy_from_slice(self.x.get(start..start + cols).ok_or_else(short)?);
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
