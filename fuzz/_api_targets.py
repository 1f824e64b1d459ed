"""What ``fuzz_api.py`` calls: every part of ferronet's public API, the command line, and the private
``ferronet._core`` module found by introspection (its functions, classes and their methods, with arguments
drawn from their parameter names, so the fuzzer follows the engine as its API changes).

A target draws its arguments with ``Values`` and returns a ``Call``: a description for the report and a thunk that
does the work (objects are constructed inside the thunk: a constructor's error is part of the call).
"""

from __future__ import annotations

import inspect
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ferronet as fnet
import numpy as np
from _api_values import Values
from ferronet import _core, cli, ops

#: Arrays the drawer may copy or write out (broadcast views can claim terabytes).
SMALL_BYTES = 1 << 20

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax")
INITS = ("he", "xavier", "xavier_uniform", "lecun", "uniform", "small", "zeros")
LOSSES = ("softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge")
DTYPES = ("float32", "float64")


@dataclass
class Call:
    description: str
    thunk: Callable[[], Any]


def describe(value: Any) -> str:
    """A short, readable form of an argument for the report."""
    if isinstance(value, Spec):
        return repr(value)
    if isinstance(value, np.ma.MaskedArray):
        return f"masked({describe(value.data)})"
    if isinstance(value, np.ndarray):
        order = "C" if value.flags.c_contiguous else "F" if value.flags.f_contiguous else "strided"
        extra = "" if value.flags.writeable else ",ro"
        extra += "" if value.flags.aligned else ",unaligned"
        return f"array({value.dtype},{value.shape},{order}{extra})"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"{type(value).__name__}[{len(value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in list(value.items())[:8]) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except ValueError:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


class Spec:
    """A constructor call drawn now and made in the thunk: ``Spec(fnet.Dense, 3, activation="relu")``."""

    def __init__(self, factory: Callable[..., Any], *args: Any, **kwargs: Any):
        self.factory, self.args, self.kwargs = factory, args, kwargs

    def build(self) -> Any:
        return self.factory(*(make(a) for a in self.args), **{k: make(v) for k, v in self.kwargs.items()})

    def __repr__(self) -> str:
        parts = [describe(a) for a in self.args] + [f"{k}={describe(v)}" for k, v in self.kwargs.items()]
        name = getattr(self.factory, "__qualname__", repr(self.factory))
        return f"{name}({', '.join(parts)})"


def make(value: Any) -> Any:
    if isinstance(value, Spec):
        return value.build()
    if isinstance(value, list):
        return [make(v) for v in value]
    return value


