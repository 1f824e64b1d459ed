"""One training run per fit, exact resume and fits as transactions.

- ``fit(epochs=2)`` then ``fit(epochs=4, initial_epoch=2)`` (or ``fit(epochs=2)`` twice) equals ``fit(epochs=4)`` bit
  for bit, schedule included; so do save/load/continue, pickling and ``copy()``.
- Any exception in ``fit`` or ``train_step`` (late bad input, divergence, Ctrl-C, a failing callback) leaves the
  weights, the optimizer object, its state and the counters exactly as they were before the call.
- The scikit-learn wrapper copies X into the engine once per fit call, not once per iteration.
"""

from __future__ import annotations

import pickle
from typing import Any

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_equal, classification_data
from ferronet import _core
from ferronet.optim import SGD, Adam, RMSProp

OPTIMIZERS = {
    "momentum": lambda: SGD(lr=0.05, momentum=0.9),
    "nesterov": lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(lr=0.01),
    "rmsprop": lambda: RMSProp(lr=0.01),
}


def model(dtype: str = "float64") -> fnet.Sequential:
    """Dropout, DropConnect and BatchNorm: every random stream and every kind of state."""
    return fnet.Sequential(
        [
            fnet.Dense(8, activation="relu"),
            fnet.BatchNorm(),
            fnet.Dropout(0.2),
            fnet.Dense(6, activation="tanh", dropconnect=0.1),
            fnet.Dense(3),
        ],
        input_dim=4,
        dtype=dtype,
        seed=7,
        l2=1e-3,
    )


def data() -> tuple[np.ndarray, np.ndarray]:
    return classification_data(n=48, d=4, k=3, seed=2)


def assert_same_state(a: fnet.Sequential, b: fnet.Sequential) -> None:
    """Weights, optimizer state, optimizer configuration and counters all bit-identical."""
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["meta"] == sb["meta"]
    assert set(sa["tensors"]) == set(sb["tensors"])
    for name, array in sa["tensors"].items():
        np.testing.assert_array_equal(array, sb["tensors"][name], err_msg=name)


SCHEDULE = fnet.schedules.StepDecay(factor=0.5, every=1)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_initial_epoch_resumes_exactly_with_the_schedule(name):
    X, y = data()
    straight = model()
    history = straight.fit(X, y, epochs=4, batch_size=8, optimizer=OPTIMIZERS[name](), schedule=SCHEDULE)
    split = model()
    first = split.fit(X, y, epochs=2, batch_size=8, optimizer=OPTIMIZERS[name](), schedule=SCHEDULE)
    second = split.fit(X, y, epochs=4, initial_epoch=2, batch_size=8, schedule=SCHEDULE)
    assert_same_state(straight, split)
    assert first.epoch == [0, 1] and second.epoch == [2, 3]
    assert first.history["loss"] + second.history["loss"] == history.history["loss"]
    lr0 = OPTIMIZERS[name]().lr
    assert first.history["lr"] + second.history["lr"] == history.history["lr"] == [lr0 * 0.5**e for e in range(4)]


def test_calling_fit_in_a_loop_continues_the_schedule():
    X, y = data()
    straight = model()
    straight.fit(X, y, epochs=4, batch_size=8, optimizer=SGD(lr=0.1, momentum=0.9), schedule=SCHEDULE)
    looped = model()
    optimizer = SGD(lr=0.1, momentum=0.9)
    rates = []
    for _ in range(4):
        rates += looped.fit(X, y, epochs=1, batch_size=8, optimizer=optimizer, schedule=SCHEDULE).history["lr"]
    assert rates == [0.1, 0.05, 0.025, 0.0125]
    assert_same_state(straight, looped)
    # A new optimizer object starts fresh state, and its schedule starts at epoch 0 again.
    history = looped.fit(X, y, epochs=1, batch_size=8, optimizer=SGD(lr=0.1), schedule=SCHEDULE)
    assert history.epoch == [0] and history.history["lr"] == [0.1]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_continue_equals_training_straight_through(tmp_path, name, dtype):
    X, y = data()
    straight = model(dtype)
    straight.fit(X, y, epochs=3, batch_size=8, optimizer=OPTIMIZERS[name](), schedule=SCHEDULE)
    first = model(dtype)
    first.fit(X, y, epochs=1, batch_size=8, optimizer=OPTIMIZERS[name](), schedule=SCHEDULE)
    first.save(tmp_path / "ckpt.safetensors")  # the optimizer and its state are saved by default
    resumed = fnet.load(tmp_path / "ckpt.safetensors")
    assert resumed.optimizer is not None and resumed.optimizer.config() == first.optimizer.config()
    resumed.fit(X, y, epochs=2, batch_size=8, schedule=SCHEDULE)
    assert_same_state(straight, resumed)


