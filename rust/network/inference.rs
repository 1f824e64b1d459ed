//! Predictions and evaluation: the layers run block by block over the input with buffers of their own, so
//! inference needs only `&self` (several threads may predict with one network).

use crate::buffer;
use crate::error::{Error, Result};
use crate::kernels::loss::Targets;
use crate::network::input::Features;
use crate::network::layer::{Layer, LayerCache};
use crate::network::network::{Batch, Network};
use crate::scalar::Real;

/// Rows processed at once by inference: as many as keep a block's widest activations within this budget (they
/// stay in L2 from one layer to the next, and the two buffers are small to clear), between these bounds. Results
/// do not depend on it: every layer's output row depends on its input row alone.
const BLOCK_BYTES: usize = 256 << 10;
const MIN_BLOCK_ROWS: usize = 64;
const INFERENCE_BLOCK: usize = 1024;

impl<T: Real> Network<T> {
    /// Run the layers on `x` (rows × input_dim) in blocks, handing each block's last-layer output (logits for
    /// a fused head) to `sink(first_row, block_rows, output)`. Inference mode unless `training`, in which case
    /// the masks of update `step` and batch statistics are used (and nothing is updated).
    fn run_blocks(
        &self,
        x: Features<'_, T>,
        rows: usize,
        training: bool,
        step: u64,
        mut sink: impl FnMut(usize, usize, &[T]) -> Result<()>,
    ) -> Result<()> {
        self.check_features(&x, rows)?;
        if training {
            self.check_training_rows(rows)?;
        }
        // Training mode sees the whole batch at once (batch statistics); inference goes block by block.
        let widest = self.layers.iter().map(Layer::out_dim).max().unwrap_or(self.input_dim);
        let budget_rows = (BLOCK_BYTES / (widest.max(1) * std::mem::size_of::<T>())).clamp(MIN_BLOCK_ROWS, INFERENCE_BLOCK);
        let block = if training { rows.max(1) } else { budget_rows.min(rows.max(1)) };
        // Layer l reads buffer (l % 2 == 1 ? a : b) and writes the other; layer 0 reads the input block.
        let size = buffer::area(block, widest, "inference buffers")?;
        let (mut a, mut b) = (buffer::zeros(size, "inference buffers")?, buffer::zeros(size, "inference buffers")?);
        let mut caches = self
            .layers
            .iter()
            .map(|layer| {
                let mut cache = LayerCache::default();
                if training {
                    layer.size_cache(&mut cache, block)?;
                }
                Ok(cache)
            })
            .collect::<Result<Vec<LayerCache<T>>>>()?;
        let mut start = 0;
        while start < rows {
            crate::cancel::check()?;
            let n = block.min(rows - start);
            let input = x.block(start, n, self.input_dim)?;
            for (index, (layer, cache)) in self.layers.iter().zip(caches.iter_mut()).enumerate() {
                let ctx = self.context(index, training, step);
                match index {
                    0 => layer.forward_features(input, &mut a, n, cache, ctx)?,
                    i if i % 2 == 1 => layer.forward(&a, &mut b, n, cache, ctx)?,
                    _ => layer.forward(&b, &mut a, n, cache, ctx)?,
                }
            }
            let last = if self.layers.len() % 2 == 1 { &a } else { &b };
            let output = last.get(..n * self.output_dim()).ok_or_else(|| Error::value("output", "buffer too small"))?;
            sink(start, n, output)?;
            start += n;
        }
        Ok(())
    }

    /// The last layer's output for `x` (rows × input_dim, dense or sparse): probabilities for a fused head (softmax or sigmoid
    /// computed by the loss), otherwise whatever the last layer computes. `logits_only` skips the fused head.
    /// `training` uses the masks of update `step` and batch statistics.
    pub fn forward(&self, x: Features<'_, T>, rows: usize, training: bool, step: u64, logits_only: bool) -> Result<Vec<T>> {
        let cols = self.output_dim();
        let mut out = buffer::zeros(buffer::area(rows, cols, "the output")?, "the output")?;
        let head = if logits_only { None } else { self.fused_activation() };
        self.run_blocks(x, rows, training, step, |start, n, block| {
            let dst = out.get_mut(start * cols..(start + n) * cols).ok_or_else(|| Error::value("output", "buffer too small"))?;
            dst.copy_from_slice(block);
            if let Some(activation) = head {
                activation.forward(dst, cols);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The objective (weighted mean data loss + penalty) and the number of correct predictions, in inference
    /// mode.
    pub fn evaluate(&self, batch: &Batch<'_, T>) -> Result<(f64, f64)> {
        self.check_batch(batch)?;
        let cols = self.output_dim();
        let (mut loss_sum, mut weight_sum, mut correct) = (0.0f64, 0.0f64, 0.0f64);
        let mut grad = buffer::zeros(buffer::area(INFERENCE_BLOCK.min(batch.rows), cols, "evaluation buffers")?, "evaluation buffers")?;
        let short = || Error::value("evaluate", "block out of range");
        self.run_blocks(batch.x, batch.rows, false, 0, |start, n, z| {
            let targets = match batch.targets {
                Targets::Labels(labels) => Targets::Labels(labels.get(start..start + n).ok_or_else(short)?),
                Targets::Dense(values) => Targets::Dense(values.get(start * cols..(start + n) * cols).ok_or_else(short)?),
            };
            let weights = match batch.weights {
                Some(w) => Some(w.get(start..start + n).ok_or_else(short)?),
                None => None,
            };
            let block_weight = weights.map_or(n as f64, |w| w.iter().map(|v| v.f64()).sum());
            let loss = self.loss.loss_and_grad(z, cols, targets, weights, grad.get_mut(..n * cols).ok_or_else(short)?)?;
            loss_sum += loss.f64() * block_weight;
            weight_sum += block_weight;
            correct += self.loss.count_correct(z, cols, targets);
            Ok(())
        })?;
        let data_loss = if weight_sum > 0.0 { loss_sum / weight_sum } else { 0.0 };
        Ok((data_loss + self.penalty(weight_sum), correct))
    }
}
