"""What a type checker sees of the public API: the lazy names of ``ferronet`` are typed, and choice strings are
``Literal`` types, so a misspelt name fails ``mypy`` before anything runs.

mypy runs on small snippets of user code (``mypy --strict`` against this checkout, with the pyproject settings);
the Literal aliases are also compared with the run-time name tables, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest
from ferronet import _types, activations, callbacks, cli, layers, losses, optim
from ferronet._validation import FLOAT_DTYPES

ROOT = Path(__file__).resolve().parents[1]

needs_mypy = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install mypy)"
)

#: User code that must pass ``mypy --strict``, with what ``reveal_type`` must show on each marked line.
GOOD = """
import ferronet as fnet
from ferronet.optim import Adam

reveal_type(fnet.load)  # reveal: def (path: str | os.PathLike[str]) -> ferronet.model.Sequential
reveal_type(fnet.load("model.safetensors"))  # reveal: ferronet.model.Sequential
reveal_type(fnet.sklearn.MLPClassifier)  # reveal: -> ferronet.sklearn.MLPClassifier
reveal_type(fnet.sklearn.MLPClassifier())  # reveal: ferronet.sklearn.MLPClassifier
reveal_type(fnet.plot.history)  # reveal: -> matplotlib.figure.Figure
reveal_type(fnet.io.to_bytes)  # reveal: -> bytes
reveal_type(fnet.diagnostics.layer_stats)  # reveal: -> list[dict[str, Any]]
reveal_type(fnet.distributed.fit)  # reveal: -> ferronet.callbacks.History
reveal_type(fnet.onnx.to_onnx)  # reveal: def (model: ferronet.model.Sequential

