//! Sparse × dense: a Dense layer whose input is a CSR matrix (rows × cols, only the stored entries), for inputs
//! such as TF-IDF or one-hot features that would be mostly zeros as a dense matrix.
//!
//! * `sparse_dense_forward`: `out ← activation(x·W + b)`. Row i of the output is the sum, over the stored entries
//!   (c, v) of row i in their stored order, of `v·W[c, :]`, then the bias, then the activation. The rows are
//!   independent, so the batch is cut into blocks of rows on the engine's threads: any cut gives the same bits.
//! * `sparse_dense_weight_grads`: `dW ← xᵀ·dz`, `db ← Σ_rows dz`. Row c of dW is the sum of `v·dz[i, :]` over the
//!   entries (i, c, v) of column c, in the order of the rows of the batch (and, within a row, the stored order). On
//!   one thread the entries are scattered row by row into a zeroed dW; on several, the batch is first transposed
//!   (a stable counting sort by column, `Transpose`) and blocks of dW's rows are summed on the threads. Both follow
//!   the same order for every element, so the bits do not depend on the thread count. db is `column_sums(dz)`,
//!   exactly the dense path's.
//!
//! No input gradient: a sparse input is only ever the input of the first layer, which needs none.
//!
//! The matrices: `Csr` owns a checked copy (the engine dataset's), `CsrView` borrows one (a batch, a block of
//! rows), `CsrParts` is what arrives from outside (int32 or int64 index arrays, values of the model's dtype) and is
//! checked once when converted: indptr starts anywhere and never decreases, every column index is in range, and
//! (`to_csr`, the engine dataset's copy) every value is finite. Column indices need not be sorted within a row,
//! and repeated ones add up (as in SciPy).

use rayon::prelude::*;

use crate::buffer;
use crate::error::{Error, Result, expect_len};
use crate::kernels::activation::Activation;
use crate::kernels::dense::{axpy, column_sums};
use crate::scalar::Real;

/// Multiply-adds per parallel task (a block of rows, or of dW's rows): below twice this a product runs on one thread.
const TASK_WORK: usize = 1 << 14;

/// Stored entries converted and checked per task when a matrix comes in.
const CHECK_CHUNK: usize = 1 << 16;

/// A CSR matrix borrowed: row i's entries are `indices[indptr[i]..indptr[i + 1]]` (column indices) and the same
/// range of `values`. `indptr` holds rows + 1 offsets that never decrease; the first need not be 0 (a block of the
/// rows of a larger matrix).
#[derive(Clone, Copy, Debug)]
pub struct CsrView<'a, T> {
    rows: usize,
    cols: usize,
    indptr: &'a [usize],
    indices: &'a [u32],
    values: &'a [T],
}

fn malformed(what: &str, why: impl std::fmt::Display) -> Error {
    Error::value(what, format!("is not a valid CSR matrix: {why}"))
}

impl<'a, T: Real> CsrView<'a, T> {
    /// A view, its structure checked (O(rows)); the column indices and values are the owner's to check (kernels
    /// return an error for an index out of range, never read out of bounds).
    pub fn new(rows: usize, cols: usize, indptr: &'a [usize], indices: &'a [u32], values: &'a [T]) -> Result<Self> {
        let what = "sparse matrix";
        expect_len("indptr", indptr.len(), rows + 1)?;
        if indices.len() != values.len() {
            return Err(malformed(what, format!("{} column indices but {} values", indices.len(), values.len())));
        }
        if let Some(row) = indptr.windows(2).position(|pair| matches!(pair, [a, b] if a > b)) {
            return Err(malformed(what, format!("indptr[{}] < indptr[{row}] (indptr must not decrease)", row + 1)));
        }
        if indptr.last().is_some_and(|&end| end > indices.len()) {
            return Err(malformed(what, format!("indptr ends past its {} entries", indices.len())));
        }
        Ok(CsrView { rows, cols, indptr, indices, values })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        match (self.indptr.first(), self.indptr.last()) {
            (Some(first), Some(last)) => last - first,
            _ => 0,
        }
    }

    /// Every stored entry: (column indices, values), row after row.
    pub fn entries(&self) -> (&'a [u32], &'a [T]) {
        let (start, end) = (self.indptr.first().copied().unwrap_or(0), self.indptr.last().copied().unwrap_or(0));
        (self.indices.get(start..end).unwrap_or_default(), self.values.get(start..end).unwrap_or_default())
    }

