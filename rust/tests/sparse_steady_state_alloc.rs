//! `steady_state_alloc.rs` for a sparse X: the CSR batch, its transpose (the weight gradient on several threads)
//! and the dense row of a one-row batch live in the workspace, sized once per batch size, so an epoch of 4× more
//! batches allocates exactly as often as a short one. GEMM packing buffers (the layers after the first) are
//! counted apart, as there.

#![allow(clippy::expect_used)] // a test: a failed setup step should stop it with its message

use std::sync::atomic::Ordering;
use std::time::Duration;

use _core::init::Init;
use _core::kernels::activation::Activation;
use _core::kernels::loss::Loss;
use _core::kernels::sparse::{CsrParts, IndexSlice};
use _core::network::{LayerSpec, Network, NetworkSpec};
use _core::optim::{Optimizer, SgdRule};
use _core::train::{Dataset, TargetSource, Trainer};

#[path = "common/counting.rs"]
mod counting;

use counting::{ALLOCATIONS, COUNTING, GEMM_PACKING};

const FEATURES: usize = 3000;

fn network() -> Network<f32> {
    let dense = |units, activation| LayerSpec::Dense { units, activation, init: Init::He, dropconnect: 0.0 };
    let spec = NetworkSpec {
        input_dim: FEATURES,
        // 3000 × 24 first-layer weights: a weight gradient large enough for the transposed, parallel plan.
        layers: vec![dense(24, Activation::Relu), dense(10, Activation::Linear)],
        loss: Loss::SoftmaxCrossEntropy,
        l1: 0.0,
        l2: 1e-4,
        penalty_per_sample: false,
        seed: 7,
    };
    Network::new(&spec).expect("network")
}

/// About 1% of the entries set, in unsorted order within each row.
fn dataset(rows: usize) -> Dataset<f32> {
    let (mut indptr, mut indices, mut values) = (vec![0i64], Vec::new(), Vec::new());
    for i in 0..rows {
        for k in 0..(10 + i % 40) {
            indices.push(((i * 7919 + k * 104_729) % FEATURES) as i64);
            values.push(((i + k) % 13) as f32 * 0.1 - 0.6);
        }
        indptr.push(indices.len() as i64);
    }
    let labels: Vec<i64> = (0..rows).map(|i| (i % 10) as i64).collect();
    let parts = CsrParts { rows, cols: FEATURES, indptr: IndexSlice::I64(&indptr), indices: IndexSlice::I64(&indices), values: &values };
    Dataset::copy_sparse(parts, TargetSource::Labels(&labels), None).expect("dataset")
}

/// Allocations made by the third epoch over `rows` rows (the first two size the workspace and the epoch order):
/// (ours, GEMM packing buffers).
fn allocations_of_an_epoch(optimizer: Optimizer, rows: usize, batch_size: usize) -> (usize, usize) {
    let mut net = network();
    let mut trainer = Trainer::new();
    trainer.begin_fit(&net, optimizer, false).expect("fit");
    let data = dataset(rows);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    pool.install(|| {
        let mut epoch = |count: bool| {
            trainer.begin_epoch(&net, &data, batch_size, true, 0).expect("begin");
            COUNTING.store(count, Ordering::SeqCst);
            let report = trainer.train_chunk(&mut net, &data, Duration::from_secs(3600), None).expect("train");
            COUNTING.store(false, Ordering::SeqCst);
            assert!(report.done);
        };
        epoch(false);
        epoch(false);
        ALLOCATIONS.store(0, Ordering::SeqCst);
        GEMM_PACKING.store(0, Ordering::SeqCst);
        epoch(true);
        (ALLOCATIONS.load(Ordering::SeqCst), GEMM_PACKING.load(Ordering::SeqCst))
    })
}

#[test]
fn no_allocation_per_sparse_batch() {
    let optimizers = [
        Optimizer::Sgd(SgdRule { lr: 0.01, momentum: 0.9, nesterov: false }),
        Optimizer::Adam { lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    ];
    for optimizer in optimizers {
        for batch_size in [1, 32, 128] {
            let (short, _) = allocations_of_an_epoch(optimizer, 8 * batch_size + 3, batch_size);
            let (long, _) = allocations_of_an_epoch(optimizer, 32 * batch_size + 3, batch_size);
            // Per-batch allocations would add at least 24 here.
            assert!(short.abs_diff(long) <= 4, "{optimizer:?} batch {batch_size}: {short} allocations for 9 batches, {long} for 33");
            assert!(short < 64, "{optimizer:?} batch {batch_size}: {short} allocations per epoch");
        }
    }
}
