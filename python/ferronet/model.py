"""``Sequential``: a stack of layers, trained by the Rust engine.

Python decides, Rust computes: this module checks arguments (``_validation``), turns targets into the form the
loss needs, runs schedules, validation, early stopping and progress between epochs, and keeps the history.
Every loop over samples or weights runs in the engine (``ferronet._core.Network``), which owns the parameters,
the optimizer state and the BatchNorm statistics. A call that raises leaves the model as it was.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import numpy as np

from . import _core
from ._progress import progress_bar as _progress_bar
from ._progress import resolve_progress as _resolve_progress
from ._validation import (
    as_array,
    check_bool,
    check_choice,
    check_dtype,
    check_features,
    check_float,
    check_int,
    check_labels,
    check_sample_weight,
    require_finite,
)
from ._validation import (
    cast as engine_array,
)
from .callbacks import EarlyStopping
from .layers import MAX_UNITS, Activation, BatchNorm, Dense, Layer, layer_from_config
from .losses import CLASSIFICATION_LOSSES, LABEL_LOSSES, LOSS_FOR_LAST_ACTIVATION, LOSSES
from .optim import SGD, Optimizer, get_optimizer
from .schedules import learning_rate

#: Seconds of training per call into the engine: progress and Ctrl-C are handled between calls.
CHUNK_SECONDS = 0.1

#: Epochs whose learning rates ``fit`` computes and checks before training starts; later ones are checked as they come.
PRECHECKED_EPOCHS = 10_000


def _model_lock(model: Any) -> Any:
    """The model's lock, created on first use (also for models made without ``__init__``)."""
    lock = model.__dict__.get("_lock")
    return lock if lock is not None else model.__dict__.setdefault("_lock", threading.RLock())


_Self = TypeVar("_Self")
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def _locked(method: Callable[Concatenate[_Self, _Params], _Result]) -> Callable[Concatenate[_Self, _Params], _Result]:
    """Run ``method`` holding the model's lock: a model serves one call at a time and calls from other threads
    wait. Without it, a call overlapping one that changes the engine fails with PyO3's bare "Already borrowed",
    and two fits would interleave their epochs."""

    def locked(self: _Self, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        with _model_lock(self):
            return method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)  # not @functools.wraps: its result type hides the signature from mypy
    return locked


def check_seed(seed: Any) -> int:
    """A seed: an int in [0, 2**64), or None for a random one."""
    if seed is None:
        return cast(int, np.random.SeedSequence().entropy) % 2**64  # drawn from the OS: always an int
    return check_int(seed, "seed", minimum=0, maximum=2**64 - 1)