    /// Row i's column indices and values.
    pub fn row(&self, i: usize) -> Option<(&'a [u32], &'a [T])> {
        let (start, end) = (*self.indptr.get(i)?, *self.indptr.get(i + 1)?);
        Some((self.indices.get(start..end)?, self.values.get(start..end)?))
    }

    /// Rows `start..start + n` (no copy).
    pub fn slice_rows(&self, start: usize, n: usize) -> Result<Self> {
        let indptr = self
            .indptr
            .get(start..start + n + 1)
            .ok_or_else(|| Error::value("sparse matrix", format!("has {} rows; rows {start}..{} asked for", self.rows, start + n)))?;
        Ok(CsrView { rows: n, indptr, ..*self })
    }

    /// Row `i` as a dense row of `cols` values (zeros elsewhere; repeated indices add up).
    pub fn densify_row(&self, i: usize, out: &mut [T]) -> Result<()> {
        expect_len("dense row", out.len(), self.cols)?;
        out.fill(T::zero());
        let (indices, values) = self.row(i).ok_or_else(|| Error::value("sparse matrix", format!("has no row {i}")))?;
        for (&c, &v) in indices.iter().zip(values) {
            *out.get_mut(c as usize).ok_or_else(|| index_error(c, self.cols))? += v;
        }
        Ok(())
    }
}

fn index_error(c: u32, cols: usize) -> Error {
    Error::value("sparse matrix", format!("holds column index {c}, out of range for {cols} columns"))
}

/// A CSR matrix owned by the engine, checked when it was made (`CsrParts::to_csr`); `indptr` starts at 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Csr<T> {
    pub rows: usize,
    pub cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<T>,
    /// The most entries in one row (sizes the batch buffers).
    pub max_row_nnz: usize,
}

impl<T: Real> Csr<T> {
    /// The matrix as a view (checked when it was made, not again: a dataset's batches take views of it).
    pub fn view(&self) -> CsrView<'_, T> {
        CsrView { rows: self.rows, cols: self.cols, indptr: &self.indptr, indices: &self.indices, values: &self.values }
    }

    /// The most entries any `rows` rows can hold together: what a batch buffer of `rows` rows needs.
    pub fn max_batch_nnz(&self, rows: usize) -> usize {
        rows.saturating_mul(self.max_row_nnz).min(self.indices.len())
    }
}

/// An index array as it comes from outside (SciPy uses int32 or int64).
#[derive(Clone, Copy, Debug)]
pub enum IndexSlice<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl IndexSlice<'_> {
    pub fn len(&self) -> usize {
        match self {
            IndexSlice::I32(s) => s.len(),
            IndexSlice::I64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, i: usize) -> Option<i64> {
        match self {
            IndexSlice::I32(s) => s.get(i).map(|&v| i64::from(v)),
            IndexSlice::I64(s) => s.get(i).copied(),
        }
    }

    fn range(&self, start: usize, end: usize) -> Option<IndexSlice<'_>> {
        Some(match self {
            IndexSlice::I32(s) => IndexSlice::I32(s.get(start..end)?),
            IndexSlice::I64(s) => IndexSlice::I64(s.get(start..end)?),
        })
    }
}

/// A CSR matrix as handed in (SciPy's `data`, `indices`, `indptr` and shape), not yet checked.
#[derive(Clone, Copy, Debug)]
pub struct CsrParts<'a, T> {
    pub rows: usize,
    pub cols: usize,
    pub indptr: IndexSlice<'a>,
    pub indices: IndexSlice<'a>,
    pub values: &'a [T],
}

/// The index arrays of a `CsrParts` in the engine's types, checked, and where its entries are in its `values`.
#[derive(Clone, Debug, Default)]
pub struct CsrIndex {
    pub rows: usize,
    pub cols: usize,
    /// From 0.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    /// The entries' first position in the original `values` (SciPy's `indptr[0]`, normally 0).
    pub start: usize,
    pub max_row_nnz: usize,
}

