"""A ``fit`` that stops early leaves a usable model exactly as it was before the call: Ctrl-C (KeyboardInterrupt
within a second) and divergence (FloatingPointError naming the epoch and batch) put back the weights, the optimizer
and its state and the counters (a fit is a transaction).

A child process trains for far longer than the test waits; the test sends it SIGINT once training is under way and
measures, with the system-wide monotonic clock, how long the child took to raise KeyboardInterrupt. The child then
checks its model (predict, finite weights, another fit) and reports everything as one JSON line.
"""

from __future__ import annotations

import textwrap

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_equal, sigint_child
from ferronet.optim import SGD, Adam

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import ferronet as fnet

    batch_size, rows, features, hidden, dtype = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    generator = np.random.default_rng(0)
    X = generator.normal(size=(rows, features)).astype(dtype)
    y = generator.integers(0, 10, rows)
    model = fnet.Sequential(
        [fnet.Dense(hidden, activation="relu"), fnet.Dropout(0.1), fnet.Dense(hidden, activation="tanh"), fnet.Dense(10)],
        input_dim=features, dtype=dtype, seed=0,
    )
    optimizer = fnet.optim.SGD(lr=1e-3, momentum=0.9)
    # a short first fit times one batch, and is the "training has started" point the parent waits for
    started = time.perf_counter()
    model.fit(X[: 4 * batch_size], y[: 4 * batch_size], epochs=1, batch_size=batch_size, optimizer=optimizer)
    batch_seconds = (time.perf_counter() - started) / 4
    before = model.get_weights()
    print("READY", flush=True)
    began = time.monotonic()
    try:
        model.fit(X, y, epochs=10**6, batch_size=batch_size, optimizer=optimizer)
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    caught = time.monotonic()
    weights = model.get_weights()
    finite = all(np.isfinite(a).all() for layer in weights for a in layer.values())
    restored = all(np.array_equal(a, before[i][k]) for i, layer in enumerate(weights) for k, a in layer.items())
    predictions = model.predict(X[:100])
    history = model.fit(X[:512], y[:512], epochs=2, batch_size=min(batch_size, 64), optimizer=optimizer)
    after = model.get_weights()
    print(json.dumps({
        "outcome": outcome,
        "caught": caught,
        "trained_seconds": caught - began,
        "batch_seconds": batch_seconds,
        "weights_finite": bool(finite),
        "weights_restored_after_interrupted_fit": bool(restored),
        "predict_shape": list(predictions.shape),
        "predict_in_range": bool(((predictions >= 0) & (predictions < 10)).all()),
        "refit_losses": history.history["loss"],
        "refit_weights_finite": bool(all(np.isfinite(a).all() for layer in after for a in layer.values())),
        "evaluate": model.evaluate(X[:100], y[:100]),
    }), flush=True)
    """
)

#: The latency the API promises.
PROMISED_SECONDS = 1.0


def interrupt_child(batch_size: int, rows: int, features: int, hidden: int, dtype: str, wait: float = 1.0) -> dict:
    """Start the child, SIGINT it ``wait`` seconds into its long fit; returns its report plus the latency."""
    return sigint_child(CHILD, [str(v) for v in (batch_size, rows, features, hidden, dtype)], wait)


@pytest.mark.parametrize(
    ("batch_size", "rows", "features", "hidden", "dtype"),
    [
        (1, 200_000, 64, 128, "float32"),  # the online path: one Rust loop iteration per sample
        (32, 100_000, 64, 128, "float64"),
        (4096, 40_960, 256, 512, "float32"),  # large batches: ~0.1 s of GEMMs each
    ],
    ids=["batch_1", "batch_32_float64", "batch_4096"],
)
def test_sigint_raises_keyboard_interrupt_within_a_second_and_leaves_a_usable_model(
    batch_size, rows, features, hidden, dtype
):
    report = interrupt_child(batch_size, rows, features, hidden, dtype)
    print(f"batch {batch_size}: latency {report['latency']:.3f} s, one batch {report['batch_seconds']:.4f} s")
    assert report["outcome"] == "KeyboardInterrupt"
    assert report["trained_seconds"] >= 0.9  # the signal came during the long fit, not before it
    assert 0.0 <= report["latency"] < PROMISED_SECONDS, report
    # the model is usable: its weights are those from before the interrupted call, it predicts, evaluates and trains
    assert report["weights_finite"]
    assert report["weights_restored_after_interrupted_fit"]
    assert report["predict_shape"] == [100]
    assert report["predict_in_range"]
    assert len(report["refit_losses"]) == 2
    assert all(0.0 < loss < 10.0 for loss in report["refit_losses"])
    assert report["refit_weights_finite"]
    assert 0.0 < report["evaluate"]["loss"] < 10.0
    assert 0.0 <= report["evaluate"]["accuracy"] <= 1.0


# ------------------------------------------------------------------------------------------ divergence


def _diverging_data(dtype: str, bad_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Finite data whose squared error overflows the dtype at exactly one row (so at one known batch)."""
    generator = np.random.default_rng(0)
    X, y = generator.normal(size=(40, 3)), generator.normal(size=40)
    y[bad_row] = 1e200 if dtype == "float64" else 1e30
    return X, y


