"""Concurrency: Python threads sharing models, and processes forked after the engine's thread pool has run.

Inference and training release the GIL inside the engine, so threads really do overlap there. A model serves one
call at a time (calls from other threads wait); distinct models are independent.
"""

from __future__ import annotations

import multiprocessing
import threading

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_equal, classification_data
from ferronet.optim import SGD, Adam

THREADS = 8
LAYERS = [fnet.Dense(64, activation="relu"), fnet.Dropout(0.2), fnet.Dense(32, activation="tanh"), fnet.Dense(5)]


def make_model(seed: int = 0, dtype: str = "float64", input_dim: int = 16) -> fnet.Sequential:
    return fnet.Sequential(LAYERS, input_dim=input_dim, dtype=dtype, seed=seed)


def data(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return classification_data(n=n, d=16, k=5, seed=seed)


def run_threads(targets: list) -> list:
    """Run each callable in its own thread, all released at once; returns their results (re-raising errors)."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    errors: list = []

    def run(index, target):
        try:
            barrier.wait()
            results[index] = target()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_many_threads_predicting_with_one_model_get_the_serial_results():
    X, y = data()
    model = make_model()
    model.fit(X, y, epochs=1, batch_size=64, optimizer=SGD(lr=0.05))
    slices = [X[i * 200 : (i + 1) * 200 + 300] for i in range(THREADS)]
    expected = [(model.predict(s), model.predict_proba(s), model.forward(s)) for s in slices]

    def work(i):
        outputs = []
        for _ in range(20):
            outputs.append((model.predict(slices[i]), model.predict_proba(slices[i]), model.forward(slices[i])))
        return outputs

    results = run_threads([lambda i=i: work(i) for i in range(THREADS)])
    for i, outputs in enumerate(results):
        for predicted, proba, forward in outputs:
            np.testing.assert_array_equal(predicted, expected[i][0])
            np.testing.assert_array_equal(proba, expected[i][1])
            np.testing.assert_array_equal(forward, expected[i][2])


def test_fit_while_other_threads_predict_with_other_models():
    X, y = data()
    trained = make_model(seed=3)
    serial = make_model(seed=3)
    serial_history = serial.fit(X, y, epochs=3, batch_size=16, optimizer=Adam(lr=1e-3))
    others = [make_model(seed=10 + i, dtype=("float32", "float64")[i % 2]) for i in range(THREADS - 1)]
    for other in others:
        other.fit(X[:200], y[:200], epochs=1, batch_size=32)
    expected = [other.predict_proba(X) for other in others]
    stop = threading.Event()

    def fit():
        try:
            return trained.fit(X, y, epochs=3, batch_size=16, optimizer=Adam(lr=1e-3))
        finally:
            stop.set()

    def predict(i):
        calls = 0
        while not stop.is_set() or calls < 3:
            np.testing.assert_array_equal(others[i].predict_proba(X), expected[i])
            calls += 1
        return calls

    history, *calls = run_threads([fit] + [lambda i=i: predict(i) for i in range(THREADS - 1)])
    assert min(calls) >= 3
    assert_weights_equal(trained.get_weights(), serial.get_weights())
    assert history.history["loss"] == serial_history.history["loss"]


def test_concurrent_fits_on_one_model_run_one_after_the_other():
    """Two threads fitting the SAME model: the calls are serialized, the result is that of two fits in a row."""
    X, y = data(n=1000)
    model, twin = make_model(seed=5), make_model(seed=5)
    results = run_threads([lambda: model.fit(X, y, epochs=2, batch_size=8, optimizer="sgd") for _ in range(2)])
    serial = [twin.fit(X, y, epochs=2, batch_size=8, optimizer="sgd") for _ in range(2)]
    assert_weights_equal(model.get_weights(), twin.get_weights())
    losses = sorted(history.history["loss"] for history in results)
    assert losses == sorted(history.history["loss"] for history in serial)


def test_calls_on_a_model_that_another_thread_is_training_wait_for_it():
    """predict, evaluate, train_step and set_weights during a fit of the same model neither fail nor interleave:
    each sees the model before or after the whole fit."""
    X, y = data(n=1000)
    model = make_model(seed=6)
    before = model.predict_proba(X)
    start = model.get_weights()
    after_model = make_model(seed=6)
    after_model.fit(X, y, epochs=3, batch_size=8, optimizer=SGD(lr=0.01))
    after = after_model.predict_proba(X)
    started = threading.Event()

    def fit():
        started.set()
        return model.fit(X, y, epochs=3, batch_size=8, optimizer=SGD(lr=0.01))

    def observe():
        started.wait()
        seen = []
        for _ in range(30):
            seen.append(model.predict_proba(X))
            model.evaluate(X, y)
        return seen

    _, seen = run_threads([fit, observe])
    for proba in seen:
        assert np.array_equal(proba, before) or np.array_equal(proba, after)
    assert_weights_equal(model.get_weights(), after_model.get_weights())
    # a set_weights racing a fit lands before or after it, never in the middle of an epoch
    run_threads([lambda: model.fit(X, y, epochs=1, batch_size=8), lambda: model.set_weights(start)])
    assert all(np.isfinite(w).all() for layer in model.get_weights() for w in layer.values())


def _fork_child(model, X, y, queue):
    history = model.fit(X, y, epochs=2, batch_size=32, optimizer=SGD(lr=0.05))
    queue.put((model.predict_proba(X), model.get_weights(), history.history["loss"], fnet.get_num_threads()))


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork.*:DeprecationWarning")  # the point of the test
@pytest.mark.parametrize("threads", [1, 2])
def test_model_used_in_a_forked_child_after_the_pool_ran(threads, restore_threads):
    fnet.set_num_threads(threads)
    X, y = data()
    model = make_model(seed=8, dtype="float32")
    twin = make_model(seed=8, dtype="float32")
    model.fit(X, y, epochs=1, batch_size=256, optimizer=Adam(lr=1e-3))  # the engine's pool has now run
    twin.fit(X, y, epochs=1, batch_size=256, optimizer=Adam(lr=1e-3))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fork_child, args=(model, X, y, queue), daemon=True)
    child.start()
    try:
        proba, weights, losses, child_threads = queue.get(timeout=60)  # a deadlocked child fails here
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert child_threads == threads
    expected = twin.fit(X, y, epochs=2, batch_size=32, optimizer=SGD(lr=0.05))
    np.testing.assert_array_equal(proba, twin.predict_proba(X))
    assert_weights_equal(weights, twin.get_weights())
    assert losses == expected.history["loss"]
    # the parent's pool still works after the fork
    model.fit(X, y, epochs=2, batch_size=32, optimizer=SGD(lr=0.05))
    assert_weights_equal(model.get_weights(), twin.get_weights())


def _fit_other(model, X, y, queue):
    queue.put(model.fit(X, y, epochs=1, batch_size=32, optimizer=SGD(lr=0.05)).history["loss"])


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork.*:DeprecationWarning")
def test_fork_while_another_thread_trains_and_resizes_the_pool(restore_threads):
    """Children forked at random moments of a fit running in another thread (which also resizes the engine's
    pool between fits) neither deadlock nor compute differently."""
    X, y = data()
    busy, other = make_model(seed=1, dtype="float32"), make_model(seed=2)
    expected = make_model(seed=2).fit(X, y, epochs=1, batch_size=32, optimizer=SGD(lr=0.05)).history["loss"]
    stop = threading.Event()

    def spin():
        count = 0
        while not stop.is_set():
            busy.fit(X, y, epochs=1, batch_size=64)
            count += 1
            fnet.set_num_threads(1 + count % 2)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    context = multiprocessing.get_context("fork")
    try:
        for _ in range(8):
            queue = context.Queue()
            child = context.Process(target=_fit_other, args=(other, X, y, queue), daemon=True)
            child.start()
            try:
                assert queue.get(timeout=60) == expected
            finally:
                child.join(timeout=30)
                if child.is_alive():
                    child.kill()
            assert child.exitcode == 0
    finally:
        stop.set()
        spinner.join(timeout=60)


def test_set_num_threads_while_another_thread_fits(restore_threads):
    """Resizing the pool mid-fit takes effect between chunks and changes nothing in the results."""
    X, y = data(n=3000)
    model, serial = make_model(seed=4), make_model(seed=4)
    serial.fit(X, y, epochs=2, batch_size=8, optimizer=Adam(lr=1e-3))
    done = threading.Event()

    def fit():
        try:
            return model.fit(X, y, epochs=2, batch_size=8, optimizer=Adam(lr=1e-3))
        finally:
            done.set()

    def resize():
        count = 0
        while not done.is_set():
            fnet.set_num_threads(1 + count % 2)
            count += 1
            done.wait(0.01)
        return count

    _, resizes = run_threads([fit, resize])
    assert resizes >= 2
    assert_weights_equal(model.get_weights(), serial.get_weights())


# ------------------------------------------------------------------------------------------ thread-count determinism

DETERMINISM_SCRIPT = """
import hashlib, json, sys
import numpy as np
import ferronet as fnet

if len(sys.argv) > 1:
    fnet.set_num_threads(int(sys.argv[1]))
generator = np.random.default_rng(0)
X = generator.normal(size=(1024, 300))
y = generator.integers(0, 10, 1024)
digest = hashlib.sha256()
configs = [  # (layers, dtype, batch_size, optimizer): the batch-1 online path and the batched GEMM path
    # batch 1: 300*256 weights, above the online path's threshold for going parallel
    ([fnet.Dense(256, activation="relu"), fnet.Dropout(0.3), fnet.Dense(10)], "float32", 1, fnet.optim.SGD(lr=0.01)),
    ([fnet.Dense(256, activation="tanh"), fnet.Dense(10)], "float64", 1, fnet.optim.SGD(lr=0.01, momentum=0.9)),
    ([fnet.Dense(256, activation="relu", dropconnect=0.1), fnet.BatchNorm(), fnet.Dropout(0.2),
      fnet.Dense(128, activation="leaky_relu"), fnet.Dense(10)], "float32", 256, fnet.optim.Adam(lr=1e-3)),
    ([fnet.Dense(256, activation="sigmoid"), fnet.Dropout(0.5), fnet.Dense(10)], "float64", 100,
     fnet.optim.RMSProp(lr=1e-3)),
    ([fnet.Dense(256, activation="relu"), fnet.Dense(10)], "float32", 64, fnet.optim.SGD(lr=0.01, momentum=0.9, nesterov=True)),
]
for layers, dtype, batch_size, optimizer in configs:
    rows = 300 if batch_size == 1 else 1024
    model = fnet.Sequential(layers, input_dim=300, dtype=dtype, l2=1e-4, seed=42)
    history = model.fit(X[:rows], y[:rows], epochs=2, batch_size=batch_size, optimizer=optimizer, shuffle=True,
                        validation_split=0.2)
    model.train_step(X[:32], y[:32])
    for layer in model.get_weights():
        for key in sorted(layer):
            digest.update(layer[key].tobytes())
    digest.update(json.dumps({k: v for k, v in history.history.items() if k != "epoch_seconds"}).encode())
    digest.update(model.predict(X).tobytes())
    digest.update(model.predict_proba(X).tobytes())
    digest.update(model.forward(X[:64], training=True).tobytes())
    digest.update(json.dumps(model.evaluate(X, y)).encode())
    for layer in model.gradients(X[:200], y[:200]):
        for key in sorted(layer):
            digest.update(layer[key].tobytes())
print(fnet.get_num_threads(), digest.hexdigest())
"""


def _digest(env_threads: str, *args: str) -> tuple[int, str]:
    import os
    import subprocess
    import sys

    env = {**os.environ, "FERRONET_NUM_THREADS": env_threads}
    result = subprocess.run(
        [sys.executable, "-c", DETERMINISM_SCRIPT, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    threads, digest = result.stdout.split()
    return int(threads), digest


def test_same_seed_same_bits_across_processes_and_thread_counts():
    """Weights, histories (with validation), predictions, probabilities, training-mode outputs and gradients of
    models with dropout, DropConnect, BatchNorm and shuffling are bit-identical for 1 and 2 threads, whether set by
    FERRONET_NUM_THREADS or by set_num_threads, in separate processes (batch 1 and batched paths)."""
    runs = [_digest("1"), _digest("2"), _digest("1", "2"), _digest("2", "1")]
    assert [threads for threads, _ in runs] == [1, 2, 2, 1]
    assert len({digest for _, digest in runs}) == 1, runs


def _predict_in_child(model, X, queue):
    queue.put(model.predict(X[:2]).tolist())


def _predict_in_forked_child(model, X, what: str) -> list:
    """The predictions of a child forked now; fails if the child hangs on ``what``."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_predict_in_child, args=(model, X, queue), daemon=True)
    child.start()
    child.join(20)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, f"the child hung on {what}"
    return queue.get(timeout=5)


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork.*:DeprecationWarning")  # the point of the test
def test_a_child_forked_while_another_thread_fits_the_same_model_can_use_it():
    """The reliability issue's reproducer: the fitting thread holds the model's lock (and its engine state) at the
    fork; the thread does not exist in the child, which must neither hang nor see a half-updated model."""
    X, y = data(n=4000)
    model = make_model(seed=3)
    model.fit(X, y, epochs=1, batch_size=32, optimizer=SGD(lr=0.01))
    before = model.predict(X[:2]).tolist()
    started = threading.Event()

    class Started(fnet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            started.set()

    thread = threading.Thread(
        target=lambda: model.fit(X, y, epochs=200, batch_size=8, callbacks=[Started()]), daemon=True
    )
    thread.start()
    assert started.wait(30)
    for _ in range(3):
        # the fit in progress at the fork is rolled back in the child: it sees the model from before that fit
        assert _predict_in_forked_child(model, X, "the model") == before
    model.stop_training = True
    thread.join(60)


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork.*:DeprecationWarning")  # the point of the test
def test_a_child_forked_while_threads_busy_with_the_engine_pools_can_compute():
    """Children forked at random instants while another thread keeps resizing the engine's pools and calling the
    engine: whatever engine-wide lock that thread held at the fork, the child computes (it gets pools of its own)."""
    X, y = data(n=64)
    model = make_model(seed=5)
    model.fit(X, y, epochs=1, batch_size=16)
    expected = model.predict(X[:2]).tolist()
    other = make_model(seed=6)
    other.fit(X, y, epochs=1)
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            fnet.set_num_threads(1)
            other.predict(X)
            fnet.set_num_threads(2)
            other.predict(X)

    previous = fnet.get_num_threads()
    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for _ in range(20):
            assert _predict_in_forked_child(model, X, "the engine") == expected
    finally:
        stop.set()
        thread.join(30)
        fnet.set_num_threads(previous)
