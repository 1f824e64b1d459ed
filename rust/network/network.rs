//! `Network`: the layers and the loss — what a model computes. Its passes live beside it (`passes.rs` for
//! training mode on a workspace, `inference.rs` for predictions); what training changes besides the parameters
//! (optimizer state, counters, the epoch, the workspace) belongs to the trainer (`crate::train`).

use crate::error::{Error, Result};
use crate::kernels::activation::Activation;
use crate::kernels::loss::{Loss, Targets};
use crate::kernels::penalty;
use crate::network::input::Features;
use crate::network::layer::{Layer, LayerSpec, MAX_WIDTH, PassContext};
use crate::scalar::Real;

/// The validated description a network is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub input_dim: usize,
    pub layers: Vec<LayerSpec>,
    pub loss: Loss,
    pub l1: f64,
    pub l2: f64,
    /// Divide the penalty by each batch's total sample weight (scikit-learn's convention for `alpha`).
    pub penalty_per_sample: bool,
    pub seed: u64,
}

/// One batch handed in from outside (train_step, gradients, evaluate).
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a, T> {
    /// (rows × input_dim): dense row-major, or CSR (`network/sparse.rs`).
    pub x: Features<'a, T>,
    pub rows: usize,
    pub targets: Targets<'a, T>,
    pub weights: Option<&'a [T]>,
}

/// What one training batch reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchResult {
    /// Data loss + penalty at the weights before the update.
    pub objective: f64,
    /// Correct predictions among the batch's rows (see `Loss::count_correct`).
    pub correct: f64,
}

#[derive(Clone, Debug)]
pub struct Network<T: Real> {
    pub input_dim: usize,
    pub layers: Vec<Layer<T>>,
    pub loss: Loss,
    pub l1: f64,
    pub l2: f64,
    pub penalty_per_sample: bool,
    pub seed: u64,
    /// The last activation (softmax or sigmoid) is computed by the loss on the logits.
    pub fused_head: bool,
}

fn check_hyper(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 { Ok(()) } else { Err(Error::value(what, format!("must be a finite number >= 0; got {value}"))) }
}