impl CsrIndex {
    /// The matrix over `values`, the values array the index was made from (its entries start at `start`).
    pub fn view<'a, T: Real>(&'a self, values: &'a [T]) -> Result<CsrView<'a, T>> {
        let end = self.start + self.indices.len();
        let values = values.get(self.start..end).ok_or_else(|| malformed("sparse matrix", "fewer values than entries"))?;
        CsrView::new(self.rows, self.cols, &self.indptr, &self.indices, values)
    }
}

impl<'a, T: Real> CsrParts<'a, T> {
    /// Convert and check the structure and the column indices (in parallel on large matrices); the values are
    /// not looked at. Errors name the matrix `what` ("X").
    pub fn checked_index(&self, what: &str) -> Result<CsrIndex> {
        let (rows, cols) = (self.rows, self.cols);
        if u32::try_from(cols).is_err() {
            return Err(Error::value(what, format!("must have fewer than 2^32 columns; got {cols}")));
        }
        if self.indptr.len() != rows + 1 {
            return Err(malformed(what, format!("indptr has {} entries for {rows} rows (expected {})", self.indptr.len(), rows + 1)));
        }
        if self.indices.len() != self.values.len() {
            return Err(malformed(what, format!("{} column indices but {} values", self.indices.len(), self.values.len())));
        }
        let mut indptr = buffer::zeros::<usize>(rows + 1, what)?;
        let first = self.indptr.get(0).unwrap_or(0);
        let start = usize::try_from(first).map_err(|_| malformed(what, format!("indptr starts at {first}")))?;
        let mut previous = first;
        let mut max_row_nnz = 0usize;
        for (i, slot) in indptr.iter_mut().enumerate() {
            let value = self.indptr.get(i).unwrap_or(previous);
            if value < previous {
                return Err(malformed(what, format!("indptr[{i}] < indptr[{}] (indptr must not decrease)", i.saturating_sub(1))));
            }
            if usize::try_from(value).map_or(true, |v| v > self.indices.len()) {
                return Err(malformed(what, format!("indptr holds {value}, past its {} entries", self.indices.len())));
            }
            max_row_nnz = max_row_nnz.max((value - previous) as usize);
            *slot = (value - first) as usize;
            previous = value;
        }
        let nnz = indptr.last().copied().unwrap_or(0);
        let source = self.indices.range(start, start + nnz).ok_or_else(|| malformed(what, "indptr past the entries"))?;
        let mut indices = buffer::zeros::<u32>(nnz, what)?;
        let limit = cols as i64;
        let convert = |offset: usize, dst: &mut [u32]| -> Option<usize> {
            for (k, slot) in dst.iter_mut().enumerate() {
                match source.get(offset + k) {
                    Some(c) if (0..limit).contains(&c) => *slot = c as u32,
                    _ => return Some(offset + k),
                }
            }
            None
        };
        let first_bad = if nnz >= 2 * CHECK_CHUNK && crate::threads::available() > 1 {
            indices.par_chunks_mut(CHECK_CHUNK).enumerate().filter_map(|(chunk, dst)| convert(chunk * CHECK_CHUNK, dst)).min()
        } else {
            convert(0, &mut indices)
        };
        if let Some(k) = first_bad {
            let row = indptr.partition_point(|&p| p <= k).saturating_sub(1);
            let c = source.get(k).unwrap_or(-1);
            return Err(Error::value(what, format!("holds column index {c} in row {row}, out of range for {cols} columns")));
        }
        Ok(CsrIndex { rows, cols, indptr, indices, start, max_row_nnz })
    }

    /// An engine copy of the matrix, checked (structure, column indices in range, finite values), in the
    /// engine's index types.
    pub fn to_csr(&self, what: &str) -> Result<Csr<T>> {
        let index = self.checked_index(what)?;
        let source = index.view(self.values)?.values;
        let mut values = buffer::zeros::<T>(source.len(), what)?;
        let copy = |offset: usize, (dst, src): (&mut [T], &[T])| {
            dst.copy_from_slice(src);
            src.iter().position(|v| !v.is_finite()).map(|k| offset + k)
        };
        let bad = if values.len() >= 2 * CHECK_CHUNK && crate::threads::available() > 1 {
            values
                .par_chunks_mut(CHECK_CHUNK)
                .zip(source.par_chunks(CHECK_CHUNK))
                .enumerate()
                .filter_map(|(chunk, pair)| copy(chunk * CHECK_CHUNK, pair))
                .min()
        } else {
            copy(0, (&mut values, source))
        };
        if let Some(k) = bad {
            return Err(non_finite(&index, source, k, what));
        }
        let CsrIndex { rows, cols, indptr, indices, max_row_nnz, .. } = index;
        Ok(Csr { rows, cols, indptr, indices, values, max_row_nnz })
    }
}

