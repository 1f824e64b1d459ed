"""Determinism: the same seed gives bit-identical weights and histories, whatever the thread count."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_equal, classification_data, weights_equal
from ferronet.optim import SGD, Adam

LAYERS = [
    fnet.Dense(16, activation="relu", dropconnect=0.1),
    fnet.BatchNorm(),
    fnet.Dropout(0.3),
    fnet.Dense(8, activation="tanh"),
    fnet.Dense(3),
]


def train(seed: int, dtype: str = "float64", weights=None):
    X, y = classification_data(n=100, d=5)
    model = fnet.Sequential(LAYERS, input_dim=5, dtype=dtype, l2=1e-3, seed=seed)
    if weights is not None:
        model.set_weights(weights)
    history = model.fit(X, y, epochs=3, batch_size=16, optimizer=Adam(lr=0.01), shuffle=True, validation_split=0.1)
    model.train_step(X[:10], y[:10])
    return model, history.history


def comparable(history: dict) -> dict:
    return {key: values for key, values in history.items() if key != "epoch_seconds"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_is_bit_identical(dtype):
    a, history_a = train(seed=7, dtype=dtype)
    b, history_b = train(seed=7, dtype=dtype)
    assert_weights_equal(a.get_weights(), b.get_weights())
    assert comparable(history_a) == comparable(history_b)
    assert set(comparable(history_a)) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    X, _ = classification_data(n=20, d=5, seed=1)
    assert np.array_equal(a.forward(X), b.forward(X))
    assert np.array_equal(a.forward(X, training=True), b.forward(X, training=True))


def test_different_seeds_differ():
    a, history_a = train(seed=7)
    b, history_b = train(seed=8)
    assert not weights_equal(a.get_weights(), b.get_weights())
    assert history_a["loss"] != history_b["loss"]
    # with the same initial weights, the seed still decides the shuffles and the dropout masks
    start = fnet.Sequential(LAYERS, input_dim=5, dtype="float64", seed=7).get_weights()
    c, _ = train(seed=8, weights=start)
    assert not weights_equal(a.get_weights(), c.get_weights())
    d, _ = train(seed=7, weights=start)
    assert_weights_equal(a.get_weights(), d.get_weights())


def test_shuffle_false_ignores_the_seed_for_batch_order():
    X, y = classification_data(n=64, d=5)
    layers = [fnet.Dense(8, activation="relu"), fnet.Dense(3)]
    start = fnet.Sequential(layers, input_dim=5, dtype="float64", seed=0).get_weights()
    results = []
    for seed, shuffle in [(0, False), (1, False), (0, True), (1, True)]:
        model = fnet.Sequential(layers, input_dim=5, dtype="float64", seed=seed)
        model.set_weights(start)
        model.fit(X, y, epochs=2, batch_size=8, optimizer=SGD(lr=0.1), shuffle=shuffle)
        results.append(model.get_weights())
    assert weights_equal(results[0], results[1])  # no shuffling, no dropout: the seed plays no part
    assert not weights_equal(results[2], results[3])  # the seed decides the order
    assert not weights_equal(results[0], results[2])


SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    import ferronet as fnet

    generator = np.random.default_rng(0)
    X = generator.normal(size=(2048, 784)).astype(np.float32)
    y = generator.integers(0, 10, 2048)
    digest = hashlib.sha256()
    for dtype in ("float32", "float64"):
        for batch_size in (128, 512):
            model = fnet.Sequential(
                [fnet.Dense(256, activation="relu"), fnet.Dropout(0.2), fnet.Dense(128, activation="relu"), fnet.Dense(10)],
                input_dim=784, dtype=dtype, seed=0,
            )
            history = model.fit(X, y, epochs=2, batch_size=batch_size, optimizer=fnet.optim.SGD(lr=0.05, momentum=0.9))
            for layer in model.get_weights():
                for key in sorted(layer):
                    digest.update(layer[key].tobytes())
            digest.update(np.asarray(history.history["loss"]).tobytes())
            digest.update(model.forward(X[:512]).tobytes())
        # A small net (the small-net step): batches of 200 rows are four groups, shared by a team.
        X_small, y_small = X[:, :8].astype(dtype), X[:, 8].astype(dtype)
        model = fnet.Sequential([fnet.Dense(256, activation="relu"), fnet.Dense(1)], input_dim=8, dtype=dtype, seed=0, loss="mse")
        history = model.fit(X_small, y_small, epochs=2, batch_size=200, optimizer=fnet.optim.Adam(lr=1e-3))
        for layer in model.get_weights():
            for key in sorted(layer):
                digest.update(layer[key].tobytes())
        digest.update(np.asarray(history.history["loss"]).tobytes())
    print(fnet.get_num_threads(), digest.hexdigest())
    """
)


def run_with_threads(threads: str) -> tuple[int, str]:
    env = {**os.environ, "FERRONET_NUM_THREADS": threads}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    count, digest = result.stdout.split()
    return int(count), digest


def test_thread_count_does_not_change_results_subprocess():
    """1, 2, 3 and 4 threads (more than this machine's cores: the count is capped at max(4, cores))."""
    runs = [run_with_threads(str(threads)) for threads in (1, 2, 3, 4)]
    assert [count for count, _ in runs] == [1, 2, 3, 4]  # FERRONET_NUM_THREADS was honoured
    digests = {digest for _, digest in runs}
    assert len(runs[0][1]) == 64
    assert len(digests) == 1


def test_thread_count_does_not_change_results_in_process(restore_threads):
    generator = np.random.default_rng(1)
    X = generator.normal(size=(1024, 784))
    y = generator.integers(0, 10, 1024)
    layers = [
        fnet.Dense(256, activation="relu"),
        fnet.BatchNorm(),
        fnet.Dense(128, activation="tanh", dropconnect=0.1),
        fnet.Dense(10),
    ]
    results = []
    for threads in (1, 2, 3, 4):
        fnet.set_num_threads(threads)
        assert fnet.get_num_threads() == threads
        model = fnet.Sequential(layers, input_dim=784, dtype="float32", seed=0)
        history = model.fit(X, y, epochs=1, batch_size=256, optimizer=Adam(lr=1e-3))
        results.append(
            (model.get_weights(), history.history["loss"], model.forward(X), model.gradients(X[:300], y[:300]))
        )
    (w1, loss1, out1, g1), *others = results
    for w2, loss2, out2, g2 in others:
        assert_weights_equal(w1, w2)
        assert loss1 == loss2
        assert np.array_equal(out1, out2)
        assert_weights_equal(g1, g2)
