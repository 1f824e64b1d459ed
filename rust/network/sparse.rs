//! Sparse input: a network whose X is a CSR matrix. Only the first layer sees X, and it must be a Dense layer:
//! it multiplies the sparse rows by its dense weights (`kernels::sparse`), and its gradient with respect to X is
//! never needed. Every other layer, the loss and the optimizers work as with a dense X.
//!
//! In training, the batch is kept in CSR in the workspace (`SparseInput`, gathered row by row from the engine
//! dataset or copied from a batch handed in); no dense copy of the batch exists. A batch of one row is also
//! written densely into `acts[0]` (one row of `input_dim` values), so that the online (batch-1) path runs on it
//! unchanged. Inference takes blocks of rows of the CSR matrix as they are (views, no copy).

use crate::buffer;
use crate::error::{Error, Result};
use crate::kernels::sparse::{self, CsrView, Transpose};
use crate::network::layer::{Layer, LayerCache, PassContext};
use crate::network::network::Network;
use crate::network::workspace::Workspace;
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

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.indptr.len() * size_of::<usize>()
            + self.indices.len() * size_of::<u32>()
            + self.values.len() * size_of::<T>()
            + self.transpose.bytes()
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

    /// Copy rows `rows` of `source`, in that order (`None`: all of them).
    fn load(&mut self, source: &CsrView<'_, T>, rows: Option<&[u32]>) -> Result<()> {
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

impl<T: Real> Workspace<T> {
    /// Load rows `rows` of a sparse matrix (all of them for `None`) as the batch, in a workspace sized by
    /// `ensure_sparse`; a batch of one row is also written densely into `acts[0]` (for the online path).
    pub fn load_sparse(&mut self, source: &CsrView<'_, T>, rows: Option<&[u32]>) -> Result<()> {
        self.sparse.load(source, rows)?;
        if self.sparse.rows == 1 {
            let batch = self.sparse.view(1)?;
            let row = self.acts.first_mut().and_then(|a| a.get_mut(..batch.cols())).ok_or_else(short)?;
            batch.densify_row(0, row)?;
        }
        Ok(())
    }
}

impl<T: Real> Network<T> {
    /// The one check of a sparse input: `cols` columns for the network's input, and a Dense first layer.
    pub fn check_sparse_input(&self, cols: usize) -> Result<()> {
        if cols != self.input_dim {
            return Err(Error::value("X", format!("has {cols} features, the model expects {}", self.input_dim)));
        }
        match self.layers.first() {
            Some(Layer::Dense(_)) => Ok(()),
            other => Err(Error::value(
                "X",
                format!(
                    "is sparse: the first layer must be a Dense layer, which multiplies the sparse rows; this model starts with a {} layer",
                    other.map_or("missing", Layer::kind)
                ),
            )),
        }
    }

    /// Features of `rows` rows for this network: their shape (and, sparse, a Dense first layer).
    pub fn check_features(&self, x: &Features<'_, T>, rows: usize) -> Result<()> {
        match x {
            Features::Dense(x) if x.len() != rows * self.input_dim => {
                Err(Error::shape("X", format!("({rows}, {})", self.input_dim), format!("{} values", x.len())))
            }
            Features::Dense(_) => Ok(()),
            Features::Sparse(x) if x.rows() != rows => {
                Err(Error::shape("X", format!("({rows}, {})", self.input_dim), format!("({}, {})", x.rows(), x.cols())))
            }
            Features::Sparse(x) => self.check_sparse_input(x.cols()),
        }
    }
}

fn not_dense<T: Real>(layer: &Layer<T>) -> Error {
    Error::value("X", format!("is sparse: only a Dense layer can take it; got a {} layer", layer.kind()))
}

impl<T: Real> Layer<T> {
    /// The forward pass of the layer that takes the network's input (dense or sparse), `rows` rows.
    pub fn forward_features(
        &self,
        x: Features<'_, T>,
        y: &mut [T],
        rows: usize,
        cache: &mut LayerCache<T>,
        ctx: PassContext,
    ) -> Result<()> {
        match x {
            Features::Dense(x) => self.forward(x, y, rows, cache, ctx),
            Features::Sparse(x) => self.forward_sparse(x, y, cache, ctx),
        }
    }

    /// Forward pass of a Dense layer on a CSR input: `y ← activation(x·W + b)` (W masked by DropConnect in
    /// training mode, as `forward`).
    pub fn forward_sparse(&self, x: CsrView<'_, T>, y: &mut [T], cache: &mut LayerCache<T>, ctx: PassContext) -> Result<()> {
        let Layer::Dense(d) = self else { return Err(not_dense(self)) };
        let y = y.get_mut(..x.rows() * d.fan_out).ok_or_else(|| Error::value("output", "buffer too small"))?;
        let activation = if ctx.skip_activation { crate::kernels::activation::Activation::Linear } else { d.activation };
        let weight = d.pass_weight(cache, ctx)?;
        sparse::sparse_dense_forward(x, weight, &d.bias.value, activation, y)
    }

    /// Backward pass of a Dense layer on a CSR input: the parameter gradients only (as `backward` without an
    /// input gradient). `grad` holds d loss / d output and is overwritten.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_sparse(
        &self,
        x: CsrView<'_, T>,
        y: &[T],
        grad: &mut [T],
        cache: &LayerCache<T>,
        param_grads: &mut [Vec<T>],
        transpose: &mut Transpose<T>,
        ctx: PassContext,
    ) -> Result<()> {
        let Layer::Dense(d) = self else { return Err(not_dense(self)) };
        let len = x.rows() * d.fan_out;
        let short = || Error::value("backward", "buffer too small");
        let (y, grad) = (y.get(..len).ok_or_else(short)?, grad.get_mut(..len).ok_or_else(short)?);
        if !ctx.skip_activation {
            d.activation.backward_parallel(grad, y, d.fan_out);
        }
        let [dw, db] = param_grads else {
            return Err(Error::value("backward", "a dense layer has two parameter gradients"));
        };
        sparse::sparse_dense_weight_grads(x, grad, dw, db, transpose)?;
        if ctx.training && d.dropconnect > 0.0 {
            crate::kernels::dropout::dropout_backward(dw, &cache.mask)?;
        }
        Ok(())
    }
}