fn non_finite<T: Real>(index: &CsrIndex, values: &[T], k: usize, what: &str) -> Error {
    let row = index.indptr.partition_point(|&p| p <= k).saturating_sub(1);
    let col = index.indices.get(k).copied().unwrap_or(0);
    let value = values.get(k).map_or(f64::NAN, |v| v.f64());
    Error::value(what, format!("contains NaN or infinity (first at index ({row}, {col}): {value})"))
}

/// Whether a product of `work` multiply-adds is split across the engine's threads.
fn parallel(work: usize) -> bool {
    work >= 2 * TASK_WORK && crate::threads::available() > 1
}

/// `out += Σ v·W[c, :]` over one row's entries (one dispatch for the row). False for an index out of range.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn accumulate_row<T: Real>(out: &mut [T], indices: &[u32], values: &[T], w: &[T]) -> bool {
    let fan_out = out.len();
    for (&c, &v) in indices.iter().zip(values) {
        let start = c as usize * fan_out;
        match w.get(start..start + fan_out) {
            Some(w_row) => axpy(out, v, w_row),
            None => return false,
        }
    }
    true
}

/// `out ← activation(x·W + b)` for a CSR `x` (rows × fan_in), W (fan_in × fan_out, row-major), `out`
/// (rows × fan_out, row-major). See the module docs for the order of the sums.
pub fn sparse_dense_forward<T: Real>(x: CsrView<'_, T>, w: &[T], b: &[T], activation: Activation, out: &mut [T]) -> Result<()> {
    let fan_out = b.len();
    expect_len("W", w.len(), buffer::area(x.cols, fan_out, "W")?)?;
    expect_len("output", out.len(), buffer::area(x.rows, fan_out, "the output")?)?;
    if fan_out == 0 {
        return Ok(());
    }
    let rows_of = |first: usize, block: &mut [T]| -> Result<()> {
        for (offset, row) in block.chunks_exact_mut(fan_out).enumerate() {
            let (indices, values) = x.row(first + offset).ok_or_else(|| Error::value("sparse matrix", "row out of range"))?;
            row.fill(T::zero());
            if !accumulate_row(row, indices, values, w) {
                let bad = indices.iter().copied().find(|&c| c as usize >= x.cols).unwrap_or(0);
                return Err(index_error(bad, x.cols));
            }
            for (value, &bias) in row.iter_mut().zip(b) {
                *value += bias;
            }
            activation.forward(row, fan_out);
        }
        Ok(())
    };
    let work = x.nnz().max(x.rows).saturating_mul(fan_out);
    if parallel(work) {
        // Blocks of about TASK_WORK multiply-adds at the matrix's mean density (any cut gives the same bits).
        let per_row = (work / x.rows.max(1)).max(1);
        let block = (TASK_WORK / per_row).max(1);
        out.par_chunks_mut(block * fan_out).enumerate().try_for_each(|(index, chunk)| rows_of(index * block, chunk))
    } else {
        rows_of(0, out)
    }
}

/// A batch transposed to columns (CSC) for the parallel weight gradient: column c's entries are
/// `rows[start(c)..end(c)]` and the same range of `values`, in the order of the batch's rows. Reused across
/// batches; sized once (`ensure`).
#[derive(Clone, Debug, Default)]
pub struct Transpose<T> {
    /// After `fill`, `col_end[c]` is the end of column c's entries (its start is `col_end[c - 1]`, 0 for c = 0).
    col_end: Vec<usize>,
    rows: Vec<u32>,
    values: Vec<T>,
}

impl<T: Real> Transpose<T> {
    /// Room for matrices of up to `cols` columns and `nnz` entries (allocates only to grow).
    pub fn ensure(&mut self, cols: usize, nnz: usize) -> Result<()> {
        if self.col_end.len() < cols + 1 {
            self.col_end = buffer::zeros(cols + 1, "the sparse transpose")?;
        }
        if self.rows.len() < nnz {
            self.rows = buffer::zeros(nnz, "the sparse transpose")?;
            self.values = buffer::zeros(nnz, "the sparse transpose")?;
        }
        Ok(())
    }