@pytest.mark.parametrize("how", ["copy", "pickle", "state_dict"])
def test_copies_keep_the_optimizer_and_continue_identically(how):
    X, y = data()
    original = model()
    original.fit(X, y, epochs=1, batch_size=8, optimizer=Adam(lr=0.01))
    if how == "copy":
        clone = original.copy()
    elif how == "pickle":
        clone = pickle.loads(pickle.dumps(original))
    else:
        clone = model()
        clone.load_state_dict(original.state_dict())
    assert clone.optimizer is not None and clone.optimizer is not original.optimizer
    assert clone.optimizer.config() == original.optimizer.config()
    original.fit(X, y, epochs=2, batch_size=8)
    clone.fit(X, y, epochs=2, batch_size=8)
    assert_same_state(original, clone)


def test_copy_to_another_dtype_keeps_the_optimizer_state():
    X, y = data()
    original = model("float64")
    original.fit(X, y, epochs=1, batch_size=8, optimizer=Adam(lr=0.01))
    clone = original.copy(dtype="float32")
    state = clone.state_dict()
    assert state["meta"] == original.state_dict()["meta"]
    assert any(name.endswith("exp_avg_sq") for name in state["tensors"])
    assert all(array.dtype == np.float32 for array in state["tensors"].values())


def test_load_state_dict_refuses_another_architecture_and_changes_nothing():
    X, y = data()
    source = fnet.Sequential([fnet.Dense(5), fnet.Dense(3)], input_dim=4, dtype="float64")
    target = model()
    target.fit(X, y, epochs=1, batch_size=8, optimizer=Adam())
    before = target.state_dict()
    with pytest.raises(ValueError, match="does not match the model config"):
        target.load_state_dict(source.state_dict())
    assert_same_state(target, target)
    after = target.state_dict()
    for name, array in before["tensors"].items():
        np.testing.assert_array_equal(after["tensors"][name], array)


# ------------------------------------------------------------------------------------ fits are transactions


def trained_with(optimizer: Any) -> tuple[fnet.Sequential, dict[str, Any]]:
    X, y = data()
    net = model()
    net.fit(X, y, epochs=1, batch_size=8, optimizer=optimizer)
    return net, net.state_dict()


def assert_state_is(net: fnet.Sequential, state: dict[str, Any]) -> None:
    now = net.state_dict()
    assert now["meta"] == state["meta"]
    assert set(now["tensors"]) == set(state["tensors"])
    for name, array in state["tensors"].items():
        np.testing.assert_array_equal(now["tensors"][name], array, err_msg=name)


