//! The engine-owned copy of a training set: features and targets in the model's dtype, contiguous, checked
//! once when created (finite values, label range recorded) so that epochs never re-validate or re-convert.

use rayon::prelude::*;

use crate::buffer;
use crate::error::{Error, Result, expect_len};
use crate::network::Workspace;
use crate::scalar::Real;

/// Targets as handed in: class labels (any integers) or a (rows × cols) matrix.
#[derive(Clone, Copy, Debug)]
pub enum TargetSource<'a, T> {
    Labels(&'a [i64]),
    Dense { values: &'a [T], cols: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub enum TargetData<T> {
    /// Class indices (softmax cross-entropy, hinge) and one more than the largest of them.
    Labels { labels: Vec<u32>, classes: usize },
    /// A (rows × cols) matrix (mse, binary cross-entropy).
    Dense { values: Vec<T>, cols: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    pub x: Vec<T>,
    pub rows: usize,
    pub cols: usize,
    pub targets: TargetData<T>,
    pub weights: Option<Vec<T>>,
}

/// A dataset in either float type (what the bindings hold).
#[derive(Clone, Debug)]
pub enum AnyDataset {
    F32(Dataset<f32>),
    F64(Dataset<f64>),
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

/// Labels as u32, with one more than the largest (the number of outputs they need).
fn convert_labels(labels: &[i64]) -> Result<(Vec<u32>, usize)> {
    let mut converted = buffer::zeros::<u32>(labels.len(), "y")?;
    let mut largest = 0u32;
    for (dst, &label) in converted.iter_mut().zip(labels) {
        let value = u32::try_from(label).map_err(|_| Error::value("y", format!("holds label {label}; labels must be in 0..2^32")))?;
        largest = largest.max(value);
        *dst = value;
    }
    let classes = if labels.is_empty() { 0 } else { largest as usize + 1 };
    Ok((converted, classes))
}

impl<T: Real> Dataset<T> {
    /// Copy the features (in parallel, checking they are finite in the same pass), the targets and the weights.
    pub fn copy_from(x: &[T], rows: usize, cols: usize, targets: TargetSource<'_, T>, weights: Option<&[T]>) -> Result<Self> {
        check_size(x.len(), rows, cols)?;
        let targets = match targets {
            TargetSource::Labels(labels) => {
                expect_len("y", labels.len(), rows)?;
                let (labels, classes) = convert_labels(labels)?;
                TargetData::Labels { labels, classes }
            }
            TargetSource::Dense { values, cols: k } => {
                expect_len("y", values.len(), buffer::area(rows, k, "y")?)?;
                if let Some(i) = first_non_finite(values) {
                    return Err(Error::value("y", format!("contains NaN or infinity (first at row {})", i / k.max(1))));
                }
                TargetData::Dense { values: buffer::copy_of(values, "y")?, cols: k }
            }
        };
        let weights = match weights {
            Some(w) => {
                expect_len("sample_weight", w.len(), rows)?;
                if w.iter().any(|v| !v.is_finite() || *v < T::zero()) {
                    return Err(Error::value("sample_weight", "must be finite and >= 0"));
                }
                Some(buffer::copy_of(w, "sample_weight")?)
            }
            None => None,
        };
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
        Ok(Dataset { x: copy, rows, cols, targets, weights })
    }

    /// Columns of the targets (1 for labels).
    pub fn target_cols(&self) -> usize {
        match &self.targets {
            TargetData::Labels { .. } => 1,
            TargetData::Dense { cols, .. } => *cols,
        }
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
            TargetData::Labels { labels, .. } => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_record_their_range_once() -> Result<()> {
        let x = [0.0f32; 6];
        let data = Dataset::copy_from(&x, 3, 2, TargetSource::Labels(&[0, 4, 2]), None)?;
        assert!(matches!(data.targets, TargetData::Labels { classes: 5, .. }));
        let bad = Dataset::copy_from(&x, 3, 2, TargetSource::Labels(&[0, -1, 2]), None);
        assert!(matches!(bad, Err(Error::Value { .. })));
        Ok(())
    }

    #[test]
    fn non_finite_features_are_refused_with_their_position() {
        let x = [0.0f64, 1.0, f64::NAN, 2.0];
        let error = Dataset::copy_from(&x, 2, 2, TargetSource::Labels(&[0, 1]), None).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("X contains NaN or infinity (first at index (1, 0): NaN)"));
    }
}
