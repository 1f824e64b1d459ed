//! What a network takes as input: a batch's features, dense or CSR (`Features`), and the CSR batch a workspace
//! holds for a sparse input (`SparseInput`). The passes on a sparse input are in `sparse.rs`.

use crate::buffer;
use crate::error::{Error, Result};
use crate::kernels::sparse::{CsrView, Transpose};
use crate::scalar::Real;

/// A batch's features: a dense (rows × input_dim) row-major matrix, or a CSR matrix.
#[derive(Clone, Copy, Debug)]
pub enum Features<'a, T> {
    Dense(&'a [T]),
    Sparse(CsrView<'a, T>),
}

impl<'a, T: Real> Features<'a, T> {
    /// Rows `start..start + n` of a matrix of `cols` columns (no copy).
    pub fn block(&self, start: usize, n: usize, cols: usize) -> Result<Self> {
        match self {
            Features::Dense(x) => {
                Ok(Features::Dense(x.get(start * cols..(start + n) * cols).ok_or_else(|| Error::value("X", "is too short"))?))
            }
            Features::Sparse(x) => Ok(Features::Sparse(x.slice_rows(start, n)?)),
        }
    }
}

/// The sparse batch of a workspace (its CSR arrays, sized for the largest batch) and the scratch of its weight
/// gradient.
#[derive(Clone, Debug, Default)]
pub struct SparseInput<T> {
    enabled: bool,
    cols: usize,
    /// The rows of the batch loaded last.
    rows: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<T>,
    transpose: Transpose<T>,
}

fn short() -> Error {
    Error::value("batch", "workspace too small for the sparse batch")
}

impl<T: Real> SparseInput<T> {
    /// Buffers for batches of up to `rows` rows of `cols` columns and `nnz` stored entries.
    pub fn new(rows: usize, cols: usize, nnz: usize) -> Result<Self> {
        let mut transpose = Transpose::default();
        transpose.ensure(cols, nnz)?;
        Ok(SparseInput {
            enabled: true,
            cols,
            rows: 0,
            indptr: buffer::zeros(rows + 1, "the sparse batch")?,
            indices: buffer::zeros(nnz, "the sparse batch")?,
            values: buffer::zeros(nnz, "the sparse batch")?,
            transpose,
        })
    }

    /// Whether the workspace holds its input in CSR.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether batches of `cols` columns and `nnz` entries fit.
    pub fn fits(&self, cols: usize, nnz: usize) -> bool {
        self.cols == cols && nnz <= self.indices.len()
    }

    /// The batch loaded last, which must have `rows` rows.
    pub fn view(&self, rows: usize) -> Result<CsrView<'_, T>> {
        if !self.enabled || rows != self.rows {
            return Err(Error::value("batch", format!("the workspace holds a sparse batch of {} rows, not {rows}", self.rows)));
        }
        let indptr = self.indptr.get(..rows + 1).ok_or_else(short)?;
        let nnz = indptr.last().copied().unwrap_or(0);
        CsrView::new(rows, self.cols, indptr, self.indices.get(..nnz).ok_or_else(short)?, self.values.get(..nnz).ok_or_else(short)?)
    }

    /// `view` and the weight gradient's scratch.
    pub fn view_and_scratch(&mut self, rows: usize) -> Result<(CsrView<'_, T>, &mut Transpose<T>)> {
        let SparseInput { enabled, cols, rows: loaded, indptr, indices, values, transpose } = self;
        if !*enabled || rows != *loaded {
            return Err(Error::value("batch", format!("the workspace holds a sparse batch of {loaded} rows, not {rows}")));
        }
        let indptr = indptr.get(..rows + 1).ok_or_else(short)?;
        let nnz = indptr.last().copied().unwrap_or(0);
        let view = CsrView::new(rows, *cols, indptr, indices.get(..nnz).ok_or_else(short)?, values.get(..nnz).ok_or_else(short)?)?;
        Ok((view, transpose))
    }

    /// The rows of the batch loaded last.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Copy rows `rows` of `source`, in that order (`None`: all of them), as the batch.
    pub fn load(&mut self, source: &CsrView<'_, T>, rows: Option<&[u32]>) -> Result<()> {
        if !self.enabled || source.cols() != self.cols {
            return Err(Error::value("batch", format!("has {} columns; the sparse workspace holds {}", source.cols(), self.cols)));
        }
        let n = rows.map_or(source.rows(), <[u32]>::len);
        let indptr = self.indptr.get_mut(..n + 1).ok_or_else(short)?;
        let mut end = 0;
        if let Some(first) = indptr.first_mut() {
            *first = 0;
        }
        for (k, slot) in indptr.iter_mut().skip(1).enumerate() {
            let i = rows.map_or(Some(k), |rows| rows.get(k).map(|&i| i as usize)).ok_or_else(short)?;
            let (indices, values) = source.row(i).ok_or_else(|| Error::value("batch", format!("row {i} is out of range")))?;
            let start = end;
            end += indices.len();
            self.indices.get_mut(start..end).ok_or_else(short)?.copy_from_slice(indices);
            self.values.get_mut(start..end).ok_or_else(short)?.copy_from_slice(values);
            *slot = end;
        }
        self.rows = n;
        Ok(())
    }
}
