"""Batch-1 SGD with a large first layer runs on a team of threads (rust/network/online_team.rs): the first layer's
rows are split between threads and the next sample's forward pass is fused into the update. These tests pin that
path to the NumPy reference, to itself across thread counts and chunk boundaries, and to the error contract."""

from __future__ import annotations

import threading

import ferronet as fnet
import ferronet.training
import numpy as np
import pytest
from conftest import assert_weights_close
from ferronet import reference as R
from ferronet.layers import Activation, Dense
from ferronet.optim import SGD

# 300 x 128 = 38400 first-layer weights: above the team threshold (32768), so batch-1 SGD takes the team path.
N_ROWS, N_FEATURES, HIDDEN = 48, 300, 128


def data(seed: int = 0, dtype=np.float64):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(N_ROWS, N_FEATURES)).astype(dtype)
    X[:, ::7] = 0.0  # zero inputs take the update's and the fused forward's zero-skipping branches
    y = generator.integers(0, 5, N_ROWS)
    return X, y


def layers(arch: str = "three_dense"):
    """The second layer is shared by the team when it is Dense (three_dense, two_dense: then it is also the
    fused softmax head), and updated by the leader otherwise (separate_activation)."""
    if arch == "separate_activation":
        return [Dense(HIDDEN), Activation("tanh"), Dense(16, activation="relu"), Dense(5)]
    if arch == "two_dense":
        return [Dense(HIDDEN, activation="tanh"), Dense(5)]
    return [Dense(HIDDEN, activation="relu"), Dense(40, activation="sigmoid"), Dense(5)]


def train(threads: int, optimizer, *, dtype="float64", epochs=2, l1=0.0, l2=0.0, weights=None, arch="three_dense"):
    X, y = data(dtype=np.dtype(dtype))
    fnet.set_num_threads(threads)
    try:
        model = fnet.Sequential(layers(arch), input_dim=N_FEATURES, l1=l1, l2=l2, dtype=dtype, seed=5)
        history = model.fit(X, y, epochs=epochs, batch_size=1, optimizer=optimizer, sample_weight=weights)
    finally:
        fnet.set_num_threads(2)
    return model, history.history


CASES = {
    "momentum": dict(optimizer=lambda: SGD(lr=0.01, momentum=0.9)),
    "nesterov_l1_l2": dict(optimizer=lambda: SGD(lr=0.01, momentum=0.8, nesterov=True), l1=1e-4, l2=1e-3),
    "plain_weighted": dict(optimizer=lambda: SGD(lr=0.02), weights="yes"),
    "plain_l2_separate_activation": dict(optimizer=lambda: SGD(lr=0.02), l2=1e-3, arch="separate_activation"),
    "momentum_l1_two_dense": dict(optimizer=lambda: SGD(lr=0.01, momentum=0.9), l1=1e-4, arch="two_dense"),
}