    /// A stable counting sort of `x`'s entries by column.
    fn fill(&mut self, x: &CsrView<'_, T>) -> Result<()> {
        let (cols, nnz) = (x.cols, x.nnz());
        let short = || Error::value("sparse transpose", "buffers too small");
        let col_end = self.col_end.get_mut(..cols + 1).ok_or_else(short)?;
        let (rows, values) = (self.rows.get_mut(..nnz).ok_or_else(short)?, self.values.get_mut(..nnz).ok_or_else(short)?);
        col_end.fill(0);
        for &c in x.entries().0 {
            *col_end.get_mut(c as usize + 1).ok_or_else(|| index_error(c, cols))? += 1;
        }
        let mut total = 0;
        for slot in col_end.iter_mut() {
            total += *slot;
            *slot = total;
        }
        // col_end[c] is now column c's start; each entry placed moves it on, so that it ends as column c's end.
        for i in 0..x.rows {
            let (indices, row_values) = x.row(i).ok_or_else(short)?;
            for (&c, &v) in indices.iter().zip(row_values) {
                let next = col_end.get_mut(c as usize).ok_or_else(|| index_error(c, cols))?;
                *rows.get_mut(*next).ok_or_else(short)? = i as u32;
                *values.get_mut(*next).ok_or_else(short)? = v;
                *next += 1;
            }
        }
        Ok(())
    }
}

/// `dW ← xᵀ·dz` and `db ← Σ_rows dz` for a CSR `x` (rows × fan_in), dz (rows × fan_out), dW (fan_in × fan_out),
/// all row-major; `scratch` holds the transpose used on several threads. See the module docs for the order.
pub fn sparse_dense_weight_grads<T: Real>(
    x: CsrView<'_, T>,
    dz: &[T],
    dw: &mut [T],
    db: &mut [T],
    scratch: &mut Transpose<T>,
) -> Result<()> {
    let fan_out = db.len();
    expect_len("dz", dz.len(), buffer::area(x.rows, fan_out, "dz")?)?;
    expect_len("dW", dw.len(), buffer::area(x.cols, fan_out, "dW")?)?;
    let dz_view = ndarray::ArrayView2::from_shape((x.rows, fan_out), dz).map_err(|e| Error::value("dz", e.to_string()))?;
    column_sums(dz_view, db);
    if fan_out == 0 {
        return Ok(());
    }
    let short = || Error::value("sparse weight gradient", "row out of range");
    if !parallel(x.nnz().saturating_mul(fan_out).max(dw.len())) {
        dw.fill(T::zero());
        for (i, dz_row) in dz.chunks_exact(fan_out).enumerate() {
            let (indices, values) = x.row(i).ok_or_else(short)?;
            if !scatter_row(dw, indices, values, dz_row) {
                let bad = indices.iter().copied().find(|&c| c as usize >= x.cols).unwrap_or(0);
                return Err(index_error(bad, x.cols));
            }
        }
        return Ok(());
    }
    scratch.ensure(x.cols, x.nnz())?;
    scratch.fill(&x)?;
    let Transpose { col_end, rows, values } = &*scratch;
    // Blocks of dW's rows of about TASK_WORK values (any cut gives the same bits).
    let block = (TASK_WORK / fan_out).max(1);
    dw.par_chunks_mut(block * fan_out).enumerate().try_for_each(|(index, chunk)| {
        let first = index * block;
        for (offset, dw_row) in chunk.chunks_exact_mut(fan_out).enumerate() {
            let c = first + offset;
            let start = if c == 0 { 0 } else { col_end.get(c - 1).copied().ok_or_else(short)? };
            let end = col_end.get(c).copied().ok_or_else(short)?;
            let (rows, values) = (rows.get(start..end).ok_or_else(short)?, values.get(start..end).ok_or_else(short)?);
            dw_row.fill(T::zero());
            if !gather_column(dw_row, rows, values, dz) {
                return Err(short());
            }
        }
        Ok(())
    })
}

