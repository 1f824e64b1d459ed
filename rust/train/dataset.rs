//! The engine-owned copy of a training set: features and targets in the model's dtype, contiguous, checked
//! once when created (finite values, label range recorded) so that epochs never re-validate or re-convert.
//! Features are dense (rows × cols) or sparse (CSR, `copy_sparse`): sparse batches are gathered in CSR (see
//! `network/sparse.rs`).

use rayon::prelude::*;

use crate::buffer;
use crate::error::{Error, Result, expect_len};
use crate::kernels::sparse::{Csr, CsrParts};
use crate::network::{Network, Workspace};
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
    /// Dense features (rows × cols), row-major; empty when `sparse` holds them.
    pub x: Vec<T>,
    /// Sparse features (CSR), or None.
    pub sparse: Option<Csr<T>>,
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
    check_dims(rows, cols)?;
    expect_len("X", x_len, rows * cols)
}

fn check_dims(rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::value("X", format!("must have at least one row and one column; got ({rows}, {cols})")));
    }
    if u32::try_from(rows).is_err() {
        return Err(Error::value("X", format!("must have at most {} rows; got {rows}", u32::MAX)));
    }
    Ok(())
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

type Copied<T> = (TargetData<T>, Option<Vec<T>>);

/// The targets and the sample weights of `rows` rows, checked and copied.
fn copy_targets<T: Real>(rows: usize, targets: TargetSource<'_, T>, weights: Option<&[T]>) -> Result<Copied<T>> {
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
    Ok((targets, weights))
}

/// A batch's rows are scattered over the data set (shuffled): each row's first cache line is requested this
/// many rows ahead, so that the misses overlap instead of stalling the copy one after another.
const PREFETCH_AHEAD: usize = 16;