def call(name: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return Call(
        f"{name}({', '.join(parts)})",
        lambda: function(*(make(a) for a in args), **{k: make(v) for k, v in kwargs.items()}),
    )


# ---- models ------------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """Sizes of one call's data: n rows, d features, k outputs, and the loss."""

    n: int
    d: int
    k: int
    loss: str


def problem(v: Values) -> Problem:
    loss = v.choice(LOSSES)
    k = v.random.randint(1, 4) if loss in ("mse", "binary_cross_entropy") else v.random.randint(2, 4)
    return Problem(v.random.randint(1, 12), v.random.randint(1, 5), k, loss)


def layer_specs(v: Values, p: Problem) -> list[Any]:
    layers: list[Any] = []
    for _ in range(v.random.randint(0, 3)):
        kind = v.choice(["dense", "dense", "activation", "dropout", "batchnorm"])
        if kind == "dense":
            kwargs: dict[str, Any] = {"activation": v.string([*ACTIVATIONS[:-1], None])}
            if v.chance(0.3):
                kwargs["init"] = v.string(INITS)
            if v.chance(0.3):
                kwargs["dropconnect"] = v.float_(0.0, 0.9)
            layers.append(Spec(fnet.Dense, v.int_(1, 6, name="units"), **kwargs))
        elif kind == "activation":
            layers.append(Spec(fnet.Activation, v.string(ACTIVATIONS[:-1])))
        elif kind == "dropout":
            layers.append(Spec(fnet.Dropout, v.float_(0.0, 0.9)))
        else:
            layers.append(Spec(fnet.BatchNorm, momentum=v.float_(0.01, 0.99), eps=v.float_(1e-6, 1e-2)))
    last = {"softmax_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(p.loss)
    head_activation = v.choice([None, last]) if last else None
    layers.append(Spec(fnet.Dense, p.k, activation=head_activation))
    if v.chance(0.03):
        layers = v.choice([[], [v.hostile()], [Spec(fnet.Dropout, 0.5)], layers[::-1]])
    return layers


def model_spec(v: Values, p: Problem, *, built: bool = True) -> Spec:
    kwargs: dict[str, Any] = {"loss": v.string(LOSSES) if v.chance(0.1) else p.loss}
    if built or v.chance(0.5):
        kwargs["input_dim"] = p.d if v.chance(0.9) else v.int_(1, 6, name="input_dim")
    for name in ("l1", "l2"):
        if v.chance(0.3):
            kwargs[name] = v.float_(0.0, 0.01)
    if v.chance(0.4):
        kwargs["dtype"] = v.string(DTYPES)
    if v.chance(0.3):
        kwargs["seed"] = v.seed()
    if v.chance(0.1):
        kwargs["penalty_per_sample"] = v.bool_()
    return Spec(fnet.Sequential, layer_specs(v, p), **kwargs)


def features(v: Values, p: Problem, rows: int | None = None) -> Any:
    return v.array((p.n if rows is None else rows, p.d))


def targets(v: Values, p: Problem, rows: int | None = None) -> Any:
    n = p.n if rows is None else rows
    if p.loss in ("softmax_cross_entropy", "hinge"):
        if v.chance(0.1):
            return np.eye(p.k)[v.numpy.integers(0, p.k, size=n)]  # one-hot
        return v.labels(n, p.k)
    return v.array((n, p.k) if p.k > 1 or v.chance(0.5) else (n,), low=0.0, high=1.0)


def weights(v: Values, n: int) -> Any:
    return None if v.chance(0.6) else v.array((n,), low=0.0, high=2.0)


def optimizer(v: Values) -> Any:
    kind = v.choice(["sgd", "adam", "rmsprop", "spec", "spec", None])
    if kind != "spec":
        return kind if v.chance(0.95) else v.hostile()
    name = v.choice(["SGD", "Adam", "RMSProp"])
    kwargs: dict[str, Any] = {"lr": v.float_(1e-4, 0.5)}
    if name == "SGD":
        kwargs["momentum"] = v.float_(0.0, 0.95)
        if v.chance(0.3):
            kwargs["nesterov"] = v.bool_()
    elif name == "Adam":
        kwargs.update(beta1=v.float_(0.5, 0.99), beta2=v.float_(0.9, 0.999), eps=v.float_(1e-9, 1e-6))
    else:
        kwargs.update(rho=v.float_(0.5, 0.99), eps=v.float_(1e-9, 1e-6))
    return Spec(getattr(fnet.optim, name), **kwargs)


def schedule(v: Values) -> Any:
    kind = v.choice([None, None, "step", "inverse", "exponential", "lambda", "hostile"])
    if kind == "step":
        return Spec(fnet.schedules.StepDecay, factor=v.float_(0.1, 2.0), every=v.int_(1, 3))
    if kind == "inverse":
        return Spec(fnet.schedules.InverseTimeDecay, v.float_(0.0, 2.0))
    if kind == "exponential":
        return Spec(fnet.schedules.ExponentialDecay, v.float_(0.1, 2.0))
    if kind == "lambda":
        value = v.float_(0.0, 0.5)
        return lambda epoch, lr0: value
    return v.hostile() if kind == "hostile" else None


def early_stopping(v: Values, p: Problem) -> Any:
    if v.chance(0.7):
        return None
    monitor = v.string(["val_loss", "loss", "accuracy", "val_accuracy"])
    return Spec(fnet.EarlyStopping, monitor=monitor, patience=v.int_(0, 3), min_delta=v.float_(0.0, 0.1))


def fit_kwargs(v: Values, p: Problem) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"epochs": v.int_(0, 3, name="epochs"), "batch_size": v.int_(1, 16)}
    for name, draw in (
        ("optimizer", lambda: optimizer(v)),
        ("schedule", lambda: schedule(v)),
        ("shuffle", v.bool_),
        ("validation_split", lambda: v.float_(0.0, 0.5)),
        ("early_stopping", lambda: early_stopping(v, p)),
        ("sample_weight", lambda: weights(v, p.n)),
        ("verbose", v.bool_),
        ("progress", lambda: v.choice([False, "auto", True, "yes"])),
    ):
        if v.chance(0.3):
            kwargs[name] = draw()
    if v.chance(0.1):
        rows = v.random.randint(1, 5)
        kwargs["validation_data"] = v.choice(
            [(features(v, p, rows), targets(v, p, rows)), (features(v, p, rows),), v.hostile()]
        )
    return kwargs


def model_method(v: Values) -> Call:
    p = problem(v)
    spec = model_spec(v, p, built=v.chance(0.85))
    method = v.choice(
        ["fit", "fit", "fit", "predict", "predict_proba", "evaluate", "train_step", "forward", "gradients",
         "get_weights", "summary", "copy", "build", "config", "repr"]
    )  # fmt: skip
    X = features(v, p, v.random.randint(0, 12) if v.chance(0.2) else None)
    rows = len(X) if isinstance(X, list) or (isinstance(X, np.ndarray) and X.ndim >= 1) else p.n
    rows = rows if rows <= 64 else p.n  # targets for a broadcast giant would be giant too
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if method == "fit":
        args, kwargs = (X, targets(v, p, rows)), fit_kwargs(v, p)
    elif method in ("evaluate", "gradients"):
        args, kwargs = (X, targets(v, p, rows)), {"sample_weight": weights(v, rows)}
    elif method == "train_step":
        args, kwargs = (X, targets(v, p, rows)), {"optimizer": optimizer(v), "sample_weight": weights(v, rows)}
    elif method in ("predict", "predict_proba"):
        args = (X,)
    elif method == "forward":
        args, kwargs = (X,), {"training": v.bool_()}
    elif method == "copy":
        kwargs = {"dtype": v.string([*DTYPES, None])}
    elif method == "build":
        args = (v.int_(1, 6, name="input_dim"),)

    def thunk() -> Any:
        model = spec.build()
        if method == "repr":
            return repr(model)
        return getattr(model, method)(*(make(a) for a in args), **{k: make(x) for k, x in kwargs.items()})

    parts = [describe(a) for a in args] + [f"{k}={describe(x)}" for k, x in kwargs.items()]
    return Call(f"{spec!r}.{method}({', '.join(parts)})", thunk)


def model_weights(v: Values) -> Call:
    p = problem(v)
    spec = model_spec(v, p)
    edit = v.choice(["same", "array", "drop", "extra", "hostile", "list"])
    value = v.hostile_array((p.d, p.k)) if v.chance(0.5) else v.array((p.d, p.k))

    def thunk() -> Any:
        model = spec.build()
        current = model.get_weights()
        if edit == "array" and current and current[0]:
            name = sorted(current[0])[0]
            current[0][name] = value
        elif edit == "drop" and current:
            current = current[:-1]
        elif edit == "extra":
            current = [*current, {"W": value}]
        elif edit == "hostile":
            current = value
        elif edit == "list" and current and current[0]:
            current[0] = {name: array.tolist() for name, array in current[0].items()}
        model.set_weights(current)
        return model.get_weights()

    return Call(f"{spec!r}.set_weights(<{edit}: {describe(value)}>)", thunk)


def model_files(v: Values) -> Call:
    p = problem(v)
    spec = model_spec(v, p, built=v.chance(0.9))
    path = v.path(suffix=".safetensors")
    how = v.choice(["save+load", "save+load", "bytes", "pickle", "load-hostile"])
    include = v.bool_()
    existing = v.fresh_name(".safetensors")
    if how == "load-hostile":
        existing.write_bytes(v.choice([b"", b"\x08" + b"\0" * 7 + b"{}", v.random.randbytes(64)]))
        path = v.path(existing=existing)

    def thunk() -> Any:
        if how == "load-hostile":
            return fnet.load(path)
        model = spec.build()
        if how == "bytes":
            return fnet.io.from_bytes(fnet.io.to_bytes(model, include_optimizer=include))
        if how == "pickle":
            return pickle.loads(pickle.dumps(model))
        model.save(path, include_optimizer=include)
        return fnet.load(path)

    return Call(f"{spec!r} {how} path={describe(path)} include_optimizer={describe(include)}", thunk)


def model_construction(v: Values) -> Call:
    p = problem(v)
    if v.chance(0.7):
        spec = model_spec(v, p, built=v.chance(0.5))
        return Call(repr(spec), spec.build)
    if v.chance(0.5):
        architecture = [
            {"input_dim": v.int_(1, 5, name="input_dim"), "output_dim": v.int_(1, 5, name="units"),
             "activation": v.string(ACTIVATIONS)}
            for _ in range(v.random.randint(1, 3))
        ]  # fmt: skip
        if v.chance(0.2):
            architecture = v.choice([[], [{}], v.hostile(), [{"output_dim": 2, "bogus": 1}]])
        return call("Sequential.from_architecture", fnet.Sequential.from_architecture, architecture,
                    loss=v.string([*LOSSES, None]), seed=v.seed())  # fmt: skip
    config = {"layers": [{"kind": "dense", "units": v.int_(1, 4, name="units")}], "input_dim": v.int_(1, 4, name="input_dim"),
              "loss": v.string(LOSSES), "dtype": v.string(DTYPES), "seed": v.seed()}  # fmt: skip
    if v.chance(0.3):
        config[v.choice(sorted(config))] = v.hostile()
    return call("Sequential.from_config", fnet.Sequential.from_config, config)


# ---- optimizers, schedules, callbacks ------------------------------------------------------------------------------


def training_objects(v: Values) -> Call:
    kind = v.random.randrange(5)
    if kind == 0:
        spec = optimizer(v)
        return Call(f"get_optimizer({describe(spec)})", lambda: fnet.optim.get_optimizer(make(spec)))
    if kind == 1:
        spec = schedule(v)
        epoch, lr0 = v.int_(0, 100), v.float_(0.0, 1.0)
        return call("learning_rate", fnet.schedules.learning_rate, spec, epoch, lr0)
    if kind == 2:
        spec = early_stopping(v, problem(v)) or Spec(fnet.EarlyStopping, patience=v.int_(0, 5))
        values = [v.float_(0.0, 2.0) for _ in range(4)]

        def epochs() -> None:
            stopper = make(spec)
            stopper.set_model(fnet.Sequential([fnet.Dense(2)], input_dim=2))
            stopper.on_train_begin()
            for epoch, value in enumerate(values):
                stopper.on_epoch_end(epoch, {stopper.monitor: value})
            stopper.on_train_end()

        return Call(f"{spec!r}.on_epoch_end x{len(values)} ({values})", epochs)
    if kind == 3:
        config = {"kind": v.string(["sgd", "adam", "rmsprop"]), "lr": v.float_()}
        if v.chance(0.3):
            config[v.choice(["momentum", "beta1", "rho", "bogus", "nesterov"])] = v.hostile()
        return call("optim.optimizer_from_config", fnet.optim.optimizer_from_config, config)
    config = {"kind": v.string(["dense", "dropout", "batchnorm", "activation"]), "units": v.int_(1, 4, name="units")}
    return call("layers.layer_from_config", fnet.layers.layer_from_config, config)


# ---- data sets and preprocessing -----------------------------------------------------------------------------------


def datasets_call(v: Values) -> Call:
    kind = v.random.randrange(6)
    if kind == 0:
        return call("make_spiral", fnet.datasets.make_spiral, v.int_(1, 50, name="n_per_class"),
                    v.int_(1, 5, name="n_classes"), v.float_(0.0, 1.0), seed=v.seed())  # fmt: skip
    if kind == 1:
        return call("load_digits", fnet.datasets.load_digits, v.bool_())
    if kind == 2:
        array = v.array((v.random.randint(0, 4), v.random.randint(1, 4)), low=0, high=200)
        if v.chance(0.5) and isinstance(array, np.ndarray) and array.dtype.kind == "f" and array.nbytes <= SMALL_BYTES:
            array = array.astype(v.choice([np.uint8, np.int8, np.int16, np.int32, np.float32]))
        path = v.path(suffix=v.choice([".idx", ".gz"]))
        return Call(f"write_idx+read_idx({describe(path)}, {describe(array)})",
                    lambda: fnet.datasets.read_idx(path) if fnet.datasets.write_idx(path, array) is None else None)  # fmt: skip
    if kind == 3:
        existing = v.fresh_name(".idx")
        existing.write_bytes(bytes([0, 0, v.choice([8, 9, 11, 12, 13, 14, 99]), v.random.randint(0, 3)])
                             + v.random.randbytes(v.random.randint(0, 40)))  # fmt: skip
        return call("read_idx", fnet.datasets.read_idx, v.path(existing=existing))
    loader = v.choice([fnet.datasets.load_mnist, fnet.datasets.load_fashion_mnist])
    directory = v.scratch / "data"
    directory.mkdir(exist_ok=True)
    path = v.choice([directory, v.path(existing=directory), None]) if v.chance(0.9) else v.hostile()
    # no network: downloads go to a missing local mirror; the shipped Fashion-MNIST is found only with path=None
    return call(loader.__name__, loader, path, download=v.bool_(), mirror=(v.scratch / "no-mirror").as_uri(),
                timeout=v.float_(0.1, 1.0), flatten=v.bool_(), normalize=v.bool_())  # fmt: skip


def preprocessing_call(v: Values) -> Call:
    kind = v.random.randrange(5)
    n, d = v.random.randint(1, 8), v.random.randint(1, 4)
    if kind == 0:
        return call("one_hot", fnet.preprocessing.one_hot, v.labels(n, 4), v.choice([None, v.int_(1, 6, name="n_classes")]),
                    dtype=v.string(DTYPES))  # fmt: skip
    if kind == 1:
        return call("standardize", fnet.preprocessing.standardize, v.array((n, d)), axis=v.choice([0, 1, None, v.int_(-3, 3)]),
                    eps=v.float_(0.0, 0.1))  # fmt: skip
    if kind == 2:
        X = v.array((n, d))
        spec = Spec(fnet.preprocessing.Standardizer, with_mean=v.bool_(), with_std=v.bool_())
        method = v.choice(["transform", "inverse_transform", "fit_transform"])
        other = v.array((v.random.randint(1, 4), d if v.chance(0.9) else d + 1))
        return Call(f"{spec!r}.fit({describe(X)}).{method}({describe(other)})",
                    lambda: getattr(spec.build().fit(X), method)(other))  # fmt: skip
    if kind == 3:
        return call("train_test_split", fnet.preprocessing.train_test_split, v.array((n, d)), v.labels(n, 3),
                    test_fraction=v.float_(0.0, 1.0), seed=v.seed(), shuffle=v.bool_())  # fmt: skip
    p = problem(v)
    spec, X, y = model_spec(v, p), features(v, p), targets(v, p)
    return call("utils.gradient_check", _gradient_check, spec, X, y, eps=v.float_(1e-7, 1e-3), seed=v.seed())


def _gradient_check(model: Any, X: Any, y: Any, **kwargs: Any) -> float:
    return fnet.utils.gradient_check(model, X, y, max_entries=3, **kwargs)


# ---- ops (the public kernels) and the private engine -------------------------------------------------------------


class ArgumentsByName:
    """Arguments for a kernel drawn from its parameter names, with shapes that usually agree with each other."""

    MATRIX = frozenset({"x", "z", "grad", "output", "dy", "X"})
    FEATURE_VECTORS = frozenset({"b", "gamma", "beta", "running_mean", "running_var", "batch_mean", "batch_var"})
    OUTPUTS = frozenset({"logits", "pred", "scores", "target", "dz"})
    PARAMETERS = frozenset({"param", "velocity", "m", "v", "sq"})
    UNIT = frozenset({"p", "momentum", "beta1", "beta2", "rho", "slope", "l1", "l2", "lr"})
    COUNTS = frozenset(
        {"n", "rows", "cols", "step", "layer", "stream", "epoch", "updates", "epochs", "batch_size", "input_dim"}
    )
    FLAGS = frozenset({"training", "logits_only", "use_labels", "reset", "shuffle", "penalty_per_sample"})

    def __init__(self, v: Values, function_name: str):
        self.v = v
        self.name = function_name
        self.n, self.d, self.k = v.random.randint(0, 6), v.random.randint(1, 5), v.random.randint(1, 4)
        self.dtype = v.choice([np.float64, np.float32])
        optimizer_like = any(word in function_name for word in ("update", "penalty"))
        self.param_shape = (self.d, self.k) if v.chance(0.5) else (self.d,)
        self.grad_shape = self.param_shape if optimizer_like else (self.n, self.d)

    def _array(self, shape: tuple[int, ...], low: float = -2.0, high: float = 2.0) -> Any:
        value = self.v.array(shape, low=low, high=high)
        small = isinstance(value, np.ndarray) and value.nbytes <= SMALL_BYTES  # never expand a broadcast giant
        if small and value.dtype.kind == "f" and self.v.chance(0.9):
            return value.astype(self.dtype)
        return value

    def value(self, name: str, *, default: Any = inspect.Parameter.empty) -> Any:
        v, lower = self.v, name.lower()
        if "splitmix" in self.name or "hash" in self.name or lower == "words":
            return v.choice([v.int_(0, 2**64 - 1), [v.int_(0, 2**64 - 1) for _ in range(v.random.randint(0, 3))]])
        if lower == "w":
            return self._array((self.d, self.k))
        if lower in self.MATRIX:
            if lower == "grad":
                return self._array(self.grad_shape)
            return self._array((self.n, self.d))
        if lower in self.FEATURE_VECTORS:
            shape = (self.k,) if lower == "b" else (self.d,)
            return self._array(shape, 0.0 if "var" in lower else -2.0, 2.0)
        if lower in self.OUTPUTS:
            return self._array((self.n, self.k), 0.0 if lower == "target" else -2.0, 1.0 if lower == "target" else 2.0)
        if lower in self.PARAMETERS:
            return self._array(self.param_shape, 0.0 if lower in ("v", "sq") else -1.0, 1.0)
        if lower in ("labels", "y"):
            return v.labels(self.n, self.k)
        if lower == "mask":
            mask = v.numpy.random((self.n, self.d)) < 0.5
            return mask if v.chance(0.8) else v.hostile_array((self.n, self.d))
        if lower == "sample_weight":
            return None if v.chance(0.5) else self._array((self.n,), 0.0, 2.0)
        if lower == "eps":
            return v.float_(1e-8, 1e-3)
        if lower in self.UNIT:
            return v.float_(0.0, 0.99)
        if lower == "seed":
            return v.seed()
        if lower in self.COUNTS:
            return v.int_(1 if lower in ("step", "n") else 0, 8, name=lower)
        if lower in self.FLAGS:
            return v.bool_()
        if lower in ("seconds", "total"):
            return v.float_(0.001, 0.05)
        if lower == "loss":
            return v.string(LOSSES)
        if lower == "dtype":
            return v.string(DTYPES)
        if lower in ("name", "activation"):
            return v.string(ACTIVATIONS)
        if lower == "layers":
            return [self.layer_config() for _ in range(v.random.randint(0, 3))] + [self.layer_config(dense=True)]
        if lower == "config":
            return self.config()
        if lower in ("data", "source") and v.chance(0.5):
            return v.random.randbytes(v.random.randint(0, 64)) if lower == "data" else "fuzz"
        if default is not inspect.Parameter.empty and v.chance(0.5):
            return default
        return v.choice([self._array((self.n, self.d)), v.int_(0, 8), v.float_(), None, v.hostile()])

    def layer_config(self, *, dense: bool = False) -> Any:
        v = self.v
        kind = "dense" if dense else v.choice(["dense", "activation", "dropout", "batchnorm"])
        config: dict[str, Any] = {"kind": kind}
        if kind == "dense":
            config.update(units=self.k if dense else v.int_(1, 6, name="units"), activation=v.string(ACTIVATIONS),
                          init=v.string(INITS), dropconnect=v.float_(0.0, 0.9))  # fmt: skip
        elif kind == "activation":
            config["activation"] = v.string(ACTIVATIONS)
        elif kind == "dropout":
            config["p"] = v.float_(0.0, 0.9)
        else:
            config.update(momentum=v.float_(0.1, 0.99), eps=v.float_(1e-6, 1e-2))
        if v.chance(0.1):
            config[v.choice([*config, "bogus"])] = v.hostile()
        return config if v.chance(0.97) else v.hostile()

    def config(self) -> Any:
        v = self.v
        if v.chance(0.5):  # an optimizer config
            config: dict[str, Any] = {"kind": v.string(["sgd", "adam", "rmsprop"]), "lr": v.float_(0.0, 0.5),
                                      "momentum": v.float_(0.0, 0.9), "nesterov": v.bool_(), "beta1": v.float_(0.5, 0.99),
                                      "beta2": v.float_(0.9, 0.999), "eps": v.float_(1e-9, 1e-6), "rho": v.float_(0.5, 0.99)}  # fmt: skip
        else:  # a model config
            config = {"layers": [self.layer_config(dense=True)], "input_dim": v.int_(1, 6, name="input_dim"),
                      "loss": v.string(LOSSES), "l1": v.float_(0.0, 0.1), "l2": v.float_(0.0, 0.1),
                      "dtype": v.string(DTYPES), "seed": v.seed(), "penalty_per_sample": v.bool_()}  # fmt: skip
        if v.chance(0.2):
            del config[v.choice(sorted(config))]
        return config


def _parameters(function: Any) -> list[inspect.Parameter] | None:
    try:
        return [p for p in inspect.signature(function).parameters.values() if p.name not in ("self", "cls")]
    except (TypeError, ValueError):
        return None


def arguments_for(v: Values, function: Any, name: str) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments for ``function`` from its signature (random ones without a signature)."""
    draw = ArgumentsByName(v, name)
    parameters = _parameters(function)
    if parameters is None:
        return [draw.value(f"arg{i}") for i in range(v.random.randint(0, 4))], {}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(draw.value(parameter.name) for _ in range(v.random.randint(0, 3)))
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        elif parameter.default is not inspect.Parameter.empty and v.chance(0.3):
            continue  # left to its default
        elif parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = draw.value(parameter.name, default=parameter.default)
        else:
            args.append(draw.value(parameter.name, default=parameter.default))
    if v.chance(0.03):  # a wrong count of arguments
        args = args[:-1] if args and v.chance(0.5) else [*args, v.hostile()]
    return args, kwargs


def _public_functions(namespace: Any, skip: frozenset[str] = frozenset()) -> list[tuple[str, Any]]:
    names = getattr(namespace, "__all__", None) or [n for n in dir(namespace) if not n.startswith("_")]
    found = []
    for name in names:
        value = getattr(namespace, name, None)
        if name in skip or value is None or (inspect.isclass(value) and namespace is not ops.rng):
            continue
        if callable(value) and not inspect.ismodule(value):
            found.append((name, value))
    return found


OPS = _public_functions(ops, frozenset({"rng"})) + [(f"rng.{n}", f) for n, f in _public_functions(ops.rng)]


def ops_call(v: Values) -> Call:
    name, function = v.choice(OPS)
    args, kwargs = arguments_for(v, function, name)
    if name in ("activation_forward", "activation_backward"):
        args = [v.string(ACTIVATIONS), *args[1:]]
    return call(f"ops.{name}", function, *args, **kwargs)


#: The engine's own thread count is set per call and put back by the worker (it is process-wide).
CORE_SKIP = frozenset({"get_num_threads"})


def core_members() -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(functions, classes) of ``ferronet._core``, whatever they are today."""
    functions, classes = [], []
    for name in dir(_core):
        if name.startswith("_") or name in CORE_SKIP:
            continue
        value = getattr(_core, name)
        if inspect.isclass(value):
            classes.append((name, value))
        elif callable(value):
            functions.append((name, value))
    return functions, classes


CORE_FUNCTIONS, CORE_CLASSES = core_members()


def core_call(v: Values) -> Call:
    if not CORE_CLASSES or v.chance(0.5):
        name, function = v.choice(CORE_FUNCTIONS)
        args, kwargs = arguments_for(v, function, name)
        return call(f"_core.{name}", function, *args, **kwargs)
    name, cls = v.choice(CORE_CLASSES)
    args, kwargs = arguments_for(v, cls, name)
    members = [m for m in dir(cls) if not m.startswith("_")]
    steps = []
    for _ in range(v.random.randint(0, 3)):
        if not members:
            break
        member = v.choice(members)
        attribute = inspect.getattr_static(cls, member)
        if (
            callable(attribute)
            and not isinstance(attribute, property)
            and type(attribute).__name__ != "getset_descriptor"
        ):
            m_args, m_kwargs = arguments_for(v, getattr(cls, member), f"{name}.{member}")
            m_args = [
                _core_dataset_spec(v, a) if p == "data" else a
                for a, p in zip(m_args, _names(getattr(cls, member)), strict=False)
            ]
            steps.append((member, m_args, m_kwargs))
        else:
            steps.append((member, None, None))

    def thunk() -> Any:
        instance = cls(*(make(a) for a in args), **{k: make(x) for k, x in kwargs.items()})
        results = []
        for member, m_args, m_kwargs in steps:
            attribute = getattr(instance, member)
            results.append(
                attribute
                if m_args is None
                else attribute(*(make(a) for a in m_args), **{k: make(x) for k, x in (m_kwargs or {}).items()})
            )
        return results

    parts = [describe(a) for a in args] + [f"{k}={describe(x)}" for k, x in kwargs.items()]
    chain = "".join(f".{m}" + ("" if a is None else f"({', '.join(describe(x) for x in a)})") for m, a, _ in steps)
    return Call(f"_core.{name}({', '.join(parts)}){chain}", thunk)


def _names(function: Any) -> list[str]:
    parameters = _parameters(function)
    return [] if parameters is None else [p.name for p in parameters]


def _core_dataset_spec(v: Values, fallback: Any) -> Any:
    """A ``data`` argument of an engine method: usually a Dataset built from drawn arrays (the private API's
    own container), else what was drawn."""
    dataset = dict(CORE_CLASSES).get("Dataset")
    if dataset is None or v.chance(0.2):
        return fallback
    args, kwargs = arguments_for(v, dataset, "Dataset")
    return Spec(dataset, *args, **kwargs)


# ---- diagnostics, plots, scikit-learn, threads ---------------------------------------------------------------------


def diagnostics_call(v: Values) -> Call:
    p = problem(v)
    spec, X, y = model_spec(v, p), features(v, p), targets(v, p)
    kind = v.choice(["layer_stats", "layer_stats", "history", "decision_boundary", "layer_histograms", "layer_std"])
    if kind == "layer_stats":
        return call("diagnostics.layer_stats", lambda m, *a, **k: fnet.diagnostics.format_table(fnet.diagnostics.layer_stats(m, *a, **k)),
                    spec, X, y, bins=v.int_(1, 40, name="bins"))  # fmt: skip
    from ferronet import plot

    if kind == "history":
        epochs = v.random.randint(0, 4)
        record: Any = {"loss": [v.float_(0.0, 2.0) for _ in range(epochs)]}
        if v.chance(0.5):
            record["val_loss"] = [v.float_(0.0, 2.0) for _ in range(epochs + (0 if v.chance(0.9) else 1))]
        if v.chance(0.3):
            record["lr"] = [v.float_(0.0, 1.0) for _ in range(epochs)]
        return call("plot.history", _closing(plot.history), record if v.chance(0.95) else v.hostile())
    if kind == "decision_boundary":
        return call("plot.decision_boundary", _closing(plot.decision_boundary), spec, X, y,
                    resolution=v.int_(2, 30, name="resolution"))  # fmt: skip
    stats = Spec(lambda m, a, b: fnet.diagnostics.layer_stats(m, a, b), spec, X, y)
    if kind == "layer_histograms":
        return call("plot.layer_histograms", _closing(plot.layer_histograms), stats,
                    which=v.string(["activation", "grad"]), columns=v.int_(1, 6, name="columns"))  # fmt: skip
    return call("plot.layer_std", _closing(plot.layer_std), v.choice([{"a": stats}, [stats], stats]))


def _closing(function: Callable[..., Any]) -> Callable[..., Any]:
    """Draw the figure (as saving would), then drop it."""

    def draw(*args: Any, **kwargs: Any) -> None:
        figure = function(*args, **kwargs)
        figure.canvas.draw()

    return draw


SKLEARN_PARAMETERS = {
    "alpha": lambda v: v.float_(0.0, 0.01), "learning_rate_init": lambda v: v.float_(1e-4, 0.1),
    "batch_size": lambda v: v.choice(["auto", v.int_(1, 8)]), "max_iter": lambda v: v.int_(1, 3, name="max_iter"),
    "solver": lambda v: v.string(["sgd", "adam", "lbfgs"]), "momentum": lambda v: v.float_(0.0, 0.99),
    "early_stopping": lambda v: v.bool_(), "validation_fraction": lambda v: v.float_(0.1, 0.5),
    "dropout": lambda v: v.float_(0.0, 0.5), "batch_norm": lambda v: v.bool_(), "tol": lambda v: v.float_(0.0, 0.1),
    "n_iter_no_change": lambda v: v.int_(1, 3, name="n_iter_no_change"), "random_state": lambda v: v.choice([None, v.int_(0, 99)]),
    "dtype": lambda v: v.string([*DTYPES, None]), "power_t": lambda v: v.float_(0.0, 1.0),
    "learning_rate": lambda v: v.string(["constant", "invscaling", "adaptive"]), "shuffle": lambda v: v.bool_(),
}  # fmt: skip


def sklearn_call(v: Values) -> Call:
    from ferronet import sklearn as estimators

    regressor = v.chance(0.3)
    cls = estimators.MLPRegressor if regressor else estimators.MLPClassifier
    params = {
        "hidden_layer_sizes": v.choice([(3,), (4, 2), v.int_(1, 4, name="units"), ()])
        if v.chance(0.95)
        else v.hostile()
    }
    params.update({name: draw(v) for name, draw in SKLEARN_PARAMETERS.items() if v.chance(0.25)})
    if params.get("random_state") is None:
        # seeded unless drawn otherwise: the call (and its replay) is then the same every run
        params["random_state"] = v.random.randint(0, 2**31 - 1)
    p = Problem(v.random.randint(2, 12), v.random.randint(1, 4), 1 if regressor else v.random.randint(2, 3), "mse")
    X = features(v, p)
    y = v.array((p.n,)) if regressor else v.labels(p.n, p.k)
    method = v.choice(["fit", "partial_fit", "predict", "score", "predict_proba"])

    def thunk() -> Any:
        estimator = cls(**params)
        # scikit-learn's rule: with solver="lbfgs" there is no partial_fit (hasattr is False)
        if method == "partial_fit" and not regressor and hasattr(estimator, "partial_fit"):
            return estimator.partial_fit(X, y, classes=np.arange(p.k))
        fitted = estimator.fit(X, y)
        if method in ("predict", "predict_proba"):
            return getattr(fitted, method if not regressor else "predict")(X)
        return fitted.score(X, y) if method == "score" else fitted

    return Call(f"{cls.__name__}({describe(params)}).{method}({describe(X)}, {describe(y)})", thunk)


def threads_call(v: Values) -> Call:
    return call("set_num_threads", fnet.set_num_threads, v.int_(1, 4))


# ---- the command line ----------------------------------------------------------------------------------------------

HOSTILE_FLAG_VALUES = ["", "-1", "0", "1e400", "nan", "inf", "18446744073709551616", "9" * 5000, "\0", "x", "--epochs",
                       "1,,2", "0x10", "-0", "１２"]  # fmt: skip


def _flag_value(v: Values, valid: str) -> str:
    return valid if v.chance(0.9) else v.choice(HOSTILE_FLAG_VALUES)


def _path_text(v: Values, value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def cli_call(v: Values) -> Call:
    command = v.choice(["train"] * 6 + ["predict"] * 3 + ["evaluate"] * 2 + ["bench", "--help", "--version", "nope"])
    argv = [command]
    if command == "train":
        dataset = v.choice(["digits", "digits", "spiral", "fashion-mnist", "nope"])
        argv += ["--dataset", dataset, "--limit", _flag_value(v, str(v.random.randint(20, 200)))]
        argv += [
            "--epochs",
            _flag_value(v, str(v.random.randint(1, 2))),
            "--hidden",
            _flag_value(v, v.choice(["8", "8,4", "none", "16"])),
        ]
        if dataset == "fashion-mnist":
            argv += ["--no-download", "--data-dir", str(v.scratch)]
        for flag, valid in (("--batch-size", str(v.random.randint(1, 64))), ("--lr", f"{v.random.uniform(0.001, 0.5):.3g}"),
                            ("--momentum", "0.5"), ("--dropout", "0.2"), ("--seed", str(v.random.randint(0, 9))),
                            ("--optimizer", v.choice(["sgd", "adam", "rmsprop"])), ("--activation", "tanh"),
                            ("--validation-split", "0.2"), ("--early-stopping", "1"), ("--threads", "1")):  # fmt: skip
            if v.chance(0.2):
                argv += [flag, _flag_value(v, valid)]
        for flag in ("--batch-norm", "--nesterov", "--no-save", "--quiet", "--progress"):
            if v.chance(0.15):
                argv.append(flag)
        if v.chance(0.3):
            argv += ["--out", _path_text(v, v.path(suffix=".safetensors"))]
        if v.chance(0.05):
            argv += ["--plot", _path_text(v, v.path(suffix=".png"))]
    elif command in ("predict", "evaluate"):
        model_file = v.fresh_name(".safetensors")
        d = v.random.randint(1, 4)
        try:
            fnet.Sequential([fnet.Dense(3)], input_dim=d, loss=v.choice(["mse", "softmax_cross_entropy"])).save(
                model_file
            )
        except (OSError, ValueError):
            pass
        argv += ["--model", _path_text(v, v.path(existing=model_file))]
        argv += [
            "--input",
            _path_text(v, _array_file(v, v.array((v.random.randint(0, 5), d if v.chance(0.9) else d + 1)))),
        ]
        if command == "evaluate":
            argv += ["--labels", _path_text(v, _array_file(v, v.labels(v.random.randint(0, 5), 3)))]
        elif v.chance(0.5):
            argv += ["--output", _path_text(v, v.path(suffix=v.choice([".csv", ".npy", ".txt"])))]
        if command == "predict" and v.chance(0.3):
            argv.append("--proba")
    elif command == "bench":
        argv += ["--rows", _flag_value(v, "32"), "--batch-sizes", _flag_value(v, "8"), "--repeats", "1", "--no-torch"]
        if v.chance(0.5):
            argv += ["--json", _path_text(v, v.path(suffix=".json"))]
    if v.chance(0.1):
        argv.insert(v.random.randint(0, len(argv)), v.choice([*HOSTILE_FLAG_VALUES, "--frobnicate", "-h"]))
    return Call(f"cli.main({argv!r})"[:400], lambda: cli.main(argv))


HOSTILE_CSV = [
    "\ufeff1,2\n3,4\n", "a,b\n1,2\n", "1;2\n3;4\n", '"1","2"\n', "1e400,1\n", "\uff11,\uff12\n", "nan,inf\n",
    "\n\n\n", "1,2\r\n3,4\r\n", "0x10,1\n", "1_000,2\n", ",\n", "1,2,\n", "1," * 5000 + "1\n", "\0\0\n",
    "x\n", "1\n2\n3\n", "-0,+1\n", "1e-400,1\n",
]  # fmt: skip


def _hostile_npy(v: Values) -> bytes:
    buffer = io.BytesIO()
    array = v.choice([
        np.zeros((2, 2), dtype=">f8"), np.asfortranarray(np.ones((3, 2))), np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]),
        np.array(1.5), np.zeros((2, 2, 2)), np.array(["ab", "c"]), np.array(["2024-01-01"], dtype="datetime64[D]"),
        np.ones((2, 2), dtype=bool), np.ones((2, 2), dtype=np.float16), np.zeros((0, 3)), np.array([[1 + 2j]]),
    ])  # fmt: skip
    np.save(buffer, array)
    data = buffer.getvalue()
    cut = v.choice([len(data), len(data), 6, 9, 20, len(data) - 1])
    return data[:cut]