model = fnet.Sequential(
    [fnet.Dense(64, activation="relu", init="he"), fnet.Activation("tanh"), fnet.Dense(3, activation="softmax")],
    input_dim=4,
    loss="softmax_cross_entropy",
    dtype="float64",
)
history = model.fit([[0.0] * 4], [0], optimizer="adam", verbose="auto", progress="auto")
model.fit([[0.0] * 4], [0], optimizer=Adam(lr=1e-3), schedule=fnet.schedules.StepDecay(0.5), verbose=2)
copy = model.copy(dtype="float32")
stop = fnet.EarlyStopping(monitor="val_accuracy", mode="max")
clf = fnet.sklearn.MLPClassifier(activation="logistic", solver="lbfgs", learning_rate="adaptive", batch_size="auto")
reg = fnet.sklearn.MLPRegressor(loss="poisson", dtype="float32")
onehot = fnet.preprocessing.one_hot([0, 1], 2, dtype="float64")
"""

#: User code with one mistake per line that mypy must report, and a part of the message it must give.
BAD = {
    'fnet.Dense(10, activation="rleu")': 'Argument "activation" to "Dense" has incompatible type "Literal[\'rleu\']"',
    'fnet.Dense(10, init="kaiming")': 'Argument "init" to "Dense" has incompatible type',
    'fnet.Activation("gelu")': 'Argument 1 to "Activation" has incompatible type',
    'fnet.Sequential([fnet.Dense(1)], loss="mae")': 'Argument "loss" to "Sequential" has incompatible type',
    'fnet.Sequential([fnet.Dense(1)], dtype="float16")': 'Argument "dtype" to "Sequential" has incompatible type',
    'fnet.Sequential([fnet.Dense(1)]).fit([[0.0]], [0], optimizer="adagrad")': 'Argument "optimizer" to "fit"',
    'fnet.Sequential([fnet.Dense(1)]).fit([[0.0]], [0], verbose="loud")': 'Argument "verbose" to "fit"',
    'fnet.EarlyStopping(monitor="val_acc")': 'Argument "monitor" to "EarlyStopping" has incompatible type',
    'fnet.EarlyStopping(mode="maximum")': 'Argument "mode" to "EarlyStopping" has incompatible type',
    'fnet.sklearn.MLPClassifier(solver="newton")': 'Argument "solver" to "MLPClassifier" has incompatible type',
    'fnet.sklearn.MLPClassifier(activation="sigmoid")': 'Argument "activation" to "MLPClassifier"',
    'fnet.sklearn.MLPRegressor(learning_rate="cosine")': 'Argument "learning_rate" to "MLPRegressor"',
    'fnet.sklearn.MLPRegressor(loss="mse")': 'Argument "loss" to "MLPRegressor" has incompatible type',
    'fnet.plot.layer_histograms([], which="weights")': 'Argument "which" to "layer_histograms"',
    "fnet.sklern": 'Module has no attribute "sklern"',
    'fnet.lod("model.safetensors")': 'Module has no attribute "lod"',
    "fnet.load(42)": 'Argument 1 to "load" has incompatible type "int"',
}


def _mypy(tmp_path: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    # MYPYPATH puts this checkout's package first (not an installed copy); the pyproject settings apply (--strict,
    # the third-party modules without stubs) because mypy runs from the repository root.
    env = {**os.environ, "MYPYPATH": str(ROOT / "python")}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *(str(tmp_path / name) for name in files)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result.stdout + result.stderr


@needs_mypy
def test_mypy_types_the_lazy_names_and_accepts_correct_choices(tmp_path):
    output = _mypy(tmp_path, {"good.py": GOOD})
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert not errors, output
    revealed = {
        int(match[1]): match[2] for match in re.finditer(r"good\.py:(\d+): note: Revealed type is \"(.*)\"", output)
    }
    for number, line in enumerate(GOOD.splitlines(), start=1):
        if "# reveal: " in line:
            expected = line.split("# reveal: ")[1]
            assert number in revealed, f"no reveal_type output for line {number}: {output}"
            assert expected in revealed[number], f"line {number}: {revealed[number]!r} lacks {expected!r}"


@needs_mypy
def test_mypy_reports_each_misspelt_choice_and_attribute(tmp_path):
    lines = ["import ferronet as fnet", "", *BAD]
    output = _mypy(tmp_path, {"bad.py": "\n".join(lines) + "\n"})
    for number, code in enumerate(lines, start=1):
        if code in BAD:
            reported = [line for line in output.splitlines() if f"bad.py:{number}: error:" in line]
            assert reported, f"mypy accepted {code!r}:\n{output}"
            assert any(BAD[code] in line for line in reported), f"{code!r}: {reported}"


def test_lazy_modules_stay_lazy():
    """``import ferronet`` imports none of the optional dependencies (the typed names are imported only by type
    checkers)."""
    code = (
        "import sys, ferronet; "
        "print(sorted(m for m in ('matplotlib', 'sklearn', 'onnx', 'torch', 'dask', 'ferronet.plot', "
        "'ferronet.sklearn', 'ferronet.onnx', 'ferronet.distributed', 'ferronet.io') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_lazy_names_resolve_at_run_time_and_typos_raise():
    import ferronet as fnet
    from ferronet.io import load

    assert fnet.load is load
    assert fnet.sklearn.MLPClassifier.__name__ == "MLPClassifier"
    with pytest.raises(AttributeError, match="sklern"):
        _ = fnet.sklern  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("alias", "table"),
    [
        (_types.ActivationName, activations.ACTIVATIONS),
        (_types.InitName, layers.INITS),
        (_types.LossName, losses.LOSSES),
        (_types.DTypeName, FLOAT_DTYPES),
        (_types.OptimizerName, tuple(optim.OPTIMIZER_TYPES)),
        (_types.MonitorName, callbacks.MONITORS),
        (_types.DatasetName, cli.DATASETS),
    ],
    ids=["activations", "inits", "losses", "dtypes", "optimizers", "monitors", "cli-datasets"],
)
def test_literal_aliases_match_the_run_time_tables(alias, table):
    assert set(get_args(alias)) == set(table)


def test_sklearn_literal_aliases_match_its_tables():
    sklearn = pytest.importorskip("ferronet.sklearn")
    assert set(get_args(_types.SklearnActivation)) == set(sklearn.ACTIVATIONS)
    assert set(get_args(_types.SolverName)) == set(sklearn.SOLVERS)
    assert set(get_args(_types.LearningRateName)) == set(sklearn.LEARNING_RATES)


def test_monitor_modes_match_what_the_callbacks_accept():
    for mode in get_args(_types.MonitorMode):
        callbacks.EarlyStopping(mode=mode)
    with pytest.raises(ValueError, match="mode"):
        callbacks.EarlyStopping(mode="maximum")  # type: ignore[arg-type]


def test_the_typing_example_in_the_module_docstring_fails_as_documented():
    assert 'activation="rleu"' in textwrap.dedent(_types.__doc__ or "")