@pytest.mark.parametrize("case", CASES)
def test_team_path_matches_the_numpy_reference(case):
    spec = dict(CASES[case])
    optimizer = spec.pop("optimizer")
    X, y = data()
    weights = None
    if spec.pop("weights", None):
        weights = np.random.default_rng(1).uniform(0.0, 2.0, N_ROWS)
        weights[::9] = 0.0
    arch = spec.pop("arch", "three_dense")
    model = fnet.Sequential(layers(arch), input_dim=N_FEATURES, dtype="float64", seed=5, **spec)
    ref = R.Sequential(layers(arch), input_dim=N_FEATURES, dtype="float64", seed=5, **spec)
    ref.set_weights(model.get_weights())
    history = model.fit(X, y, epochs=2, batch_size=1, optimizer=optimizer(), sample_weight=weights).history
    ref_history = ref.fit(X, y, epochs=2, batch_size=1, optimizer=optimizer(), sample_weight=weights)
    assert_weights_close(model.get_weights(), ref.get_weights(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history["loss"], ref_history["loss"], rtol=1e-10)
    np.testing.assert_allclose(history["accuracy"], ref_history["accuracy"], rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_team_path_is_bit_identical_for_one_and_two_threads(case, dtype):
    spec = dict(CASES[case])
    optimizer = spec.pop("optimizer")
    if spec.pop("weights", None):
        spec["weights"] = np.random.default_rng(1).uniform(0.0, 2.0, N_ROWS)
    one, history_one = train(1, optimizer(), dtype=dtype, **spec)
    two, history_two = train(2, optimizer(), dtype=dtype, **spec)
    for a, b in zip(one.get_weights(), two.get_weights(), strict=True):
        for key in a:
            assert np.array_equal(a[key], b[key]), key
    assert history_one["loss"] == history_two["loss"]


def test_chunk_boundaries_do_not_change_results(monkeypatch):
    """Each engine call ends after its time budget and the next one restarts the team: with a zero budget every
    sample is its own chunk, and the weights must be exactly those of long chunks."""
    long_chunks, long_history = train(2, SGD(lr=0.01, momentum=0.9), dtype="float32")
    monkeypatch.setattr(ferronet.training, "CHUNK_SECONDS", 0.0)
    short_chunks, short_history = train(2, SGD(lr=0.01, momentum=0.9), dtype="float32")
    for a, b in zip(long_chunks.get_weights(), short_chunks.get_weights(), strict=True):
        for key in a:
            assert np.array_equal(a[key], b[key]), key
    assert long_history["loss"] == short_history["loss"]


def test_divergence_on_the_team_path_restores_the_epoch_start():
    X, y = data()
    model = fnet.Sequential([Dense(HIDDEN, activation="relu"), Dense(5)], input_dim=N_FEATURES, seed=5)
    model.fit(X, y, epochs=1, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9))
    before = model.get_weights()
    # A huge rate grows the weights by orders of magnitude per sample: the loss overflows within a few samples.
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch \d+"):
        model.fit(X, y, epochs=1, batch_size=1, optimizer=SGD(lr=1e10, momentum=0.9))
    assert_weights_close(model.get_weights(), before, rtol=0, atol=0)
    model.fit(X, y, epochs=1, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9))  # still usable
    assert all(np.isfinite(array).all() for layer in model.get_weights() for array in layer.values())


def test_concurrent_team_fits_give_the_serial_results():
    """Only one team runs at a time; a fit that finds the team busy runs alone on its thread, with the same
    results."""
    serial = [train(2, SGD(lr=0.01, momentum=0.9), dtype="float32")[0].get_weights() for _ in range(2)]
    results: list = [None] * 4
    X, y = data(dtype=np.float32)

    def work(slot: int) -> None:
        model = fnet.Sequential(layers(), input_dim=N_FEATURES, dtype="float32", seed=5)
        model.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9))
        results[slot] = model.get_weights()

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    for weights in results:
        for a, b in zip(weights, serial[0], strict=True):
            for key in a:
                assert np.array_equal(a[key], b[key]), key


def test_team_path_regression_head_matches_the_reference():
    """A shared second layer that is the (unfused, linear) output layer of an mse model."""
    X, _ = data()
    y = np.random.default_rng(2).normal(size=(N_ROWS, 3))
    arch = [Dense(HIDDEN, activation="leaky_relu"), Dense(3)]
    model = fnet.Sequential(arch, input_dim=N_FEATURES, loss="mse", dtype="float64", seed=5, l2=1e-3)
    ref = R.Sequential(arch, input_dim=N_FEATURES, loss="mse", dtype="float64", seed=5, l2=1e-3)
    ref.set_weights(model.get_weights())
    history = model.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.001, momentum=0.9)).history
    ref_history = ref.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.001, momentum=0.9))
    assert_weights_close(model.get_weights(), ref.get_weights(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history["loss"], ref_history["loss"], rtol=1e-10)