def _array_file(v: Values, array: Any) -> Any:
    suffix = v.choice([".csv", ".npy", ".npy", ".txt"])
    path = v.fresh_name(suffix)
    if v.chance(0.2):
        path.write_bytes(v.choice(HOSTILE_CSV).encode() if suffix != ".npy" else _hostile_npy(v))
        return v.path(existing=path, p_bad=0.1)
    try:
        if isinstance(array, np.ndarray) and array.nbytes > SMALL_BYTES:  # a broadcast giant: never written out
            path.write_bytes(v.random.randbytes(20))
        elif suffix == ".npy":
            np.save(path, np.asarray(array), allow_pickle=True)
        else:
            np.savetxt(path, np.atleast_1d(np.asarray(array, dtype=float)), delimiter=",")
    except (TypeError, ValueError, OverflowError):
        path.write_bytes(v.random.randbytes(20))
    return v.path(existing=path, p_bad=0.1)


#: (name, weight, target). Weights keep slow targets (training from the CLI, plots, scikit-learn) rare.
TARGETS: list[tuple[str, float, Callable[[Values], Call]]] = [
    ("model", 30, model_method),
    ("weights", 5, model_weights),
    ("files", 8, model_files),
    ("construct", 8, model_construction),
    ("training-objects", 6, training_objects),
    ("datasets", 5, datasets_call),
    ("preprocessing", 6, preprocessing_call),
    ("ops", 18, ops_call),
    ("core", 18, core_call),
    ("diagnostics", 2, diagnostics_call),
    ("sklearn", 2, sklearn_call),
    ("threads", 0.5, threads_call),
    ("cli", 1.5, cli_call),
]


