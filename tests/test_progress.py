"""``fit(progress=...)``: a tqdm bar per epoch, updated between the engine's chunks, and silence when off."""

from __future__ import annotations

import io
import re
import sys
import types
from typing import ClassVar

import ferronet as fnet
import numpy as np
import pytest
from ferronet import _progress as progress_module
from ferronet import training as training_module

tqdm_auto = pytest.importorskip("tqdm.auto", reason="tqdm is the progress extra: pip install tqdm")


def small_problem(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    X, y = fnet.datasets.load_digits()
    return X[:n] / 16.0, y[:n]


def classifier() -> fnet.Sequential:
    return fnet.Sequential([fnet.Dense(16, activation="relu"), fnet.Dense(10)], input_dim=64, seed=0)


def assert_same_weights(model: fnet.Sequential, weights: list[dict[str, np.ndarray]]) -> None:
    for layer, before in zip(model.get_weights(), weights, strict=True):
        for name, value in before.items():
            np.testing.assert_array_equal(layer[name], value)


class TTY(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class RecordingBar(tqdm_auto.tqdm):
    """tqdm, recording what fit asks of it: one instance per epoch."""

    instances: ClassVar[list[RecordingBar]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.increments: list[int] = []
        self.postfixes: list[dict[str, str]] = []
        RecordingBar.instances.append(self)

    def update(self, n=1):
        self.increments.append(n)
        return super().update(n)

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        self.postfixes.append(dict(ordered_dict or {}, **kwargs))
        return super().set_postfix(ordered_dict, refresh=refresh, **kwargs)


@pytest.fixture
def recording_bars(monkeypatch):
    RecordingBar.instances = []
    monkeypatch.setattr(tqdm_auto, "tqdm", RecordingBar)
    return RecordingBar.instances


def test_progress_true_draws_one_bar_per_epoch_with_loss_and_accuracy(capfd):
    X, y = small_problem()
    history = classifier().fit(X, y, epochs=3, batch_size=30, progress=True)
    out, err = capfd.readouterr()
    assert out == ""  # the bar goes to stderr, stdout stays for the program's own output
    for epoch in (1, 2, 3):
        finals = [
            line for line in re.split(r"[\r\n]", err) if line.startswith(f"epoch {epoch}/3") and "120/120" in line
        ]
        assert finals, err
        match = re.search(r"loss=(\d+\.\d+), acc=(\d\.\d+)", finals[-1])
        assert match, finals[-1]
        # the postfix of the finished bar is the epoch's mean loss and accuracy, as in the history
        assert float(match.group(1)) == pytest.approx(history.history["loss"][epoch - 1], abs=1e-4)
        assert float(match.group(2)) == pytest.approx(history.history["accuracy"][epoch - 1], abs=1e-4)


def test_the_bar_is_updated_between_chunks_within_an_epoch(monkeypatch, recording_bars):
    # A zero time budget makes each engine call train one batch: 4 chunks per epoch of 120 rows in batches of 30.
    monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.0)
    X, y = small_problem()
    classifier().fit(X, y, epochs=2, batch_size=30, progress=True)
    assert len(recording_bars) == 2
    for epoch, bar in enumerate(recording_bars, start=1):
        assert bar.desc.startswith(f"epoch {epoch}/2")
        assert bar.total == 120
        assert bar.increments == [30, 30, 30, 30]
        assert bar.n == 120
        assert [sorted(postfix) for postfix in bar.postfixes] == [["acc", "loss"]] * 4
        losses = [float(postfix["loss"]) for postfix in bar.postfixes]
        assert len(set(losses)) > 1  # the running loss changes from chunk to chunk


def test_a_regression_bar_shows_the_loss_only(monkeypatch, recording_bars):
    monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    model = fnet.Sequential([fnet.Dense(4, activation="tanh"), fnet.Dense(1)], input_dim=3, loss="mse", seed=0)
    model.fit(X, X.sum(axis=1), epochs=1, batch_size=20, progress=True)
    (bar,) = recording_bars
    assert [sorted(postfix) for postfix in bar.postfixes] == [["loss"], ["loss"]]


def test_progress_false_prints_nothing(capfd):
    X, y = small_problem()
    classifier().fit(X, y, epochs=2, batch_size=30, progress=False)
    classifier().fit(X, y, epochs=2, batch_size=30)  # the default is off
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("is_terminal", [True, False])
def test_auto_shows_the_bar_only_when_stderr_is_a_terminal(monkeypatch, is_terminal):
    stderr = TTY() if is_terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    X, y = small_problem()
    classifier().fit(X, y, epochs=2, batch_size=30, progress="auto")
    written = stderr.getvalue()
    if is_terminal:
        assert "epoch 1/2" in written and "epoch 2/2" in written and "loss=" in written
    else:
        assert written == ""


def test_auto_without_a_stderr_is_off(monkeypatch, capfd):
    monkeypatch.setattr(sys, "stderr", None)  # pythonw and some services run without one
    X, y = small_problem()
    classifier().fit(X, y, epochs=1, batch_size=30, progress="auto")
    assert capfd.readouterr() == ("", "")


def test_without_tqdm_true_raises_a_clear_error_and_auto_is_silent(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, y = small_problem()
    model = classifier()
    weights = model.get_weights()
    with pytest.raises(ImportError, match=r"progress=True needs tqdm: pip install tqdm"):
        model.fit(X, y, epochs=1, batch_size=30, progress=True)
    assert_same_weights(model, weights)  # checked before any training
    stderr = TTY()
    monkeypatch.setattr(sys, "stderr", stderr)
    history = model.fit(X, y, epochs=1, batch_size=30, progress="auto")
    assert stderr.getvalue() == ""
    assert len(history.history["loss"]) == 1


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("yes", TypeError),
        ("Auto", TypeError),
        ("", TypeError),
        (1, TypeError),
        (0, TypeError),
        (None, TypeError),
        (np.array([True, False]), TypeError),
    ],
    ids=repr,
)
def test_bad_progress_values_are_rejected_before_training(value, error):
    X, y = small_problem()
    model = classifier()
    weights = model.get_weights()
    with pytest.raises(error, match=r"progress must be True, False or 'auto'"):
        model.fit(X, y, epochs=1, batch_size=30, progress=value)
    assert_same_weights(model, weights)


def test_numpy_bools_are_accepted(capfd):
    X, y = small_problem()
    classifier().fit(X, y, epochs=1, batch_size=30, progress=np.False_)
    assert capfd.readouterr() == ("", "")
    classifier().fit(X, y, epochs=1, batch_size=30, progress=np.True_)
    assert "epoch 1/1" in capfd.readouterr().err


class ZMQInteractiveShell:
    """Stands for ipykernel's shell: what a Jupyter kernel's get_ipython() returns."""

    config: ClassVar[dict] = {"IPKernelApp": {}}


class TerminalInteractiveShell:
    config: ClassVar[dict] = {}


def fake_ipython(monkeypatch, shell) -> None:
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_notebook_detection(monkeypatch):
    assert not progress_module.in_notebook()  # plain pytest
    fake_ipython(monkeypatch, TerminalInteractiveShell())
    assert not progress_module.in_notebook()  # IPython in a terminal: stderr decides, as for any terminal
    fake_ipython(monkeypatch, None)
    assert not progress_module.in_notebook()
    fake_ipython(monkeypatch, ZMQInteractiveShell())
    assert progress_module.in_notebook()


def test_auto_is_on_in_a_notebook_and_falls_back_to_text_without_ipywidgets(monkeypatch):
    # Jupyter's stderr is no terminal, so "auto" used to stay off there; tqdm.auto would warn without ipywidgets.
    fake_ipython(monkeypatch, ZMQInteractiveShell())
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes it unimportable (and invisible to find_spec)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert progress_module.resolve_progress("auto") is True
    X, y = small_problem()
    classifier().fit(X, y, epochs=2, batch_size=30, progress="auto")
    written = stderr.getvalue()
    assert "epoch 1/2" in written and "epoch 2/2" in written and "120/120" in written