impl<T: Real> Network<T> {
    pub fn new(spec: &NetworkSpec) -> Result<Self> {
        if spec.input_dim == 0 || spec.input_dim > MAX_WIDTH {
            return Err(Error::value("input_dim", format!("must be between 1 and {MAX_WIDTH}; got {}", spec.input_dim)));
        }
        if spec.layers.is_empty() {
            return Err(Error::value("layers", "must hold at least one layer"));
        }
        check_hyper("l1", spec.l1)?;
        check_hyper("l2", spec.l2)?;
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut width = spec.input_dim;
        for (index, layer_spec) in spec.layers.iter().enumerate() {
            let layer = Layer::build(layer_spec, width, spec.seed, index)?;
            if layer.activation() == Some(Activation::Softmax) && index + 1 != spec.layers.len() {
                return Err(Error::value("layers", format!("may use softmax only in the last layer; layer {index} uses it")));
            }
            width = layer.out_dim();
            layers.push(layer);
        }
        let head = layers.last().and_then(Layer::activation);
        let fused_head = matches!(
            (head, spec.loss),
            (Some(Activation::Softmax), Loss::SoftmaxCrossEntropy) | (Some(Activation::Sigmoid), Loss::BinaryCrossEntropy)
        );
        Ok(Network {
            input_dim: spec.input_dim,
            layers,
            loss: spec.loss,
            l1: spec.l1,
            l2: spec.l2,
            penalty_per_sample: spec.penalty_per_sample,
            seed: spec.seed,
            fused_head,
        })
    }

    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(self.input_dim, Layer::out_dim)
    }

    /// Columns of the targets: 1 for class labels, else one per output.
    pub fn target_cols(&self) -> usize {
        if self.loss.uses_labels() { 1 } else { self.output_dim() }
    }

    pub fn n_params(&self) -> usize {
        self.layers.iter().flat_map(|l| l.param_sizes()).sum()
    }

    /// The parameters, copied fallibly (a snapshot of a large model must not abort the process).
    pub fn try_clone_layers(&self) -> Result<Vec<Layer<T>>> {
        self.layers.iter().map(Layer::try_clone).collect()
    }

    /// An independent copy, allocated fallibly.
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Network { layers: self.try_clone_layers()?, ..*self })
    }

    pub fn has_batchnorm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::BatchNorm(_)))
    }

    /// The one check of BatchNorm's invariant: batch statistics need at least two rows.
    pub fn check_training_rows(&self, rows: usize) -> Result<()> {
        if rows < 2 && self.has_batchnorm() {
            return Err(Error::value("X", format!("must have at least 2 rows for BatchNorm in training mode; got {rows}")));
        }
        Ok(())
    }

    /// The penalty coefficients for a batch of total sample weight `total` (rows when unweighted).
    pub fn penalty_coefficients(&self, total: f64) -> (f64, f64) {
        if !self.penalty_per_sample {
            (self.l1, self.l2)
        } else if total > 0.0 {
            (self.l1 / total, self.l2 / total)
        } else {
            (0.0, 0.0)
        }
    }

    /// The penalty `0.5·l2·ΣW² + l1·Σ|W|` over the Dense weights at the current values, for a set of total
    /// sample weight `total`.
    pub fn penalty(&self, total: f64) -> f64 {
        let (l1, l2) = self.penalty_coefficients(total);
        if l1 == 0.0 && l2 == 0.0 {
            return 0.0;
        }
        let (l1, l2) = (T::of(l1), T::of(l2));
        self.layers
            .iter()
            .filter_map(|layer| match layer {
                Layer::Dense(d) => Some(penalty::penalty(&d.weight.value, l1, l2).f64()),
                _ => None,
            })
            .sum()
    }

    /// Shapes, label ranges and weights of a batch, checked before anything is touched.
    pub fn check_batch(&self, batch: &Batch<'_, T>) -> Result<()> {
        let (rows, outputs) = (batch.rows, self.output_dim());
        self.check_features(&batch.x, rows)?;
        match batch.targets {
            Targets::Labels(labels) => {
                if !self.loss.uses_labels() {
                    return Err(Error::value("y", format!("must be a target matrix for {}, not class labels", self.loss.name())));
                }
                if labels.len() != rows {
                    return Err(Error::shape("y", format!("({rows},)"), format!("({},)", labels.len())));
                }
                if let Some(&bad) = labels.iter().find(|&&y| y as usize >= outputs) {
                    return Err(Error::value("y", format!("holds label {bad}, out of range for a model with {outputs} outputs")));
                }
            }
            Targets::Dense(values) => {
                if self.loss.uses_labels() {
                    return Err(Error::value("y", format!("must hold class labels for {}", self.loss.name())));
                }
                if values.len() != rows * outputs {
                    return Err(Error::shape("y", format!("({rows}, {outputs})"), format!("{} values", values.len())));
                }
            }
        }
        if let Some(w) = batch.weights
            && w.len() != rows
        {
            return Err(Error::shape("sample_weight", format!("({rows},)"), format!("({},)", w.len())));
        }
        Ok(())
    }

    /// What layer `index`'s pass needs besides the data; `step` keys the training masks.
    pub(crate) fn context(&self, index: usize, training: bool, step: u64) -> PassContext {
        PassContext { training, skip_activation: self.fused_head && index + 1 == self.layers.len(), seed: self.seed, step, index }
    }

    /// The head activation applied after the logits when the loss fuses it (softmax or sigmoid).
    pub(crate) fn fused_activation(&self) -> Option<Activation> {
        if self.fused_head { self.layers.last().and_then(Layer::activation) } else { None }
    }
}

/// The checks of a network's input (dense or sparse: `network/input.rs`, passes in `network/sparse.rs`).
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