def restrict(names: list[str]) -> None:
    """Draw only from the named targets (a focused run; the reproducer line repeats --only)."""
    unknown = set(names) - {name for name, _, _ in TARGETS}
    if unknown:
        raise SystemExit(f"unknown targets {sorted(unknown)}; known: {', '.join(name for name, _, _ in TARGETS)}")
    TARGETS[:] = [target for target in TARGETS if target[0] in names]


def use_self_test(kind: str) -> None:
    """Replace every target by one that fails as ``kind`` says: a bug, a crash (abort) or a hang."""
    import os
    import time

    def fail(v: Values) -> Call:
        if kind == "crash":
            return Call("os.abort()", os.abort)
        if kind == "hang":
            return Call("time.sleep(3600)", lambda: time.sleep(3600))
        return Call("{}['missing']", lambda: {}["missing"])

    TARGETS[:] = [(f"self-test-{kind}", 1.0, fail)]


def draw_call(v: Values) -> tuple[str, Call]:
    total = sum(weight for _, weight, _ in TARGETS)
    point = v.random.uniform(0, total)
    for name, weight, target in TARGETS:
        point -= weight
        if point <= 0:
            return name, target(v)
    name, _, target = TARGETS[-1]
    return name, target(v)


__all__ = ["Call", "draw_call"]