class Boom(fnet.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("a callback failed")


class Interrupt(fnet.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise KeyboardInterrupt


FAILURES = {
    "a new optimizer, then divergence": lambda net, X, y: net.fit(X, y, epochs=3, batch_size=8, optimizer=SGD(lr=1e30)),
    "divergence with the same optimizer": lambda net, X, y: net.fit(
        X, y, epochs=3, batch_size=8, schedule=lambda e, lr: lr if e < 1 else 1e300
    ),
    "a failing callback": lambda net, X, y: net.fit(X, y, epochs=4, batch_size=8, callbacks=[Boom()]),
    "Ctrl-C": lambda net, X, y: net.fit(X, y, epochs=2, batch_size=8, callbacks=[Interrupt()]),
    "bad validation data": lambda net, X, y: net.fit(X, y, epochs=2, validation_data=(X[:, :2], y)),
    "a bad optimizer": lambda net, X, y: net.fit(X, y, optimizer=Adam),
}


@pytest.mark.parametrize("optimizer", [SGD(lr=0.05, momentum=0.9), Adam(lr=0.01)], ids=["momentum", "adam"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_any_exception_in_fit_leaves_weights_optimizer_and_state_as_before(optimizer, failure):
    net, state = trained_with(optimizer)
    X, y = data()
    with pytest.raises((FloatingPointError, RuntimeError, KeyboardInterrupt, ValueError, TypeError)):
        FAILURES[failure](net, X, y)
    assert_state_is(net, state)
    assert net.optimizer is optimizer
    # and the model trains on exactly as a twin that never saw the failed call
    twin, _ = trained_with(type(optimizer)(**{k: v for k, v in optimizer.config().items() if k != "kind"}))
    net.fit(X, y, epochs=1, batch_size=8)
    twin.fit(X, y, epochs=1, batch_size=8)
    assert_weights_equal(net.get_weights(), twin.get_weights())


def test_a_failing_train_step_keeps_the_optimizer_it_had():
    X, _ = data()
    net = fnet.Sequential([fnet.Dense(8, activation="relu"), fnet.Dense(1)], input_dim=4, loss="mse", dtype="float64")
    before = SGD(lr=0.01, momentum=0.9)
    net.fit(X, X.sum(axis=1), epochs=2, batch_size=8, optimizer=before)
    state = net.state_dict()
    overflowing = np.full(len(X), 1e200)  # its squared error is inf
    with pytest.raises(FloatingPointError, match="the update was not applied"):
        net.train_step(X, overflowing, optimizer=Adam(lr=1.0))  # a new optimizer kind would reset the momentum
    assert net.optimizer is before
    assert_state_is(net, state)


# ------------------------------------------------------------------------------------ one copy of X per fit


class CountingDataset:
    """Stands in for ``_core.Dataset`` and counts the copies of X made into the engine."""

    made = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        CountingDataset.made += 1
        return REAL_DATASET(*args, **kwargs)


REAL_DATASET = _core.Dataset


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_the_sklearn_iteration_loop_copies_x_once_per_fit(monkeypatch, solver):
    pytest.importorskip("sklearn", reason="scikit-learn is an optional dependency")
    from ferronet.sklearn import MLPClassifier

    monkeypatch.setattr(_core, "Dataset", CountingDataset)
    CountingDataset.made = 0
    X, y = data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=7, random_state=0, tol=0.0)
    with pytest.warns(Warning):  # ConvergenceWarning: 7 iterations are not enough
        clf.fit(X, y)
    assert clf.n_iter_ == 7 and CountingDataset.made == 1
    clf.partial_fit(X, y)
    assert CountingDataset.made == 2  # partial_fit gets new data: one copy per call
    clf.set_params(warm_start=True, max_iter=3)
    with pytest.warns(Warning):
        clf.fit(X, y)
    assert CountingDataset.made == 3


def test_fit_copies_x_once_whatever_the_epochs(monkeypatch):
    monkeypatch.setattr(_core, "Dataset", CountingDataset)
    CountingDataset.made = 0
    X, y = data()
    model().fit(X, y, epochs=5, batch_size=8, validation_split=0.25)
    assert CountingDataset.made == 1


# ------------------------------------------------------------------------------------ verbose, like Keras


@pytest.mark.parametrize(("verbose", "lines"), [(0, 0), (False, 0), (2, 3), (True, 3)])
def test_verbose_accepts_keras_levels_and_booleans(capsys, verbose, lines):
    X, y = data()
    model().fit(X, y, epochs=3, batch_size=8, verbose=verbose)
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if line.startswith("epoch ")]) == lines


def test_verbose_rejects_other_values():
    X, y = data()
    with pytest.raises(ValueError, match=r"verbose \(0, 1, 2, True, False or 'auto'\) must be <= 2"):
        model().fit(X, y, verbose=3)
    with pytest.raises(TypeError, match="verbose must be 0, 1, 2"):
        model().fit(X, y, verbose="loud")