class History:
    """What ``fit`` reports: ``history.history`` maps each metric to its per-epoch values."""

    def __init__(self, keys: Sequence[str]):
        self.history: dict[str, list[float]] = {key: [] for key in keys}
        self.epoch: list[int] = []

    def append(self, epoch: int, values: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        last = {key: values[-1] for key, values in self.history.items() if values}
        return f"History(epochs={len(self.epoch)}, last={last})"


class Sequential:
    """A dense network: layers applied in order, trained with every hot loop in Rust.

    ``loss`` is one of "softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge". The reported objective is
    the batch-mean data loss plus ``0.5*l2*sum(W**2) + l1*sum(|W|)`` over weights (not biases). ``dtype`` is
    "float32" or "float64"; the same ``seed`` gives bit-identical results whatever the thread count.
    Without ``input_dim`` the model is built by the first ``fit``/``train_step``. ``penalty_per_sample=True``
    divides the penalty by each batch's total sample weight (scikit-learn's convention for ``alpha``).
    """

    def __init__(
        self,
        layers: Sequence[Layer] = (),
        input_dim: int | None = None,
        loss: str = "softmax_cross_entropy",
        l2: float = 0.0,
        l1: float = 0.0,
        dtype: str = "float32",
        seed: int | None = 0,
        *,
        penalty_per_sample: bool = False,
    ):
        if isinstance(layers, Layer) or not isinstance(layers, Sequence):
            raise TypeError(f"layers must be a list of ferronet layers; got {type(layers).__name__}")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layers[{index}] must be a ferronet layer (Dense, Activation, Dropout, BatchNorm); got {type(layer).__name__}"
                )
        if not layers:
            raise ValueError("layers must hold at least one layer")
        for index, layer in enumerate(layers[:-1]):
            if getattr(layer, "activation", None) == "softmax":
                raise ValueError(f"softmax is only supported on the last layer; layers[{index}] uses it")
        if not any(isinstance(layer, Dense) for layer in layers):
            raise ValueError("layers must include at least one Dense layer")
        self.layers: list[Layer] = list(layers)
        self.loss = check_choice(loss, "loss", LOSSES)
        self.l2 = check_float(l2, "l2", minimum=0.0)
        self.l1 = check_float(l1, "l1", minimum=0.0)
        self.dtype = check_dtype(dtype).name
        self.seed = check_seed(seed)
        self.penalty_per_sample = check_bool(penalty_per_sample, "penalty_per_sample")
        self._engine: _core.Network | None = None
        self._optimizer: Optimizer | None = None
        if input_dim is not None:
            self.build(input_dim)

    # ---- construction --------------------------------------------------------------------------------------

    @classmethod
    def from_architecture(
        cls,
        architecture: Sequence[dict[str, Any]],
        *,
        loss: str | None = None,
        init: str | None = None,
        seed: int | None = 0,
        dtype: str = "float32",
        l2: float = 0.0,
        l1: float = 0.0,
    ) -> Sequential:
        """Build from a seed-style list of ``{"input_dim", "output_dim", "activation"}`` dicts.

        Without ``loss``, the last activation decides: softmax → softmax cross-entropy, sigmoid → binary
        cross-entropy, linear → mse.
        """
        if isinstance(architecture, dict) or not isinstance(architecture, Sequence) or not architecture:
            raise TypeError("architecture must be a non-empty list of dicts with input_dim, output_dim and activation")
        layers: list[Layer] = []
        for index, spec in enumerate(architecture):
            if not isinstance(spec, dict):
                raise TypeError(f"architecture[{index}] must be a dict; got {type(spec).__name__}")
            unknown = set(spec) - {"input_dim", "output_dim", "activation"}
            if unknown or "output_dim" not in spec:
                raise ValueError(
                    f"architecture[{index}] must have keys input_dim, output_dim and activation; got {sorted(spec)}"
                )
            if index == 0 and "input_dim" not in spec:
                raise ValueError("architecture[0] must give input_dim")
            if index > 0 and "input_dim" in spec and spec["input_dim"] != architecture[index - 1]["output_dim"]:
                raise ValueError(
                    f"architecture[{index}] has input_dim {spec['input_dim']} but the previous layer outputs "
                    f"{architecture[index - 1]['output_dim']}"
                )
            layers.append(Dense(spec["output_dim"], activation=spec.get("activation", "linear"), init=init))
        if loss is None:
            last = layers[-1].activation  # type: ignore[attr-defined]
            if last not in LOSS_FOR_LAST_ACTIVATION:
                raise ValueError(
                    f"cannot infer the loss from a last activation {last!r}; pass loss= (one of {', '.join(LOSSES)})"
                )
            loss = LOSS_FOR_LAST_ACTIVATION[last]
        input_dim = check_int(
            architecture[0]["input_dim"], "architecture[0]['input_dim']", minimum=1, maximum=MAX_UNITS
        )
        return cls(layers, input_dim=input_dim, loss=loss, seed=seed, dtype=dtype, l2=l2, l1=l1)

    @_locked
    def build(self, input_dim: int) -> Sequential:
        """Create the parameters for inputs of ``input_dim`` features (done by ``fit`` when needed)."""
        input_dim = check_int(input_dim, "input_dim", minimum=1, maximum=MAX_UNITS)
        if self._engine is not None:
            if input_dim != self.input_dim:
                raise ValueError(f"the model is already built for {self.input_dim} features; got input_dim {input_dim}")
            return self
        configs = [layer.config() for layer in self.layers]
        self._engine = _core.Network(
            input_dim, configs, self.loss, self.l1, self.l2, self.seed, self.dtype, self.penalty_per_sample
        )
        return self

    @property
    def built(self) -> bool:
        return self._engine is not None

    def _require_built(self) -> _core.Network:
        if self._engine is None:
            raise ValueError("the model is not built yet: pass input_dim= or call fit/build first")
        return self._engine

    @property
    @_locked
    def input_dim(self) -> int | None:
        return None if self._engine is None else int(self._engine.input_dim)

    @property
    def output_dim(self) -> int:
        widths = [layer.units for layer in self.layers if isinstance(layer, Dense)]
        return widths[-1]

    @property
    @_locked
    def n_params(self) -> int:
        return int(self._require_built().n_params)

    @property
    def is_classifier(self) -> bool:
        return self.loss in CLASSIFICATION_LOSSES

    def config(self) -> dict[str, Any]:
        """The JSON-able description of the model (architecture and training configuration)."""
        return {
            "layers": [layer.config() for layer in self.layers],
            "input_dim": self.input_dim,
            "loss": self.loss,
            "l1": self.l1,
            "l2": self.l2,
            "dtype": self.dtype,
            "seed": self.seed,
            "penalty_per_sample": self.penalty_per_sample,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        layers = [layer_from_config(layer) for layer in config["layers"]]
        return cls(
            layers,
            input_dim=config.get("input_dim"),
            loss=config["loss"],
            l1=config.get("l1", 0.0),
            l2=config.get("l2", 0.0),
            dtype=config.get("dtype", "float32"),
            seed=config.get("seed", 0),
            penalty_per_sample=config.get("penalty_per_sample", False),
        )

    @_locked
    def copy(self, dtype: str | None = None) -> Sequential:
        """An independent copy (same weights, counters and optimizer object), optionally in another dtype."""
        config = self.config()
        if dtype is not None:
            config["dtype"] = check_dtype(dtype).name
        clone = Sequential.from_config(config)
        if self._engine is not None:
            clone.set_weights(self.get_weights())
            clone._require_built().set_counters(self._engine.step, self._engine.updates, self._engine.epochs)
        return clone

    def summary(self, file: Any = None) -> str:
        """Print (and return) the layers, their output shapes and parameter counts."""
        header = f"Sequential  loss={self.loss}  dtype={self.dtype}  l1={self.l1}  l2={self.l2}  seed={self.seed}"
        rows = []
        width = self.input_dim
        total = 0
        for index, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                params = None if width is None else width * layer.units + layer.units
                width = layer.units
            elif isinstance(layer, BatchNorm):
                params = None if width is None else 2 * width
            else:
                params = 0
            total += params or 0
            name = f"{layer.kind}_{index} ({_describe_layer(layer)})"
            shape = f"(None, {width if width is not None else '?'})"
            rows.append((name, shape, "?" if params is None else str(params)))
        column = max([len("layer"), *(len(name) for name, _, _ in rows)]) + 2  # long names must not shift the columns
        lines = [header, f"{'layer':<{column}}{'output shape':<18}{'params':>10}"]
        lines += [f"{name:<{column}}{shape:<18}{params:>10}" for name, shape, params in rows]
        lines.append(f"total parameters: {total if self.built else '? (not built: input_dim unknown)'}")
        text = "\n".join(lines)
        print(text, file=file or sys.stdout)
        return text

    def __repr__(self) -> str:
        layers = ", ".join(map(repr, self.layers))
        return f"Sequential([{layers}], input_dim={self.input_dim}, loss={self.loss!r}, dtype={self.dtype!r}, seed={self.seed})"

    # ---- files and pickling (the format lives in ferronet.io) ------------------------------------------------

    def save(self, path: Any, include_optimizer: bool = False) -> None:
        """Write the model as a safetensors file: weights as tensors, architecture and training configuration
        in its metadata; ``include_optimizer=True`` also stores the optimizer state, so training resumes
        bit-identically after ``ferronet.load``."""
        from . import io

        io.save(self, path, include_optimizer=include_optimizer)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (joblib, distributed engines) goes through the same safe bytes as files, optimizer included.
        from . import io

        return (io.from_bytes, (io.to_bytes(self, include_optimizer=True),))

    # ---- parameters ----------------------------------------------------------------------------------------

    @_locked
    def get_weights(self) -> list[dict[str, np.ndarray]]:
        """Copies of the parameters: one dict per layer ({"W", "b"}, BatchNorm's four arrays, or {})."""
        return list(self._require_built().get_weights())

    @_locked
    def set_weights(self, weights: Sequence[dict[str, Any]]) -> None:
        """Replace the parameters (same structure as ``get_weights``); checked completely before anything changes."""
        engine = self._require_built()
        if not isinstance(weights, Sequence) or isinstance(weights, (str, bytes, dict)):
            raise TypeError("weights must be a list with one dict per layer, as get_weights() returns")
        converted = []
        for index, layer_weights in enumerate(weights):
            if not isinstance(layer_weights, dict):
                raise TypeError(f"weights[{index}] must be a dict; got {type(layer_weights).__name__}")
            arrays = {}
            for name, value in layer_weights.items():
                array = engine_array(as_array(value, f"weights[{index}][{name!r}]"), np.dtype(self.dtype))
                require_finite(array, f"weights[{index}][{name!r}]")
                arrays[name] = array
            converted.append(arrays)
        engine.set_weights(converted)

    # ---- inputs --------------------------------------------------------------------------------------------

    def _features(
        self, X: Any, *, allow_empty: bool = False, build: bool = False, check_finite: bool = True
    ) -> np.ndarray:
        dtype = np.dtype(self.dtype)
        if build and self._engine is None:
            array = check_features(X, "X", dtype, allow_empty=allow_empty, check_finite=check_finite)
            self.build(array.shape[1])
            return array
        engine = self._require_built()
        return check_features(
            X, "X", dtype, n_features=engine.input_dim, allow_empty=allow_empty, check_finite=check_finite
        )

    def _targets(self, y: Any, n_rows: int) -> np.ndarray:
        """Targets in the form the loss needs: int64 labels, or a float matrix of the model's dtype."""
        outputs = self.output_dim
        if self.loss in LABEL_LOSSES:
            array = as_array(y, "y")
            if array.ndim == 2:
                if array.shape != (n_rows, outputs):
                    raise ValueError(f"one-hot y must have shape ({n_rows}, {outputs}); got {array.shape}")
                if not (np.isin(array, (0, 1)).all() and (array.sum(axis=1) == 1).all()):
                    raise ValueError(
                        "a 2-D y must be one-hot: each row one 1 and zeros elsewhere (or pass integer labels)"
                    )
                return np.ascontiguousarray(array.argmax(axis=1), dtype=np.int64)
            return check_labels(array, "y", n_samples=n_rows, n_classes=outputs)
        array = as_array(y, "y")
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2 or array.shape != (n_rows, outputs):
            raise ValueError(
                f"y must have shape ({n_rows}, {outputs}) (or ({n_rows},) for one output) for {self.loss}; got {np.shape(y)}"
            )
        targets = engine_array(array, np.dtype(self.dtype))
        require_finite(targets, "y")
        if self.loss == "binary_cross_entropy" and ((targets < 0) | (targets > 1)).any():
            raise ValueError("y must hold values in [0, 1] for binary_cross_entropy")
        return targets

    def _batch(
        self, X: Any, y: Any, sample_weight: Any, *, build: bool = False, check_finite: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        features = self._features(X, build=build, check_finite=check_finite)
        targets = self._targets(y, features.shape[0])
        weights = check_sample_weight(sample_weight, features.shape[0], np.dtype(self.dtype))
        return features, targets, weights

    @contextlib.contextmanager
    def _unbuilt_on_error(self) -> Iterator[None]:
        """``fit``/``train_step`` build an unbuilt model from X before checking everything else: if a check then
        raises, the model goes back to unbuilt (a call that raises leaves the model as it was)."""
        built = self._engine is not None
        try:
            yield
        except BaseException:
            if not built:
                self._engine = None
            raise

    def _use_optimizer(self, optimizer: Any, lr: float | None = None) -> Optimizer:
        """Hand the optimizer to the engine: fresh state for a new optimizer object, kept for the same one."""
        opt = (self._optimizer or SGD()) if optimizer is None else get_optimizer(optimizer)
        config = opt.config()
        if lr is not None:
            config["lr"] = lr
        self._require_built().set_optimizer(config, reset=opt is not self._optimizer)
        self._optimizer = opt
        return opt

    # ---- inference -----------------------------------------------------------------------------------------

    @_locked
    def forward(self, X: Any, training: bool = False) -> np.ndarray:
        """The last layer's output: logits, or probabilities when the last layer's softmax/sigmoid is fused with
        the loss. ``training=True`` applies the dropout masks of the current step and BatchNorm batch statistics
        (and updates nothing)."""
        features = self._features(X, allow_empty=not training)
        return self._require_built().forward(features, check_bool(training, "training"), False)

    @_locked
    def _logits(self, X: Any) -> np.ndarray:
        features = self._features(X, allow_empty=True)  # raises a clear ValueError when the model is not built
        return self._require_built().forward(features, False, True)

    def predict(self, X: Any) -> np.ndarray:
        """Class indices (softmax cross-entropy, hinge), 0/1 per output (binary cross-entropy) or values (mse).
        Single-output models return shape (n,)."""
        logits = self._logits(X)
        if self.loss in LABEL_LOSSES:
            return logits.argmax(axis=1).astype(np.int64) if logits.shape[0] else np.zeros(0, np.int64)
        if self.loss == "binary_cross_entropy":
            labels: np.ndarray = (logits > 0).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: softmax over the outputs (softmax cross-entropy), or sigmoids (binary
        cross-entropy; a single output gives the two columns [1 - p, p])."""
        if self.loss == "softmax_cross_entropy":
            logits = self._logits(X)
            return _core.softmax_forward(logits) if logits.shape[0] else logits
        if self.loss == "binary_cross_entropy":
            logits = self._logits(X)
            p = _core.sigmoid_forward(logits) if logits.shape[0] else logits
            return np.hstack([1 - p, p]) if p.shape[1] == 1 else p
        raise ValueError(
            f"predict_proba needs a probabilistic loss (softmax_cross_entropy or binary_cross_entropy); this model uses {self.loss}"
        )

    @_locked
    def evaluate(self, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """The objective (mean data loss + penalty) and, for classifiers, the accuracy, in inference mode."""
        features, targets, weights = self._batch(X, y, sample_weight)
        loss, correct = self._require_built().evaluate(features, targets, weights)
        result = {"loss": float(loss)}
        if self.is_classifier:
            result["accuracy"] = float(correct) / features.shape[0]
        return result

    @_locked
    def gradients(self, X: Any, y: Any, sample_weight: Any = None) -> list[dict[str, np.ndarray]]:
        """d objective / d parameter on (X, y) in training mode, without updating: the structure of
        ``get_weights`` (BatchNorm gives "gamma" and "beta")."""
        features, targets, weights = self._batch(X, y, sample_weight)
        return list(self._require_built().gradients(features, targets, weights)[1])

    @_locked
    def _objective(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The training-mode objective that ``gradients`` differentiates (for gradient checks)."""
        features, targets, weights = self._batch(X, y, sample_weight)
        return float(self._require_built().gradients(features, targets, weights)[0])

    # ---- training ------------------------------------------------------------------------------------------

    @_locked
    def train_step(self, X: Any, y: Any, optimizer: Any = None, sample_weight: Any = None) -> float:
        """One update on a batch; returns the objective at the weights before the update."""
        with self._unbuilt_on_error():
            features, targets, weights = self._batch(X, y, sample_weight, build=True)
            if optimizer is not None:
                get_optimizer(optimizer)  # a bad optimizer raises here, before the engine state changes
            if features.shape[0] < 2 and any(isinstance(layer, BatchNorm) for layer in self.layers):
                raise ValueError(f"X: BatchNorm needs at least 2 rows in training mode; got {features.shape[0]}")
        self._use_optimizer(optimizer)
        loss, _ = self._require_built().train_step(features, targets, weights)
        return float(loss)

    @_locked
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 1,
        batch_size: int = 32,
        optimizer: Any = None,
        schedule: Any = None,
        shuffle: bool = True,
        validation_data: tuple[Any, ...] | None = None,
        validation_split: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        progress: bool | str = False,
        sample_weight: Any = None,
        verbose: bool = False,
    ) -> History:
        """Train for ``epochs`` passes over (X, y); whole epochs run in Rust with the GIL released.

        ``optimizer`` defaults to the one used last (or ``SGD()``); ``schedule`` sets its learning rate per epoch;
        ``validation_split`` holds out the last fraction of the rows (before shuffling, as Keras does).
        ``progress`` shows a tqdm bar per epoch ("auto": when stderr is a terminal); ``verbose`` prints a line per
        epoch. Ctrl-C stops within a fraction of a second and leaves the model usable. A loss that stops being
        finite raises ``FloatingPointError`` and leaves the weights of the start of that epoch.
        """
        epochs = check_int(epochs, "epochs", minimum=0)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        shuffle = check_bool(shuffle, "shuffle")
        verbose = check_bool(verbose, "verbose")
        validation_split = check_float(
            validation_split, "validation_split", minimum=0.0, maximum=1.0, max_inclusive=False
        )
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"early_stopping must be a ferronet.EarlyStopping; got {type(early_stopping).__name__}")
        opt = get_optimizer(optimizer) if optimizer is not None else (self._optimizer or SGD())
        if schedule is not None and not callable(schedule):
            raise TypeError("schedule must be a ferronet.schedules.Schedule or a callable (epoch, lr0) -> lr")
        show_progress = _resolve_progress(progress)

        with self._unbuilt_on_error():  # a first fit that raises leaves the model unbuilt
            # X's finiteness is checked by the engine while it copies X (one pass instead of two).
            features, targets, weights = self._batch(X, y, sample_weight, build=True, check_finite=False)
            validation = None
            if validation_data is not None:
                if validation_split:
                    raise ValueError("pass either validation_data or validation_split, not both")
                if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                    raise TypeError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
                X_val, y_val, *weight_val = validation_data
                validation = self._batch(X_val, y_val, weight_val[0] if weight_val else None)
            elif validation_split:
                n_val = math.floor(features.shape[0] * validation_split)
                if n_val < 1 or n_val >= features.shape[0]:
                    raise ValueError(
                        f"validation_split={validation_split} of {features.shape[0]} rows leaves no validation or no training rows"
                    )
                cut = features.shape[0] - n_val
                require_finite(features[cut:], "X")  # the held-out rows are not copied into the engine
                validation = (features[cut:], targets[cut:], None if weights is None else weights[cut:])
                features, targets = features[:cut], targets[:cut]
                weights = None if weights is None else weights[:cut]
            if early_stopping is not None and early_stopping.monitor.startswith("val_") and validation is None:
                raise ValueError(
                    f"early stopping on {early_stopping.monitor!r} needs validation_data or validation_split"
                )
            if early_stopping is not None and early_stopping.monitor.endswith("accuracy") and not self.is_classifier:
                raise ValueError(
                    f"early stopping on {early_stopping.monitor!r} needs a classification loss; this model uses {self.loss}"
                )
            n = features.shape[0]
            effective_batch = min(batch_size, n)
            if any(isinstance(layer, BatchNorm) for layer in self.layers) and (
                effective_batch < 2 or n % effective_batch == 1
            ):
                raise ValueError(
                    f"BatchNorm needs at least 2 rows per training batch, but batch_size={batch_size} over {n} rows leaves "
                    "a batch of 1 row; choose another batch_size"
                )
            lr0 = opt.lr
            # checked before any change (the first epochs only: a huge ``epochs`` cut short by early stopping
            # must not wait on, or fill memory with, one rate per epoch)
            rates = [learning_rate(schedule, epoch, lr0) for epoch in range(min(epochs, PRECHECKED_EPOCHS))]
            dataset = _core.Dataset(features, targets, self.loss in LABEL_LOSSES, weights)
            del features  # the engine holds its own copy now
        # Everything is checked: from here on the model changes.
        self._use_optimizer(opt)
        keys = ["loss", "accuracy"] if self.is_classifier else ["loss"]
        if validation is not None:
            keys += ["val_" + key for key in keys]
        history = History([*keys, "lr", "epoch_seconds"])
        if early_stopping is not None:
            early_stopping.reset()
        engine = self._require_built()
        for epoch in range(epochs):
            lr = rates[epoch] if epoch < len(rates) else learning_rate(schedule, epoch, lr0)
            self._use_optimizer(opt, lr=lr)
            started = time.perf_counter()
            totals = self._run_epoch(engine, dataset, n, batch_size, shuffle, epoch, epochs, show_progress)
            values = {"loss": totals[0] / n}
            if self.is_classifier:
                values["accuracy"] = totals[1] / n
            if validation is not None:
                val_loss, val_correct = engine.evaluate(*validation)
                values["val_loss"] = float(val_loss)
                if self.is_classifier:
                    values["val_accuracy"] = float(val_correct) / validation[0].shape[0]
            values["lr"] = lr
            values["epoch_seconds"] = time.perf_counter() - started
            history.append(epoch, values)
            if verbose:
                print(_epoch_line(epoch, epochs, values), flush=True)
            if early_stopping is not None and early_stopping.update(
                epoch, values[early_stopping.monitor], self.get_weights
            ):
                break
        if early_stopping is not None and early_stopping.restore_best and early_stopping.best_weights is not None:
            self.set_weights(early_stopping.best_weights)
        return history

    def _run_epoch(
        self,
        engine: _core.Network,
        dataset: _core.Dataset,
        n: int,
        batch_size: int,
        shuffle: bool,
        epoch: int,
        epochs: int,
        show_progress: bool,
    ) -> tuple[float, float]:
        """One epoch in chunks of about ``CHUNK_SECONDS`` of engine work; returns (Σ objective·rows, correct)."""
        engine.begin_epoch(n, batch_size, shuffle)
        bar = _progress_bar(n, epoch, epochs) if show_progress else None
        try:
            seen = 0
            while True:
                done, now_seen, _batches, loss_sum, correct, divergence = engine.train_chunk(dataset, CHUNK_SECONDS)
                if divergence is not None:
                    bad_batch, value = divergence
                    raise FloatingPointError(
                        f"training diverged: the loss became {value} at epoch {epoch + 1}, batch {bad_batch + 1} "
                        "(1-based); the weights were restored to the start of that epoch. Try a smaller learning rate."
                    )
                if bar is not None:
                    bar.update(now_seen - seen)
                    postfix = {"loss": f"{loss_sum / max(now_seen, 1):.4f}"}
                    if self.is_classifier:
                        postfix["acc"] = f"{correct / max(now_seen, 1):.4f}"
                    bar.set_postfix(postfix, refresh=False)
                seen = now_seen
                if done:
                    return loss_sum, correct
        except KeyboardInterrupt:
            engine.stop_epoch()
            raise
        finally:
            if bar is not None:
                bar.close()


def _describe_layer(layer: Layer) -> str:
    if isinstance(layer, Dense):
        extra = f", dropconnect={layer.dropconnect}" if layer.dropconnect else ""
        return f"{layer.units}, {layer.activation}{extra}"
    if isinstance(layer, Activation):
        return layer.activation
    config = layer.config()
    return ", ".join(f"{k}={v}" for k, v in config.items() if k != "kind")


def _epoch_line(epoch: int, epochs: int, values: dict[str, float]) -> str:
    parts = [f"epoch {epoch + 1}/{epochs}"]
    parts += [f"{key} {values[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in values]
    parts.append(f"lr {values['lr']:.4g}")
    parts.append(f"{values['epoch_seconds']:.2f}s")
    return "  ".join(parts)