/// While copying the `at`-th of the batch's rows `indices` out of `data` (rows `width` values wide), ask for the
/// first cache line of the row `PREFETCH_AHEAD` further on (a hint: any address is allowed, nothing is read).
#[inline(always)]
fn prefetch_ahead<T>(data: &[T], indices: &[u32], at: usize, width: usize) {
    let Some(&ahead) = indices.get(at + PREFETCH_AHEAD) else { return };
    let ptr = data.as_ptr().wrapping_add(ahead as usize * width);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no state visible to the program; SSE is part of x86_64.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

impl<T: Real> Dataset<T> {
    /// Copy the features (in parallel, checking they are finite in the same pass), the targets and the weights.
    pub fn copy_from(x: &[T], rows: usize, cols: usize, targets: TargetSource<'_, T>, weights: Option<&[T]>) -> Result<Self> {
        check_size(x.len(), rows, cols)?;
        let (targets, weights) = copy_targets(rows, targets, weights)?;
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
        Ok(Dataset { x: copy, sparse: None, rows, cols, targets, weights })
    }

    /// `copy_from` for sparse features: a CSR copy (int32/int64 indices converted; column indices and values
    /// checked in the same pass as the copy), the targets and the weights.
    pub fn copy_sparse(x: CsrParts<'_, T>, targets: TargetSource<'_, T>, weights: Option<&[T]>) -> Result<Self> {
        let (rows, cols) = (x.rows, x.cols);
        check_dims(rows, cols)?;
        let (targets, weights) = copy_targets(rows, targets, weights)?;
        let csr = x.to_csr("X")?;
        Ok(Dataset { x: Vec::new(), sparse: Some(csr), rows, cols, targets, weights })
    }

    /// Whether the features are sparse.
    pub fn is_sparse(&self) -> bool {
        self.sparse.is_some()
    }

    /// Size `ws` for batches of up to `batch_size` rows of this dataset through `net`.
    pub fn ensure_workspace(&self, net: &Network<T>, ws: &mut Workspace<T>, batch_size: usize) -> Result<()> {
        match &self.sparse {
            Some(csr) => {
                net.check_sparse_input(csr.cols)?;
                ws.ensure_sparse(&net.layers, net.input_dim, net.target_cols(), batch_size, csr.max_batch_nnz(batch_size))
            }
            None => ws.ensure(&net.layers, net.input_dim, net.target_cols(), batch_size),
        }
    }

    /// Columns of the targets (1 for labels).
    pub fn target_cols(&self) -> usize {
        match &self.targets {
            TargetData::Labels { .. } => 1,
            TargetData::Dense { cols, .. } => *cols,
        }
    }

    /// Copy the rows `indices` into the workspace's input (dense, or sparse: see `ensure_workspace`), target
    /// and weight buffers.
    pub fn gather(&self, indices: &[u32], ws: &mut Workspace<T>) -> Result<()> {
        let cols = self.cols;
        let n = indices.len();
        let short = || Error::value("batch", "workspace too small for the batch");
        if let Some(csr) = &self.sparse {
            ws.load_sparse(&csr.view(), Some(indices))?;
        } else {
            let input = ws.acts.first_mut().and_then(|a| a.get_mut(..n * cols)).ok_or_else(short)?;
            let copy_rows = |dst: &mut [T], rows: &[u32]| -> Result<()> {
                for (r, (row, &i)) in dst.chunks_exact_mut(cols).zip(rows).enumerate() {
                    prefetch_ahead(&self.x, rows, r, cols);
                    let start = i as usize * cols;
                    row.copy_from_slice(self.x.get(start..start + cols).ok_or_else(short)?);
                }
                Ok(())
            };
            match crate::kernels::activation::parallel_rows(input.len(), cols) {
                Some(rows) => crate::parallel::for_each_chunk_mut(input, rows * cols, |index, dst| {
                    copy_rows(dst, indices.get(index * rows..).unwrap_or(&[]))
                })?,
                None => copy_rows(input, indices)?,
            }
        }
        match &self.targets {
            TargetData::Labels { labels, .. } => {
                for (r, (dst, &i)) in ws.labels.get_mut(..n).ok_or_else(short)?.iter_mut().zip(indices).enumerate() {
                    prefetch_ahead(labels, indices, r, 1);
                    *dst = *labels.get(i as usize).ok_or_else(short)?;
                }
            }
            TargetData::Dense { values, cols: k } => {
                let dst = ws.targets.get_mut(..n * k).ok_or_else(short)?;
                for (r, (row, &i)) in dst.chunks_exact_mut(*k).zip(indices).enumerate() {
                    prefetch_ahead(values, indices, r, *k);
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

    mod sparse {
        use std::time::Duration;

        use super::*;
        use crate::init::Init;
        use crate::kernels::activation::Activation;
        use crate::kernels::loss::Loss;
        use crate::kernels::sparse::IndexSlice;
        use crate::network::layer::Layer;
        use crate::network::{LayerSpec, NetworkSpec};
        use crate::optim::{Optimizer, SgdRule};
        use crate::train::Trainer;

        const ROWS: usize = 53; // batches of 8: a last one of 5
        const COLS: usize = 40;

        /// A mostly-zero matrix (dense), and its nonzeros as CSR parts (int32 indices, as SciPy's).
        fn features() -> (Vec<f64>, Vec<i32>, Vec<i32>, Vec<f64>) {
            let dense: Vec<f64> =
                (0..ROWS * COLS).map(|k| if (k * 7919) % 23 < 3 { ((k * 31) % 17) as f64 * 0.2 - 1.6 } else { 0.0 }).collect();
            let (mut indptr, mut indices, mut values) = (vec![0i32], Vec::new(), Vec::new());
            for row in dense.chunks(COLS) {
                for (c, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                    indices.push(c as i32);
                    values.push(v);
                }
                indptr.push(indices.len() as i32);
            }
            (dense, indptr, indices, values)
        }

        fn network(layers: Vec<LayerSpec>) -> Result<Network<f64>> {
            let spec = NetworkSpec {
                input_dim: COLS,
                layers,
                loss: Loss::SoftmaxCrossEntropy,
                l1: 1e-4,
                l2: 1e-3,
                penalty_per_sample: false,
                seed: 5,
            };
            Network::new(&spec)
        }

        fn layers() -> Vec<LayerSpec> {
            vec![
                LayerSpec::Dense { units: 16, activation: Activation::Relu, init: Init::He, dropconnect: 0.1 },
                LayerSpec::Dropout(0.2),
                LayerSpec::Dense { units: 3, activation: Activation::Softmax, init: Init::He, dropconnect: 0.0 },
            ]
        }

        fn train(layers: Vec<LayerSpec>, data: &Dataset<f64>, batch_size: usize, threads: usize) -> Result<Vec<Layer<f64>>> {
            let mut net = network(layers)?;
            let mut trainer = Trainer::new();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::value("pool", e.to_string()))?;
            pool.install(|| -> Result<()> {
                trainer.begin_fit(&net, Optimizer::Sgd(SgdRule { lr: 0.05, momentum: 0.9, nesterov: false }), false)?;
                for _ in 0..2 {
                    trainer.begin_epoch(&net, data, batch_size, true, 0)?;
                    let report = trainer.train_chunk(&mut net, data, Duration::from_secs(600), None)?;
                    assert!(report.done);
                }
                trainer.end_fit(&mut net, true);
                Ok(())
            })?;
            Ok(net.layers)
        }

        fn datasets() -> Result<(Dataset<f64>, Dataset<f64>)> {
            let (dense, indptr, indices, values) = features();
            let labels: Vec<i64> = (0..ROWS as i64).map(|i| i % 3).collect();
            let parts =
                CsrParts { rows: ROWS, cols: COLS, indptr: IndexSlice::I32(&indptr), indices: IndexSlice::I32(&indices), values: &values };
            Ok((
                Dataset::copy_from(&dense, ROWS, COLS, TargetSource::Labels(&labels), None)?,
                Dataset::copy_sparse(parts, TargetSource::Labels(&labels), None)?,
            ))
        }

        fn assert_close(a: &[Layer<f64>], b: &[Layer<f64>]) {
            for (la, lb) in a.iter().zip(b) {
                for ((_, pa), (_, pb)) in la.params().into_iter().zip(lb.params()) {
                    for (x, y) in pa.value.iter().zip(&pb.value) {
                        assert!((x - y).abs() <= 1e-10 * (1.0 + y.abs()), "{x} vs {y}");
                    }
                }
            }
        }

        #[test]
        fn sparse_training_matches_dense_training_and_the_thread_count_changes_no_bit() -> Result<()> {
            let (dense, sparse) = datasets()?;
            assert!(sparse.is_sparse() && sparse.x.is_empty());
            // batch 8 (general step, DropConnect on the sparse first layer, dropout after it); batch 1 with
            // Dense/Activation layers only (the online path reads the dense copy of the one row).
            let online = vec![
                LayerSpec::Dense { units: 16, activation: Activation::Tanh, init: Init::He, dropconnect: 0.0 },
                LayerSpec::Dense { units: 3, activation: Activation::Softmax, init: Init::He, dropconnect: 0.0 },
            ];
            for (layers, batch_size) in [(layers(), 8), (online, 1)] {
                let reference = train(layers.clone(), &dense, batch_size, 1)?;
                let one = train(layers.clone(), &sparse, batch_size, 1)?;
                assert_close(&one, &reference);
                assert_ne!(one, network(layers.clone())?.layers, "training changed the weights");
                for threads in [2, 3] {
                    assert_eq!(train(layers.clone(), &sparse, batch_size, threads)?, one, "{threads} threads, batch {batch_size}");
                }
            }
            Ok(())
        }

        #[test]
        fn a_sparse_dataset_needs_a_dense_first_layer() -> Result<()> {
            let (_, sparse) = datasets()?;
            let mut layers = layers();
            layers.insert(0, LayerSpec::Dropout(0.1));
            let net = network(layers)?;
            let mut trainer = Trainer::new();
            trainer.begin_fit(&net, Optimizer::Sgd(SgdRule { lr: 0.05, momentum: 0.0, nesterov: false }), false)?;
            let error = trainer.begin_epoch(&net, &sparse, 8, true, 0).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.starts_with("X is sparse: the first layer must be a Dense layer"), "{error}");
            Ok(())
        }
    }
}