def _regressor(dtype: str, batch_norm: bool) -> fnet.Sequential:
    middle = fnet.BatchNorm() if batch_norm else fnet.Dropout(0.2)
    layers = [fnet.Dense(8, activation="relu"), middle, fnet.Dense(1)]
    return fnet.Sequential(layers, input_dim=3, loss="mse", dtype=dtype, seed=2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("batch_size", "bad_row", "bad_batch"), [(1, 22, 23), (4, 22, 6), (8, 39, 5)])
def test_divergence_names_the_batch_and_puts_back_weights_and_optimizer_state(dtype, batch_size, bad_row, bad_batch):
    """The error names the (1-based) epoch — counted across fit calls, as the history and callbacks count them —
    and batch; weights, BatchNorm statistics, optimizer state (momentum, Adam moments) and counters are those from
    before the failing call: the model then trains on exactly as a twin that never saw the failed fit."""
    X, y = _diverging_data(dtype, bad_row)
    clean = np.delete(np.arange(40), bad_row)
    for optimizer_type in (SGD, Adam):
        model, twin = _regressor(dtype, batch_size > 1), _regressor(dtype, batch_size > 1)
        opt_model = optimizer_type(lr=1e-3) if optimizer_type is Adam else SGD(lr=1e-3, momentum=0.9)
        opt_twin = optimizer_type(lr=1e-3) if optimizer_type is Adam else SGD(lr=1e-3, momentum=0.9)
        for m, opt in ((model, opt_model), (twin, opt_twin)):
            m.fit(X[clean[:32]], y[clean[:32]], epochs=1, batch_size=batch_size, optimizer=opt)
        before = model.get_weights()
        with pytest.raises(FloatingPointError, match=rf"loss became inf at epoch 2, batch {bad_batch} \(1-based\)"):
            model.fit(X, y, epochs=3, batch_size=batch_size, shuffle=False, optimizer=opt_model)
        assert_weights_equal(model.get_weights(), before)
        for m, opt in ((model, opt_model), (twin, opt_twin)):
            m.fit(X[clean], y[clean], epochs=2, batch_size=4, optimizer=opt)
        assert_weights_equal(model.get_weights(), twin.get_weights())
        assert np.isfinite(model.predict(X)).all()


def test_divergence_in_train_step_changes_nothing():
    X, y = _diverging_data("float64", 2)
    model, twin = _regressor("float64", True), _regressor("float64", True)
    optimizer, twin_optimizer = SGD(lr=1e-2, momentum=0.9), SGD(lr=1e-2, momentum=0.9)
    model.train_step(X[10:20], y[10:20], optimizer=optimizer)
    twin.train_step(X[10:20], y[10:20], optimizer=twin_optimizer)
    before = model.get_weights()
    with pytest.raises(FloatingPointError, match=r"loss became inf; the update was not applied"):
        model.train_step(X[:8], y[:8], optimizer=optimizer)
    assert_weights_equal(model.get_weights(), before)
    model.train_step(X[20:30], y[20:30], optimizer=optimizer)
    twin.train_step(X[20:30], y[20:30], optimizer=twin_optimizer)
    assert_weights_equal(model.get_weights(), twin.get_weights())


def test_divergence_with_validation_and_early_stopping_keeps_the_model_usable():
    X, y = _diverging_data("float64", 30)
    model = _regressor("float64", False)
    stopper = fnet.EarlyStopping(monitor="val_loss", patience=1)
    model.fit(X[:20], y[:20], epochs=1, batch_size=5)
    before = model.get_weights()
    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 7"):
        model.fit(X, y, epochs=5, batch_size=5, shuffle=False, validation_data=(X[:5], y[:5]), early_stopping=stopper)
    assert_weights_equal(model.get_weights(), before)
    history = model.fit(X[:20], y[:20], epochs=2, batch_size=5, validation_data=(X[:5], y[:5]))
    assert all(np.isfinite(history.history["val_loss"]))