/// `dW[c, :] += v·dz_row` over one row's entries (one dispatch for the row). False for an index out of range.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn scatter_row<T: Real>(dw: &mut [T], indices: &[u32], values: &[T], dz_row: &[T]) -> bool {
    let fan_out = dz_row.len();
    for (&c, &v) in indices.iter().zip(values) {
        let start = c as usize * fan_out;
        match dw.get_mut(start..start + fan_out) {
            Some(dw_row) => axpy(dw_row, v, dz_row),
            None => return false,
        }
    }
    true
}

/// `dw_row += Σ v·dz[i, :]` over one column's entries (one dispatch for the column). False for a row out of range.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn gather_column<T: Real>(dw_row: &mut [T], rows: &[u32], values: &[T], dz: &[T]) -> bool {
    let fan_out = dw_row.len();
    for (&i, &v) in rows.iter().zip(values) {
        let start = i as usize * fan_out;
        match dz.get(start..start + fan_out) {
            Some(dz_row) => axpy(dw_row, v, dz_row),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A deterministic sparse matrix with unsorted and repeated column indices and an empty row, as CSR parts.
    fn parts(rows: usize, cols: usize, per_row: usize) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        let (mut indptr, mut indices, mut values) = (vec![0i64], Vec::new(), Vec::new());
        for i in 0..rows {
            let count = if i % 7 == 3 { 0 } else { 1 + (i * 5) % per_row };
            for k in 0..count {
                indices.push(((i * 31 + k * 17) % cols) as i64);
                values.push(((i * 13 + k * 7) % 11) as f64 * 0.25 - 1.2);
            }
            if count > 1 {
                indices.push(indices[indices.len() - 1]); // a repeated index: the two add up
                values.push(0.5);
            }
            indptr.push(indices.len() as i64);
        }
        (indptr, indices, values)
    }

    fn dense_of(csr: &Csr<f64>) -> Array2<f64> {
        let mut dense = Array2::zeros((csr.rows, csr.cols));
        let view = csr.view();
        for i in 0..csr.rows {
            let (indices, values) = view.row(i).unwrap();
            for (&c, &v) in indices.iter().zip(values) {
                dense[(i, c as usize)] += v;
            }
        }
        dense
    }

    fn matrix(rows: usize, cols: usize, seed: usize) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 7 + j * 3 + seed) % 13) as f64 * 0.1 - 0.6)
    }

    fn csr(rows: usize, cols: usize, per_row: usize) -> Csr<f64> {
        let (indptr, indices, values) = parts(rows, cols, per_row);
        let source = CsrParts { rows, cols, indptr: IndexSlice::I64(&indptr), indices: IndexSlice::I64(&indices), values: &values };
        source.to_csr("X").unwrap()
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
    }

    fn with_threads<R: Send>(threads: usize, work: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(work)
    }

    #[test]
    fn kernels_match_the_dense_products() -> Result<()> {
        let x = csr(37, 23, 6);
        let dense = dense_of(&x);
        let (w, b) = (matrix(23, 5, 1), [0.1, -0.2, 0.3, 0.0, 0.5]);
        let mut out = vec![0.0; 37 * 5];
        sparse_dense_forward(x.view(), w.as_slice().unwrap(), &b, Activation::Linear, &mut out)?;
        let expected = dense.dot(&w) + ndarray::arr1(&b);
        assert!(close(&out, expected.as_slice().unwrap()));
        let dz = matrix(37, 5, 2);
        let (mut dw, mut db) = (vec![0.0; 23 * 5], vec![0.0; 5]);
        sparse_dense_weight_grads(x.view(), dz.as_slice().unwrap(), &mut dw, &mut db, &mut Transpose::default())?;
        assert!(close(&dw, dense.t().dot(&dz).as_slice().unwrap()));
        assert_eq!(db, dz.sum_axis(ndarray::Axis(0)).to_vec());
        Ok(())
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() -> Result<()> {
        // Large enough for the parallel plans (row blocks; the transposed weight gradient).
        let x = csr(3000, 700, 40);
        let (w, b, dz) = (matrix(700, 24, 3), vec![0.05; 24], matrix(3000, 24, 4));
        let run = || -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
            let mut out = vec![0.0; 3000 * 24];
            sparse_dense_forward(x.view(), w.as_slice().unwrap_or(&[]), &b, Activation::Tanh, &mut out)?;
            let (mut dw, mut db) = (vec![0.0; 700 * 24], vec![0.0; 24]);
            sparse_dense_weight_grads(x.view(), dz.as_slice().unwrap_or(&[]), &mut dw, &mut db, &mut Transpose::default())?;
            Ok((out, dw, db))
        };
        let one = with_threads(1, run)?;
        for threads in [2, 3, 4] {
            assert_eq!(with_threads(threads, run)?, one, "{threads} threads");
        }
        Ok(())
    }

    #[test]
    fn blocks_of_rows_and_single_rows_read_the_same_entries() -> Result<()> {
        let x = csr(20, 9, 4);
        let dense = dense_of(&x);
        let block = x.view().slice_rows(5, 6)?;
        assert_eq!((block.rows(), block.cols()), (6, 9));
        let mut row = vec![0.0; 9];
        for i in 0..6 {
            block.densify_row(i, &mut row)?;
            assert_eq!(row, dense.row(5 + i).to_vec());
        }
        assert!(x.view().slice_rows(15, 6).is_err());
        Ok(())
    }

    #[test]
    fn incoming_matrices_are_checked_once_with_their_position() {
        let (indptr, indices, values) = (vec![0i32, 2, 3], vec![1i32, 0, 2], vec![1.0f64, 2.0, 3.0]);
        let source = |indptr: &'static [i32], indices: &'static [i32], values: &'static [f64]| CsrParts {
            rows: 2,
            cols: 3,
            indptr: IndexSlice::I32(indptr),
            indices: IndexSlice::I32(indices),
            values,
        };
        let leaked = |v: Vec<i32>| -> &'static [i32] { v.leak() };
        let ok = source(leaked(indptr.clone()), leaked(indices.clone()), values.clone().leak()).to_csr("X").unwrap();
        assert_eq!((ok.indptr.clone(), ok.indices.clone(), ok.max_row_nnz), (vec![0, 2, 3], vec![1, 0, 2], 2));
        let error = |parts: CsrParts<'_, f64>| parts.to_csr("X").err().map(|e| e.to_string()).unwrap_or_default();
        let bad_index = error(source(leaked(indptr.clone()), leaked(vec![1, 0, 3]), values.clone().leak()));
        assert_eq!(bad_index, "X holds column index 3 in row 1, out of range for 3 columns");
        let negative = error(source(leaked(indptr.clone()), leaked(vec![1, -1, 0]), values.clone().leak()));
        assert_eq!(negative, "X holds column index -1 in row 0, out of range for 3 columns");
        let nan = error(source(leaked(indptr.clone()), leaked(indices.clone()), vec![1.0, 2.0, f64::NAN].leak()));
        assert_eq!(nan, "X contains NaN or infinity (first at index (1, 2): NaN)");
        let decreasing = error(source(leaked(vec![0, 3, 2]), leaked(indices.clone()), values.clone().leak()));
        assert_eq!(decreasing, "X is not a valid CSR matrix: indptr[2] < indptr[1] (indptr must not decrease)");
        let past = error(source(leaked(vec![0, 2, 4]), leaked(indices.clone()), values.clone().leak()));
        assert!(past.contains("past its 3 entries"), "{past}");
        // A block of rows of a larger matrix: indptr starts past 0, and only its entries are read.
        let block = source(leaked(vec![1, 2, 3]), leaked(vec![7, 0, 2]), vec![f64::NAN, 2.0, 3.0].leak()).to_csr("X").unwrap();
        assert_eq!((block.indptr, block.indices, block.values), (vec![0, 1, 2], vec![0, 2], vec![2.0, 3.0]));
    }

    #[test]
    fn an_index_out_of_range_in_a_view_is_an_error_not_a_panic() -> Result<()> {
        let (indptr, indices, values) = ([0usize, 1, 2], [0u32, 5], [1.0f64, 1.0]);
        let x = CsrView::new(2, 3, &indptr, &indices, &values)?;
        let mut out = vec![0.0; 2 * 2];
        assert!(sparse_dense_forward(x, &[0.0; 6], &[0.0; 2], Activation::Linear, &mut out).is_err());
        let (mut dw, mut db) = (vec![0.0; 6], vec![0.0; 2]);
        assert!(sparse_dense_weight_grads(x, &[0.0; 4], &mut dw, &mut db, &mut Transpose::default()).is_err());
        assert!(CsrView::new(2, 3, &[0, 2, 1], &indices, &values).is_err());
        Ok(())
    }
}
