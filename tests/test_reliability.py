"""The reliability issue's engine cases: floating-point modes never leak between calls, Ctrl-C stops long predict,
evaluate and single huge batches within half a second, oversized thread counts are capped, and the private
engine refuses nonsense with ValueError."""

from __future__ import annotations

import json
import os
import textwrap
import threading
import time
import warnings
from fractions import Fraction

import ferronet as fnet
import numpy as np
import pytest
from conftest import sigint_child
from ferronet import _core, ops


def test_a_call_beside_a_fit_sees_ieee_semantics():
    """Training flushes denormals on its own threads only: the same call gives the same bits alone and beside a fit
    (the issue's reproducer: 1e-20 × 1e-20 = 1e-40 is subnormal in float32)."""
    x = np.full((1, 1), 1e-20, np.float32)
    alone = ops.dense_forward(x, x, np.zeros(1, np.float32))
    assert alone[0, 0] > 0
    X = np.random.default_rng(0).normal(size=(20_000, 32)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = fnet.Sequential([fnet.Dense(64, activation="relu"), fnet.Dense(2)], input_dim=32)
    probe = fnet.Sequential([fnet.Dense(1, activation="linear")], input_dim=1, dtype="float32")
    probe.set_weights([{"W": x, "b": np.zeros(1, np.float32)}])
    probe_alone = probe.forward(x)
    assert probe_alone[0, 0] > 0
    stop = threading.Event()

    def train():
        while not stop.is_set():
            model.fit(X, y, epochs=1, batch_size=64)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    try:
        results = [ops.dense_forward(x, x, np.zeros(1, np.float32))[0, 0] for _ in range(2000)]
        predictions = [probe.forward(x)[0, 0] for _ in range(200)]
    finally:
        stop.set()
        thread.join(60)
    assert all(value == alone[0, 0] for value in results)
    assert all(value == probe_alone[0, 0] for value in predictions)


def test_a_model_trained_beside_another_equals_one_trained_alone():
    X = np.random.default_rng(1).normal(size=(3000, 16)).astype(np.float32) * 1e-19  # products near subnormal
    y = (X[:, 0] > 0).astype(int)

    def make():
        return fnet.Sequential([fnet.Dense(8, activation="tanh"), fnet.Dense(2)], input_dim=16, seed=3)

    alone = make()
    alone.fit(X, y, epochs=2, batch_size=32)
    other, beside = make(), make()
    thread = threading.Thread(target=lambda: other.fit(X, y, epochs=6, batch_size=16))
    thread.start()
    beside.fit(X, y, epochs=2, batch_size=32)
    thread.join(60)
    for a, b in zip(alone.get_weights(), beside.get_weights(), strict=True):
        for key in a:
            assert a[key].tobytes() == b[key].tobytes(), key  # -0.0 and +0.0 differ here


def test_thread_counts_beyond_the_machine_are_capped(restore_threads):
    fnet.set_num_threads(1024)
    cap = max(4, os.cpu_count() or 1)
    assert fnet.get_num_threads() <= cap
    X = np.random.default_rng(0).normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int)
    model = fnet.Sequential([fnet.Dense(8), fnet.Dense(2)], input_dim=4)
    started = time.perf_counter()
    for _ in range(20):
        model.fit(X, y, epochs=1, batch_size=8)
    assert time.perf_counter() - started < 10  # 1024 threads waking for each tiny batch took minutes


def test_the_private_engine_refuses_a_nan_time_budget():
    model = _core.Model(json.dumps(fnet.Sequential([fnet.Dense(2)], input_dim=2).config() | {"input_dim": 2}))
    data = _core.Dataset(np.ones((4, 2), np.float32), np.zeros(4, np.int64), True)
    with pytest.raises(ValueError, match="seconds must be a finite number"):
        model.train_chunk(data, float("nan"))


CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import ferronet as fnet

    what = sys.argv[1]
    generator = np.random.default_rng(0)
    if what == "huge_batch":
        X = generator.normal(size=(40_000, 2048)).astype(np.float32)
        model = fnet.Sequential([fnet.Dense(2048, activation="relu"), fnet.Dense(2048, activation="relu"),
                                 fnet.Dense(10)], input_dim=2048)
    else:
        X = generator.normal(size=(200_000, 1024)).astype(np.float32)
        model = fnet.Sequential([fnet.Dense(2048, activation="relu"), fnet.Dense(2048, activation="relu"),
                                 fnet.Dense(10)], input_dim=1024)
    y = generator.integers(0, 10, len(X))
    before = model.get_weights()
    print("READY", flush=True)
    try:
        if what == "huge_batch":
            model.fit(X, y, epochs=1, batch_size=len(X))  # one batch of many seconds
        elif what == "predict":
            model.predict(X)
        elif what == "predict_proba":
            model.predict_proba(X)
        else:
            model.evaluate(X, y)
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    caught = time.monotonic()
    unchanged = all(np.array_equal(a, before[i][k]) for i, layer in enumerate(model.get_weights()) for k, a in layer.items())
    usable = model.predict(X[:3]).shape == (3,)
    print(json.dumps({"outcome": outcome, "caught": caught, "unchanged": unchanged, "usable": usable}), flush=True)
    """
)


@pytest.mark.parametrize("what", ["huge_batch", "predict", "predict_proba", "evaluate"])
def test_ctrl_c_stops_long_calls_within_half_a_second(what):
    report = sigint_child(CHILD, [what], wait=1.5)
    assert report["outcome"] == "KeyboardInterrupt"
    assert report["latency"] < 0.5, report["latency"]
    assert report["unchanged"] and report["usable"]


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: _core.epoch_permutation(2, 2**65, 1), "seed"),
        (lambda: _core.epoch_permutation(-1, 0, 0), "n"),
        (lambda: _core.sgd_update(np.ones(2), np.ones(2), Fraction(10**400, 3)), "lr"),
        (lambda: _core.sgd_update(np.ones(2), np.ones(2), 10**400), "lr"),
        (lambda: _core.rmsprop_update(np.ones(3), np.ones(3), np.ones(3), 0.4, 0.0, np.complex64(1)), "eps"),
        (lambda: _core.read_model_fd(2**1329, "x"), "fd"),
        (lambda: _core.set_num_threads(-1), "n"),
    ],
)
def test_the_private_engine_refuses_out_of_range_numbers_with_type_error_naming_the_argument(call, argument):
    """No OverflowError, no ComplexWarning: a TypeError whose note names the argument (PyO3 adds it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError) as info:
            call()
    assert f"while processing '{argument}'" in getattr(info.value, "__notes__", [])


