"""Leaks: thousands of calls in a loop (training, inference, failing calls, files, pickling) keep the resident
memory flat. Each test warms up first (allocator pools, lazy imports, the engine's workspace), then measures RSS from
/proc/self/statm across the loop; the bound is generous (a leak of even 1 KiB per call over thousands of calls of
these sizes would pass it only barely, a leak of a batch of data per call would not)."""

from __future__ import annotations

import gc
import os
import pickle

import ferronet as fnet
import numpy as np
import pytest
from ferronet import ops
from ferronet.optim import SGD, Adam

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc/self/statm")

BOUND_MB = 50.0
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 2**20


def growth_mb(step, iterations: int, warmup: int = 50) -> float:
    """RSS growth (MiB) over ``iterations`` calls of ``step(i)``, after ``warmup`` calls."""
    for i in range(warmup):
        step(i)
    before = rss_mb()
    for i in range(iterations):
        step(i)
    return rss_mb() - before


def model(seed: int = 0) -> fnet.Sequential:
    layers = [fnet.Dense(32, activation="relu", dropconnect=0.1), fnet.BatchNorm(), fnet.Dropout(0.2), fnet.Dense(4)]
    return fnet.Sequential(layers, input_dim=16, dtype="float32", seed=seed)


GENERATOR = np.random.default_rng(0)
X = GENERATOR.normal(size=(256, 16))
Y = GENERATOR.integers(0, 4, 256)


def test_fit_predict_evaluate_train_step_loop_keeps_rss_flat():
    net = model()
    optimizer = Adam(lr=1e-3)

    def step(i):
        net.fit(X, Y, epochs=1, batch_size=64, optimizer=optimizer, validation_split=0.25)
        net.predict(X)
        net.predict_proba(X[:10])
        net.evaluate(X, Y)
        net.train_step(X[:32], Y[:32], optimizer=optimizer)
        net.set_weights(net.get_weights())
        net.gradients(X[:8], Y[:8])

    growth = growth_mb(step, 2000)
    print(f"fit/predict/evaluate/train_step x2000: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB


def test_new_models_and_batch_1_fits_keep_rss_flat():
    def step(i):
        net = model(seed=i)
        net.fit(X[:64], Y[:64], epochs=1, batch_size=2, optimizer=SGD(lr=0.01, momentum=0.9))
        small = fnet.Sequential([fnet.Dense(8, activation="tanh"), fnet.Dense(4)], input_dim=16, seed=i)
        small.fit(X[:64], Y[:64], epochs=1, batch_size=1)  # the online path
        small.predict(X[:1])

    growth = growth_mb(step, 1000)
    print(f"new models and small fits x1000: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB


def test_failing_calls_keep_rss_flat():
    """Error paths free what they allocated: NaN found while the engine copies X, bad labels, divergence (which
    restores a snapshot), bad set_weights, bad kernel arguments."""
    net = model()
    bad_X = X.copy()
    bad_X[-1, -1] = np.nan
    regressor = fnet.Sequential([fnet.Dense(8, activation="relu"), fnet.Dense(1)], input_dim=16, loss="mse")
    huge_y = np.full(256, 1e30)

    def step(i):
        for call, error in (
            (lambda: net.fit(bad_X, Y, epochs=1, batch_size=64), ValueError),
            (lambda: net.fit(X, Y + 4, epochs=1), ValueError),
            (lambda: net.predict(X[:, :3]), ValueError),
            (lambda: net.set_weights([{"W": np.zeros((2, 2))}]), ValueError),
            (lambda: regressor.fit(X, huge_y, epochs=1, batch_size=64, optimizer=SGD(lr=1e-3)), FloatingPointError),
            (lambda: ops.dense_forward(X, np.zeros((3, 4)), np.zeros(4)), ValueError),
            (lambda: ops.softmax_cross_entropy(X, Y + 100), ValueError),
        ):
            with pytest.raises(error):
                call()

    growth = growth_mb(step, 1000)
    print(f"failing calls x7000: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB


def test_ops_kernels_keep_rss_flat():
    W, b = GENERATOR.normal(size=(16, 8)), np.zeros(8)

    def step(i):
        z = ops.dense_forward(X, W, b)
        a = ops.relu_forward(z)
        ops.dense_backward(X, W, ops.relu_backward(a, a))
        ops.softmax_cross_entropy(z, Y % 8)
        ops.batchnorm_forward_train(z, np.ones(8), b, 1e-5)
        ops.adam_update(W, W, W, np.abs(W), 3, 1e-3, 0.9, 0.999, 1e-8)
        ops.dropout_mask(256, 8, 0.5, 0, i, 1)
        ops.rng.epoch_permutation(256, 0, i)

    growth = growth_mb(step, 3000)
    print(f"ops kernels x3000: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB


def test_save_load_and_pickle_keep_rss_flat(tmp_path):
    net = model()
    net.fit(X, Y, epochs=1, batch_size=64, optimizer=Adam(lr=1e-3))
    path = tmp_path / "model.safetensors"
    expected = net.predict_proba(X)

    def save_load(i):
        net.save(path, include_optimizer=bool(i % 2))
        loaded = fnet.load(path)
        if i % 50 == 0:
            np.testing.assert_array_equal(loaded.predict_proba(X), expected)

    # each save syncs the file to disk (slow): fewer rounds; the pickling loop below runs the same format code
    growth = growth_mb(save_load, 100, warmup=10)
    print(f"save/load x100: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB

    def pickling(i):
        copy = pickle.loads(pickle.dumps(net))
        if i % 200 == 0:
            np.testing.assert_array_equal(copy.predict_proba(X), expected)

    growth = growth_mb(pickling, 1000)
    print(f"pickle round trips x1000: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB
    # a corrupted file is refused again and again without leaking either
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(path.read_bytes()[:-100])

    def refuse(i):
        with pytest.raises(ValueError):
            fnet.load(corrupt)

    growth = growth_mb(refuse, 2000)
    print(f"loading a truncated file x2000: RSS growth {growth:.1f} MiB")
    assert growth < BOUND_MB
