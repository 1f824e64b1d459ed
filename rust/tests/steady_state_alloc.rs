//! The training loop allocates nothing per batch: the workspace is sized once per batch size and reused across
//! batches and epochs. A counting global allocator measures the allocations of whole epochs; an epoch of 4×
//! more batches must allocate exactly as often as a short one (what remains is per epoch or per chunk: the
//! epoch's snapshot of the weights and the thread pool's bookkeeping).
//!
//! GEMM packing buffers (64-byte aligned, the only allocations that ask for ≥ 32-byte alignment) are counted
//! apart: they are per thread and grow to the sizes in use, so they may appear while a thread first meets a
//! large task, never per batch, and never at batch 1, which runs GEMVs (`gemm_steady_state_alloc.rs` checks the
//! GEMM alone: nothing at all once warm).

#![allow(clippy::expect_used)] // a test: a failed setup step should stop it with its message

use std::sync::atomic::Ordering;
use std::time::Duration;

use _core::init::Init;
use _core::kernels::activation::Activation;
use _core::kernels::loss::Loss;
use _core::network::{LayerSpec, Network, NetworkSpec};
use _core::optim::{Optimizer, SgdRule};
use _core::train::{Dataset, TargetSource, Trainer};

#[path = "common/counting.rs"]
mod counting;

use counting::{ALLOCATIONS, COUNTING, GEMM_PACKING};

const FEATURES: usize = 300;

/// 300 × 128 first-layer weights: large enough for the batch-1 team path, and too large for the small-net step.
fn network() -> Network<f32> {
    let dense = |units, activation| LayerSpec::Dense { units, activation, init: Init::He, dropconnect: 0.0 };
    with_layers(vec![dense(128, Activation::Relu), dense(32, Activation::Relu), dense(10, Activation::Linear)])
}

/// 9,731 parameters and 3 classes: trained by the small-net step, in groups on a team from 65 rows on.
fn small_network() -> Network<f32> {
    let dense = |units, activation| LayerSpec::Dense { units, activation, init: Init::He, dropconnect: 0.0 };
    with_layers(vec![dense(32, Activation::Tanh), dense(3, Activation::Linear)])
}

fn with_layers(layers: Vec<LayerSpec>) -> Network<f32> {
    let spec =
        NetworkSpec { input_dim: FEATURES, layers, loss: Loss::SoftmaxCrossEntropy, l1: 0.0, l2: 1e-4, penalty_per_sample: false, seed: 7 };
    Network::new(&spec).expect("network")
}

/// `rows` rows, labels cycling through as many classes as `net` has outputs.
fn dataset(rows: usize, net: &Network<f32>) -> Dataset<f32> {
    let x: Vec<f32> = (0..rows * FEATURES).map(|i| ((i * 7919 % 1000) as f32 / 1000.0) - 0.5).collect();
    let labels: Vec<i64> = (0..rows).map(|i| (i % net.output_dim()) as i64).collect();
    Dataset::copy_from(&x, rows, FEATURES, TargetSource::Labels(&labels), None).expect("dataset")
}

/// Allocations made by the third epoch over `rows` rows (the first two size the workspace and the epoch order):
/// (ours, GEMM packing buffers).
fn allocations_of_an_epoch(optimizer: Optimizer, rows: usize, batch_size: usize) -> (usize, usize) {
    allocations_of_an_epoch_of(network, optimizer, rows, batch_size)
}

fn allocations_of_an_epoch_of(network: fn() -> Network<f32>, optimizer: Optimizer, rows: usize, batch_size: usize) -> (usize, usize) {
    let mut net = network();
    let mut trainer = Trainer::new();
    trainer.begin_fit(&net, optimizer, false).expect("fit");
    let data = dataset(rows, &net);
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
fn no_allocation_per_batch() {
    let optimizers = [
        Optimizer::Sgd(SgdRule { lr: 0.01, momentum: 0.9, nesterov: false }),
        Optimizer::Adam { lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    ];
    for optimizer in optimizers {
        for batch_size in [1, 32, 128] {
            let (short, short_packing) = allocations_of_an_epoch(optimizer, 8 * batch_size + 3, batch_size);
            let (long, _) = allocations_of_an_epoch(optimizer, 32 * batch_size + 3, batch_size);
            // Per-batch allocations would add at least 24 here. A few may differ per chunk: on a loaded machine
            // the batch-1 team can decide to run a chunk alone (no broadcast to the pool).
            assert!(short.abs_diff(long) <= 4, "{optimizer:?} batch {batch_size}: {short} allocations for 9 batches, {long} for 33");
            assert!(short < 64, "{optimizer:?} batch {batch_size}: {short} allocations per epoch");
            if batch_size == 1 {
                assert_eq!(short_packing, 0, "batch 1 runs no GEMM");
            }
        }
    }
    no_allocation_per_batch_of_a_small_net();
}

/// Part of `no_allocation_per_batch`: the counters are global, so the checks must not run at the same time.
fn no_allocation_per_batch_of_a_small_net() {
    let optimizer = Optimizer::Adam { lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    for batch_size in [32, 128, 200] {
        let (short, short_packing) = allocations_of_an_epoch_of(small_network, optimizer, 8 * batch_size + 3, batch_size);
        let (long, _) = allocations_of_an_epoch_of(small_network, optimizer, 32 * batch_size + 3, batch_size);
        assert!(short.abs_diff(long) <= 4, "batch {batch_size}: {short} allocations for 9 batches, {long} for 33");
        assert!(short < 64, "batch {batch_size}: {short} allocations per epoch");
        assert_eq!(short_packing, 0, "the small-net step packs nothing");
    }
}
