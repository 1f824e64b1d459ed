"""One error vocabulary for numbers: every numeric argument of the public API, found by ``inspect`` (so that new
ones are covered), refuses huge ints, Fractions and Decimals beyond the float range, NaN/inf, bools, complex and
datetime scalars with a ``ValueError`` or ``TypeError`` that names it, never an ``OverflowError``."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import ferronet as fnet
import numpy as np
import pytest
from ferronet import _validation, ops

#: Modules whose public callables take user numbers.
MODULES = (
    "ferronet",
    "ferronet.layers",
    "ferronet.model",
    "ferronet.optim",
    "ferronet.schedules",
    "ferronet.callbacks",
    "ferronet.preprocessing",
    "ferronet.datasets",
    "ferronet.ops",
    "ferronet.utils",
    "ferronet.diagnostics",
    "ferronet.plot",
    "ferronet.sklearn",
)

#: Numeric parameters that are not user input, with the reason.
NOT_USER_INPUT = {
    # Keras-style hooks (on_epoch_end(epoch, logs) ...) are called by fit with the numbers it computed.
    "hooks": re.compile(r"\.on_\w+$"),
    # The training run is fit's machinery (``ferronet.training``), not an API users call with their numbers.
    "training": re.compile(r"^ferronet\.training\."),
}

#: Parameters where a bool is a documented value (Keras' verbose takes True/False as well as 0, 1, 2).
BOOLS_ALLOWED = {("ferronet.model.Sequential.fit", "verbose")}
#: Parameters where infinity is a documented value (scikit-learn's n_iter_no_change=np.inf: never stop early).
INFINITY_ALLOWED = {"n_iter_no_change"}


def _is_numeric(parameter: inspect.Parameter) -> bool:
    default = parameter.default
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return True
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if "Callable" in text:  # a function of numbers (a schedule), not a number
        return False
    if re.search(r"\b(tuple|list|Sequence)\[", text):  # several numbers (torch's betas), not a number
        return False
    return bool({"int", "float"} & set(re.findall(r"\w+", text)))


def _functions(owner: Any, prefix: str) -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, value in vars(owner).items():
        function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        if not name.startswith("_") and inspect.isfunction(function):
            yield f"{prefix}.{name}", function
        elif not name.startswith("_") and inspect.isclass(value):  # nested namespaces such as ops.rng
            yield from _functions(value, f"{prefix}.{name}")


def public_numeric_parameters() -> dict[tuple[str, str], inspect.Parameter]:
    """Every numeric parameter of the public API, keyed by (qualified callable name, parameter name)."""
    found: dict[tuple[str, str], inspect.Parameter] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
        for name in names:
            value = getattr(module, name)
            if not getattr(value, "__module__", "").startswith("ferronet") or value.__module__.startswith("ferronet._"):
                continue
            where = f"{value.__module__}.{value.__qualname__}"
            callables: list[tuple[str, Callable[..., Any]]] = []
            if inspect.isclass(value):
                callables.append((where, value))
                callables.extend(_functions(value, where))
            elif inspect.isfunction(value):
                callables.append((where, value))
            for qualified, function in callables:
                if any(pattern.search(qualified) for pattern in NOT_USER_INPUT.values()):
                    continue
                for parameter in inspect.signature(function).parameters.values():
                    if parameter.name not in ("self", "cls") and _is_numeric(parameter):
                        found[(qualified, parameter.name)] = parameter
    return dict(sorted(found.items()))


# ---- how to call each callable validly, so that only the argument under test is bad -----------------------------

X = np.random.default_rng(0).normal(size=(8, 2))
Y = np.array([0, 1] * 4)


def model() -> fnet.Sequential:
    return fnet.Sequential([fnet.Dense(2)], input_dim=2, seed=0)


def _vec(n: int = 3) -> np.ndarray:
    return np.linspace(0.1, 0.9, n)


def _with(defaults: dict[str, Any], call: Callable[..., Any]) -> Callable[..., Any]:
    return lambda **kwargs: call(**{**defaults, **kwargs})


def _sklearn(name: str) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        estimator = getattr(importlib.import_module("ferronet.sklearn"), name)
        return estimator(**{"hidden_layer_sizes": (3,), "max_iter": 2, **kwargs}).fit(X, Y)

    return call


def _stats() -> list[dict[str, Any]]:
    return fnet.diagnostics.layer_stats(model(), X, Y)


P, G, M, V = _vec(), _vec(), _vec(), _vec()
CALLS: dict[str, Callable[..., Any]] = {
    "ferronet.layers.Dense": _with({"units": 3}, fnet.Dense),
    "ferronet.layers.Dropout": fnet.Dropout,
    "ferronet.layers.BatchNorm": fnet.BatchNorm,
    "ferronet.callbacks.EarlyStopping": fnet.EarlyStopping,
    "ferronet.callbacks.LearningRateScheduler": _with(
        {"schedule": lambda epoch, lr: lr}, fnet.callbacks.LearningRateScheduler
    ),
    "ferronet.callbacks.ModelCheckpoint": _with({"filepath": "checkpoint.safetensors"}, fnet.callbacks.ModelCheckpoint),
    "ferronet.callbacks.ReduceLROnPlateau": fnet.callbacks.ReduceLROnPlateau,
    "ferronet.model.Sequential.to_onnx": lambda **kw: model().to_onnx(**kw),
    "ferronet.model.Sequential.from_torch": _with({"module": None}, fnet.Sequential.from_torch),
    "ferronet.model.Sequential": _with({"layers": [fnet.Dense(2)]}, fnet.Sequential),
    "ferronet.model.Sequential.from_architecture": _with(
        {"architecture": [{"input_dim": 2, "output_dim": 2, "activation": "softmax"}]},
        fnet.Sequential.from_architecture,
    ),
    "ferronet.model.Sequential.build": lambda **kw: fnet.Sequential([fnet.Dense(2)]).build(**kw),
    "ferronet.model.Sequential.fit": lambda **kw: model().fit(X, Y, **kw),
    "ferronet.set_num_threads": fnet.set_num_threads,
    "ferronet.optim.Optimizer": lambda **kw: fnet.optim.SGD(**kw),  # abstract: through a subclass
    "ferronet.optim.SGD": fnet.optim.SGD,
    "ferronet.optim.Adam": fnet.optim.Adam,
    "ferronet.optim.RMSProp": fnet.optim.RMSProp,
    "ferronet.schedules.ExponentialDecay": _with({"gamma": 0.9}, fnet.schedules.ExponentialDecay),
    "ferronet.schedules.InverseTimeDecay": _with({"decay": 0.1}, fnet.schedules.InverseTimeDecay),
    "ferronet.schedules.StepDecay": fnet.schedules.StepDecay,
    "ferronet.schedules.learning_rate": _with({"schedule": None, "epoch": 0, "lr0": 0.1}, fnet.schedules.learning_rate),
    "ferronet.preprocessing.one_hot": lambda **kw: fnet.preprocessing.one_hot([0, 1], **kw),
    "ferronet.preprocessing.standardize": lambda **kw: fnet.preprocessing.standardize(X, **kw),
    "ferronet.preprocessing.train_test_split": lambda **kw: fnet.preprocessing.train_test_split(X, Y, **kw),
    "ferronet.datasets.idx.load_fashion_mnist": lambda **kw: fnet.datasets.load_fashion_mnist(download=False, **kw),
    "ferronet.datasets.idx.load_mnist": lambda **kw: fnet.datasets.load_mnist(download=False, **kw),
    "ferronet.datasets.spiral.make_spiral": lambda **kw: fnet.datasets.make_spiral(**{"n_per_class": 5, **kw}),
    "ferronet.ops.adam_update": _with(
        {"param": P, "grad": G, "m": M, "v": V, "step": 1, "lr": 0.1, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8},
        ops.adam_update,
    ),
    "ferronet.ops.batchnorm_backward": _with({"dy": X, "x": X, "gamma": _vec(2), "eps": 1e-5}, ops.batchnorm_backward),
    "ferronet.ops.batchnorm_forward_eval": _with(
        {"x": X, "gamma": _vec(2), "beta": _vec(2), "running_mean": _vec(2), "running_var": _vec(2), "eps": 1e-5},
        ops.batchnorm_forward_eval,
    ),
    "ferronet.ops.batchnorm_forward_train": _with(
        {"x": X, "gamma": _vec(2), "beta": _vec(2), "eps": 1e-5}, ops.batchnorm_forward_train
    ),
    "ferronet.ops.batchnorm_update_running": _with(
        {"running_mean": P, "running_var": V, "batch_mean": M, "batch_var": V, "n": 4, "momentum": 0.9},
        ops.batchnorm_update_running,
    ),
    "ferronet.ops.dropout_backward": _with({"grad": X, "mask": X > 0, "p": 0.5}, ops.dropout_backward),
    "ferronet.ops.dropout_forward": _with({"x": X, "mask": X > 0, "p": 0.5}, ops.dropout_forward),
    "ferronet.ops.dropout_mask": _with(
        {"rows": 2, "cols": 3, "p": 0.5, "seed": 1, "step": 0, "layer": 0}, ops.dropout_mask
    ),
    "ferronet.ops.leaky_relu_backward": _with({"grad": X, "output": X}, ops.leaky_relu_backward),
    "ferronet.ops.leaky_relu_forward": _with({"z": X}, ops.leaky_relu_forward),
    "ferronet.ops.momentum_update": _with(
        {"param": P, "grad": G, "velocity": V, "lr": 0.1, "momentum": 0.9}, ops.momentum_update
    ),
    "ferronet.ops.nesterov_update": _with(
        {"param": P, "grad": G, "velocity": V, "lr": 0.1, "momentum": 0.9}, ops.nesterov_update
    ),
    "ferronet.ops.penalty": _with({"W": X, "l1": 0.1, "l2": 0.1}, ops.penalty),
    "ferronet.ops.penalty_grad": _with({"W": X, "l1": 0.1, "l2": 0.1}, ops.penalty_grad),
    "ferronet.ops.rmsprop_update": _with(
        {"param": P, "grad": G, "sq": V, "lr": 0.1, "rho": 0.9, "eps": 1e-8}, ops.rmsprop_update
    ),
    "ferronet.ops.sgd_update": _with({"param": P, "grad": G, "lr": 0.1}, ops.sgd_update),
    "ferronet.ops.rng.splitmix64": ops.rng.splitmix64,
    "ferronet.ops.rng.hash_words": lambda words: ops.rng.hash_words(1, words),
    "ferronet.ops.rng.epoch_permutation": _with({"n": 4, "seed": 1, "epoch": 0}, ops.rng.epoch_permutation),
    "ferronet.ops.rng.mask": _with(
        {"rows": 2, "cols": 3, "p": 0.5, "seed": 1, "stream": 2, "step": 0, "layer": 0}, ops.rng.mask
    ),
    "ferronet.utils.gradient_check": lambda **kw: fnet.utils.gradient_check(model(), X, Y, **kw),
    "ferronet.diagnostics.layer_name": _with({"kind": "dense", "index": 0}, fnet.diagnostics.layer_name),
    "ferronet.diagnostics.layer_stats": lambda **kw: fnet.diagnostics.layer_stats(model(), X, Y, **kw),
    "ferronet.plot.decision_boundary": lambda **kw: fnet.plot.decision_boundary(model(), X, Y, **kw),
    "ferronet.plot.layer_histograms": lambda **kw: fnet.plot.layer_histograms(_stats(), **kw),
    "ferronet.sklearn.MLPClassifier": _sklearn("MLPClassifier"),
    "ferronet.sklearn.MLPRegressor": _sklearn("MLPRegressor"),
}

#: Bad values for every numeric argument: (id, value, expected for an int argument, expected for a real one).
HUGE = 10**400
BAD_VALUES: list[tuple[str, Any, type[Exception], type[Exception]]] = [
    ("10**400", HUGE, ValueError, ValueError),
    ("-10**400", -HUGE, ValueError, ValueError),
    ("10**5000", 10**5000, ValueError, ValueError),  # more digits than int -> str allows
    ("Fraction(10**400,3)", Fraction(HUGE, 3), TypeError, ValueError),
    ("Decimal('1e400')", Decimal("1e400"), TypeError, ValueError),
    ("Decimal('NaN')", Decimal("NaN"), TypeError, ValueError),
    ("Decimal('sNaN')", Decimal("sNaN"), TypeError, ValueError),
    ("nan", float("nan"), TypeError, ValueError),
    ("-inf", -float("inf"), TypeError, ValueError),
    ("float16(nan)", np.float16("nan"), TypeError, ValueError),
    ("float32(inf)", np.float32("inf"), TypeError, ValueError),
    ("longdouble(1e4000)", np.longdouble("1e4000"), TypeError, ValueError),
    ("complex128(1)", np.complex128(1), TypeError, TypeError),
    ("complex(1)", 1 + 0j, TypeError, TypeError),
    ("True", True, TypeError, TypeError),
    ("bool_(True)", np.bool_(True), TypeError, TypeError),
    ("timedelta64(1)", np.timedelta64(1, "s"), TypeError, TypeError),
    ("datetime64", np.datetime64("2024-01-01"), TypeError, TypeError),
    ("str", "1", TypeError, TypeError),
]
#: Integers beyond 64 bits: bad for every integer argument (reals take them as floats).
BAD_INTS: list[tuple[str, Any]] = [("2**64", 2**64), ("-2**63-1", -(2**63) - 1)]


def _is_int_parameter(parameter: inspect.Parameter) -> bool:
    if isinstance(parameter.default, int) and not isinstance(parameter.default, bool):
        return True
    words = re.findall(r"\w+", parameter.annotation if isinstance(parameter.annotation, str) else "")
    return "int" in words and "float" not in words


PARAMETERS = public_numeric_parameters()


def test_the_public_api_has_numeric_parameters_and_each_has_a_call():
    assert len(PARAMETERS) > 80  # the enumeration finds them (a broken one would test nothing)
    missing = sorted({qualified for qualified, _ in PARAMETERS} - set(CALLS))
    assert not missing, f"add a valid call to CALLS for {missing}"


def _bad_values(parameter: inspect.Parameter) -> list[tuple[str, Any, type[Exception]]]:
    """(label, value, expected exception) for one parameter."""
    is_int = _is_int_parameter(parameter)
    values = [(label, value, int_error if is_int else real_error) for label, value, int_error, real_error in BAD_VALUES]
    return values + ([(label, value, ValueError) for label, value in BAD_INTS] if is_int else [])


def _refusal(qualified: str, name: str, value: Any, expected: type[Exception]) -> str | None:
    """None when the call refuses ``value`` as it should, else what went wrong."""
    try:
        CALLS[qualified](**{name: value})
    except (ValueError, TypeError) as error:
        if not isinstance(error, expected):
            return f"{type(error).__name__} instead of {expected.__name__}: {error}"
        if not re.search(rf"\b{re.escape(name)}\b", str(error)):
            return f"the message does not name {name}: {error}"
        return None
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "accepted"


def _cases() -> Iterator[Any]:
    for (qualified, name), parameter in PARAMETERS.items():
        for label, value, expected in _bad_values(parameter):
            if (qualified, name) in BOOLS_ALLOWED and isinstance(value, (bool, np.bool_)):
                continue
            if name in INFINITY_ALLOWED and isinstance(value, (float, np.floating)) and np.isposinf(value):
                continue
            yield pytest.param(
                qualified, name, value, expected, id=f"{qualified.removeprefix('ferronet.')}-{name}-{label}"
            )


@pytest.mark.parametrize(("qualified", "name", "value", "expected"), list(_cases()))
def test_bad_numbers_are_value_or_type_errors_naming_the_argument(qualified, name, value, expected):
    if qualified.startswith("ferronet.plot"):
        pytest.importorskip("matplotlib", reason="ferronet.plot needs matplotlib")
    if qualified.startswith("ferronet.sklearn"):
        pytest.importorskip("sklearn", reason="ferronet.sklearn needs scikit-learn")
    assert _refusal(qualified, name, value, expected) is None, _refusal(qualified, name, value, expected)


# ---- the brief's cases, spelled out ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: fnet.optim.SGD(lr=10**400), "lr"),
        (lambda: fnet.Dropout(Fraction(10**400, 3)), "p"),
        (lambda: fnet.Sequential([fnet.Dense(2)], l2=10**400), "l2"),
        (lambda: model().fit(X, Y, batch_size=2**64), "batch_size"),
        (lambda: model().fit(X, Y, epochs=10**30), "epochs"),
    ],
    ids=["SGD-lr", "Dropout-Fraction", "Sequential-l2", "fit-batch_size", "fit-epochs"],
)
def test_overflowing_numbers_are_value_errors(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        call()


def test_check_int_and_check_float_directly():
    assert _validation.check_int(np.uint8(7), "n") == 7
    assert _validation.check_int(2**63 - 1, "n") == 2**63 - 1
    assert _validation.check_int(10**30, "seed", maximum=None) == 10**30
    with pytest.raises(ValueError, match=r"^n must be <= 9223372036854775807; got 9223372036854775808$"):
        _validation.check_int(2**63, "n")
    with pytest.raises(ValueError, match=r"^n must be <= \d+; got an integer of about 5001 digits$"):
        _validation.check_int(10**5000, "n")
    assert _validation.check_float(Fraction(1, 3), "x") == pytest.approx(1 / 3)
    assert _validation.check_float(Decimal("0.25"), "x") == 0.25
    assert _validation.check_float(np.float16(0.5), "x") == 0.5
    assert _validation.check_float(10**300, "x") == 1e300
    assert type(_validation.check_float(np.float32(0.5), "x")) is float
    with pytest.raises(ValueError, match=r"^x must be finite; got an integer of about 401 digits, too large"):
        _validation.check_float(10**400, "x")
    with pytest.raises(ValueError, match=r"^x must be finite; got Fraction\("):
        _validation.check_float(Fraction(10**400, 3), "x")
    with pytest.raises(ValueError, match=r"^x must be finite; got <Fraction too large to print>"):
        _validation.check_float(Fraction(10**5000, 3), "x")