def test_reading_a_model_from_a_closed_descriptor_is_a_value_error():
    read, write = os.pipe()
    os.close(read)
    os.close(write)
    with pytest.raises(ValueError, match="fd must be an open file descriptor"):
        _core.read_model_fd(read, "x")


def test_an_early_stopping_metric_must_be_real():
    stop = fnet.EarlyStopping(monitor="loss", patience=1)
    stop.set_model(fnet.Sequential([fnet.Dense(2)], input_dim=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"logs\['loss'\] must be a number; got complex64"):
            stop.on_epoch_end(0, {"loss": np.complex64(1)})


def test_the_estimators_refuse_numbers_beyond_floats_and_impossible_sizes_quickly():
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPClassifier, MLPRegressor

    with pytest.raises(ValueError, match="within the float range"):
        MLPClassifier(max_iter=2).fit(np.array([[10**400], [1]], dtype=object), [0, 1])
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**31, 2**20), strides=(0, 0))  # 2**51 values
    start = time.perf_counter()
    with pytest.raises(MemoryError, match="a float copy of X"):
        MLPRegressor(max_iter=2).fit(huge, np.zeros(2**31))
    assert time.perf_counter() - start < 5  # scikit-learn's NaN scan over the view would take hours


@pytest.mark.parametrize("schedule", [fnet.schedules.InverseTimeDecay(0.0), fnet.schedules.ExponentialDecay(0.5)])
@pytest.mark.parametrize("epoch", [0j, np.complex64(1)])
def test_a_schedule_refuses_a_complex_epoch(schedule, epoch):
    """Hypothesis found InverseTimeDecay(0)(0j, 0.0) returning 0j: a complex rate."""
    with pytest.raises(TypeError, match="epoch must be a real number"):
        schedule(epoch, 0.1)


def test_float32_hyperparameters_meet_huge_losses_without_warnings():
    """NumPy 2 casts a Python float to float32 when it meets a float32 scalar: tol=np.float32(...) against a loss
    of 5e299 warned "overflow encountered in cast" (found by the fuzzer). The estimators compare in Python floats."""
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPRegressor

    X, y = np.ones((4, 2)), np.full(4, 1e150)
    estimator = MLPRegressor(
        hidden_layer_sizes=(), solver="sgd", learning_rate_init=1e-30, max_iter=3, tol=np.float32(0.02),
        power_t=np.float32(0.5), learning_rate="invscaling", n_iter_no_change=1,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*(Maximum iterations|Stochastic Optimizer).*")
        estimator.fit(X, y)
    assert estimator.loss_ > 1e299


def test_hash_words_refuses_words_beyond_64_bits_with_type_error():
    with pytest.raises(TypeError) as info:
        _core.hash_words([2**100])
    assert "while processing 'words'" in getattr(info.value, "__notes__", [])


def test_from_architecture_checks_dimensions_before_comparing_them():
    from decimal import Decimal

    spec = [{"input_dim": 2, "output_dim": 1}, {"input_dim": Decimal("sNaN"), "output_dim": 4}]
    with pytest.raises(TypeError, match=r"architecture\[1\]\['input_dim'\] must be an integer"):
        fnet.Sequential.from_architecture(spec, loss="mse")


def test_the_estimators_refuse_an_impossible_y_before_scanning_it():
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPRegressor

    y = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**40,), strides=(0,))  # 2**40 values in 8 bytes
    start = time.perf_counter()
    with pytest.raises(MemoryError, match="a float copy of y"):
        MLPRegressor(max_iter=2).fit(np.zeros((6, 4)), y)
    assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPRegressor(max_iter=2).fit(np.zeros((6, 4)), np.zeros(5))


def test_partial_fit_with_infinite_labels_is_a_value_error_without_warnings():
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPClassifier

    y = np.array([0.0, 1.0, np.inf, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="infinity"):
            MLPClassifier(hidden_layer_sizes=()).partial_fit(np.zeros((4, 2)), y, classes=[0.0, 1.0])
