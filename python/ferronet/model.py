"""``Sequential``: a stack of layers, trained by the Rust engine.

Python decides, Rust computes: this module checks what the user passed (``_validation``), turns targets into
the form the loss needs, and hands whole training runs to ``training.TrainingRun``. Every loop over samples or
weights runs in the engine (``ferronet._core.Model``), which owns the parameters, the optimizer and its state,
the counters and the BatchNorm statistics. A call that raises leaves the model as it was.
"""

from __future__ import annotations

import contextlib
import copy as copy_module
import functools
import io
import json
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import numpy as np

from . import _core, _files, _memory
from ._file_formats import SAFETENSORS_HEAD, check_model_bytes, is_safetensors
from ._names import FIT_HINTS, PREDICT_HINTS, SEQUENTIAL_HINTS, instance_hint, keywords
from ._progress import resolve_progress
from ._types import DTypeName, FloatDType, InitName, LossName, OptimizerName, Progress, Verbosity
from ._validation import (
    SparseRows,
    as_array,
    check_any_features,
    check_bool,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_labels,
    check_sample_weight,
    require_finite,
    require_finite_features,
)
from ._validation import (
    cast as engine_array,
)
from .callbacks import Callback, EarlyStopping, History, check_callbacks
from .layers import MAX_UNITS, Activation, BatchNorm, Dense, Layer, layer_from_config
from .losses import CLASSIFICATION_LOSSES, LABEL_LOSSES, LOG_LINK_LOSSES, LOSS_FOR_LAST_ACTIVATION, LOSSES
from .optim import SGD, Optimizer, get_optimizer, optimizer_from_config
from .schedules import Schedule, learning_rate
from .training import TrainingRun, check_verbose

#: Epochs whose learning rates ``fit`` computes and checks before training starts; later ones are checked as they come.
PRECHECKED_EPOCHS = 10_000


#: Every model that has a lock: a forked child gives each a fresh one (see ``_after_fork_in_child``).
_LIVE_MODELS: weakref.WeakSet[Any] = weakref.WeakSet()


def _model_lock(model: Any) -> Any:
    """The model's lock, created on first use (also for models made without ``__init__``)."""
    lock = model.__dict__.get("_lock")
    if lock is None:
        _LIVE_MODELS.add(model)
        lock = model.__dict__.setdefault("_lock", threading.RLock())
    return lock


def _after_fork_in_child() -> None:
    """A thread of the parent may have held a model's lock (a fit running beside the fork): it does not exist in
    the child, so every model gets a fresh lock, and its engine takes over its state, rolling back a fit that was
    in progress (the child sees the model as it was before that fit). The engine's process-wide state (its pools'
    lock, the Ctrl-C flag) is reset first."""
    _core.after_fork()
    for model in list(_LIVE_MODELS):
        model.__dict__["_lock"] = threading.RLock()
        engine = model.__dict__.get("_engine")
        if engine is not None:
            engine.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
    """Check a model's seed, or draw one.

    Parameters
    ----------
    seed : int or None
        An integer in ``[0, 2**64)``, or None for a random one drawn from the operating system.

    Returns
    -------
    int
        The seed.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (or None).
    ValueError
        If ``seed`` is out of range.
    """
    if seed is None:
        return cast(int, np.random.SeedSequence().entropy) % 2**64  # drawn from the OS: always an int
    return check_int(seed, "seed", minimum=0, maximum=2**64 - 1)


class Sequential:
    """A dense network: layers applied in order, trained with every hot loop in Rust.

    X may be a SciPy CSR or CSC sparse matrix (or array) wherever it is taken (``fit``, ``predict``,
    ``predict_proba``, ``evaluate``, ``train_step``, ``forward``, ``gradients``): it is never densified. The engine
    keeps it in CSR and the first layer, which must then be a Dense layer, multiplies the sparse rows by its dense
    weights; other sparse formats are refused (convert them with ``X.tocsr()``). Results equal the dense path's up
    to rounding (another order of summation).

    The reported objective is the batch-mean data loss plus ``0.5*l2*sum(W**2) + l1*sum(|W|)`` over weights (not
    biases); the exact formulas are in docs/formulas.md. The same ``seed`` gives bit-identical results whatever
    the thread count. A call that raises leaves the model as it was; a model serves one call at a time (calls
    from other threads wait).

    Parameters
    ----------
    layers : sequence of Layer
        ``Dense``, ``Activation``, ``Dropout`` and ``BatchNorm`` layers, at least one ``Dense``; softmax only on
        the last layer.
    input_dim : int, optional
        The number of input features. Without it the model is built by the first ``fit``/``train_step`` (or
        ``build``).
    loss : {"softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"}, default "softmax_cross_entropy"
        The data loss. Targets are class labels for softmax cross-entropy and hinge, values in [0, 1] for binary
        cross-entropy, values for mse; ``"poisson"`` is half the Poisson deviance with the log link (the last
        layer must be linear and outputs log(mean), ``predict`` returns the mean exp(output); targets >= 0).
    l2 : float, default 0.0
        The L2 penalty ``0.5*l2*sum(W**2)`` over weights; >= 0.
    l1 : float, default 0.0
        The L1 penalty ``l1*sum(|W|)`` over weights; >= 0.
    dtype : {"float32", "float64"}, default "float32"
        The float type of the parameters and the computation (a NumPy dtype or scalar type works too).
    seed : int or None, default 0
        Seeds the initial weights, the shuffles and the dropout masks, in ``[0, 2**64)``; None draws one.
    penalty_per_sample : bool, default False
        Divide the penalty by each batch's total sample weight (scikit-learn's convention for ``alpha``).

    Attributes
    ----------
    layers : list of Layer
        The layers, in order.
    stop_training : bool
        Set by a callback (e.g. ``EarlyStopping``) to end ``fit`` after the current epoch.
    history : History or None
        The history of the last ``fit``.

    Raises
    ------
    TypeError
        If ``layers`` is not a list of ferronet layers, or an argument has the wrong type.
    ValueError
        If the layers are empty, hold no ``Dense``, use softmax before the last layer, do not end linear with
        ``loss="poisson"``, or a name or number is not allowed.

    Examples
    --------
    >>> import ferronet as fnet
    >>> model = fnet.Sequential([fnet.Dense(16, activation="relu"), fnet.Dense(3)], input_dim=4, seed=0)
    >>> model.n_params
    131
    """

    @keywords(hints=SEQUENTIAL_HINTS)
    def __init__(
        self,
        layers: Sequence[Layer] = (),
        input_dim: int | None = None,
        loss: LossName = "softmax_cross_entropy",
        l2: float = 0.0,
        l1: float = 0.0,
        dtype: FloatDType = "float32",
        seed: int | None = 0,
        *,
        penalty_per_sample: bool = False,
    ):
        if isinstance(layers, Layer) or not isinstance(layers, Sequence):
            raise TypeError(f"layers must be a list of ferronet layers; got {type(layers).__name__}")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    instance_hint(layer, Layer, f"layers[{index}]")
                    or f"layers[{index}] must be a ferronet layer (Dense, Activation, Dropout, BatchNorm); got {type(layer).__name__}"
                )
        if not layers:
            raise ValueError("layers must hold at least one layer")
        for index, layer in enumerate(layers[:-1]):
            if getattr(layer, "activation", None) == "softmax":
                raise ValueError(f"softmax is only supported on the last layer; layers[{index}] uses it")
        if not any(isinstance(layer, Dense) for layer in layers):
            raise ValueError("layers must include at least one Dense layer")
        if loss in LOG_LINK_LOSSES and getattr(layers[-1], "activation", None) != "linear":
            raise ValueError(
                f"loss={loss!r} applies exp to the last layer's output (the log link): the last layer must be a Dense "
                "or Activation layer with activation='linear'"
            )
        self.layers: list[Layer] = list(layers)
        self.loss = check_choice(loss, "loss", LOSSES)
        self.l2 = check_float(l2, "l2", minimum=0.0)
        self.l1 = check_float(l1, "l1", minimum=0.0)
        self.dtype = check_dtype(dtype).name
        self.seed = check_seed(seed)
        self.penalty_per_sample = check_bool(penalty_per_sample, "penalty_per_sample")
        _model_lock(self)  # registered for the fork hook from the start
        self._engine: _core.Model | None = None
        self._optimizer: Optimizer | None = None
        #: Set by a callback (e.g. EarlyStopping) to end ``fit`` after the current epoch.
        self.stop_training = False
        #: The history of the last ``fit``.
        self.history: History | None = None
        if input_dim is not None:
            self.build(input_dim)

    # ---- construction --------------------------------------------------------------------------------------

    @classmethod
    def from_architecture(
        cls,
        architecture: Sequence[dict[str, Any]],
        *,
        loss: LossName | None = None,
        init: InitName | None = None,
        seed: int | None = 0,
        dtype: FloatDType = "float32",
        l2: float = 0.0,
        l1: float = 0.0,
    ) -> Sequential:
        """Build from a seed-style list of ``{"input_dim", "output_dim", "activation"}`` dicts.

        Parameters
        ----------
        architecture : sequence of dict
            One dict per ``Dense`` layer with ``output_dim``, ``activation`` (default ``"linear"``) and
            ``input_dim`` (required for the first, which sets the model's ``input_dim``; later ones, when given,
            must equal the previous ``output_dim``).
        loss : {"softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"}, optional
            Without it the last activation decides: softmax → softmax cross-entropy, sigmoid → binary
            cross-entropy, linear → mse.
        init : {"he", "xavier", "xavier_uniform", "lecun", "uniform", "small", "zeros"}, optional
            The init of every layer; None picks each activation's default.
        seed : int or None, default 0
            As in ``Sequential``.
        dtype : {"float32", "float64"}, default "float32"
            As in ``Sequential``.
        l2 : float, default 0.0
            As in ``Sequential``.
        l1 : float, default 0.0
            As in ``Sequential``.

        Returns
        -------
        Sequential
            A built model.

        Raises
        ------
        TypeError
            If ``architecture`` is not a non-empty list of dicts.
        ValueError
            If a dict has unknown or missing keys, the widths do not chain, or no loss can be inferred.

        Examples
        --------
        >>> model = Sequential.from_architecture(
        ...     [{"input_dim": 2, "output_dim": 25, "activation": "relu"}, {"output_dim": 1, "activation": "sigmoid"}]
        ... )
        >>> model.loss
        'binary_cross_entropy'
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
            if index > 0 and "input_dim" in spec:
                # checked as numbers first: comparing a Decimal('sNaN') raises decimal.InvalidOperation
                given = check_int(spec["input_dim"], f"architecture[{index}]['input_dim']", minimum=1)
                previous = check_int(
                    architecture[index - 1]["output_dim"], f"architecture[{index - 1}]['output_dim']", minimum=1
                )
                if given != previous:
                    raise ValueError(
                        f"architecture[{index}] has input_dim {given} but the previous layer outputs {previous}"
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
        """Create the parameters for inputs of ``input_dim`` features (done by ``fit`` when needed).

        Parameters
        ----------
        input_dim : int
            The number of input features.

        Returns
        -------
        Sequential
            The model itself. Building a built model for the same width does nothing.

        Raises
        ------
        ValueError
            If the model is already built for another width, or ``input_dim`` is out of range.
        MemoryError
            If the parameters would not fit in the memory available.
        """
        input_dim = check_int(input_dim, "input_dim", minimum=1, maximum=MAX_UNITS)
        if self._engine is not None:
            if input_dim != self.input_dim:
                raise ValueError(f"the model is already built for {self.input_dim} features; got input_dim {input_dim}")
            return self
        itemsize = np.dtype(self.dtype).itemsize
        _memory.require([("parameters", self._value_count(input_dim) * itemsize)], "building this model")
        self._engine = _core.Model(json.dumps({**self.config(), "input_dim": input_dim}))
        return self

    def _value_count(self, input_dim: int) -> int:
        """Numbers the model's arrays hold for ``input_dim`` features (weights, biases, BatchNorm's four)."""
        total, width = 0, input_dim
        for layer in self.layers:
            if isinstance(layer, Dense):
                total += width * layer.units + layer.units
                width = layer.units
            elif isinstance(layer, BatchNorm):
                total += 4 * width
        return total

    def _require_fit_memory(
        self, features: np.ndarray | SparseRows, targets: np.ndarray, batch_size: int, optimizer: Optimizer
    ) -> None:
        """Refuse a fit the machine cannot hold, before anything is allocated (see ``_memory``)."""
        itemsize = np.dtype(self.dtype).itemsize
        rows, cols = features.shape
        values = self._value_count(cols)
        slots = {"sgd": 1 if getattr(optimizer, "momentum", 0.0) else 0, "adam": 2, "rmsprop": 1}.get(optimizer.kind, 2)
        widths = [cols] + [getattr(layer, "units", 0) or 0 for layer in self.layers]
        batch = min(batch_size, rows)
        if isinstance(features, SparseRows):
            # the engine's CSR copy (u32 column indices); the batch in CSR and its transpose, no dense rows of X
            data_bytes = features.nnz * (itemsize + 4) + (rows + 1) * 8
            widths[0] = 0
            batch_extra = 2 * features.nnz * (itemsize + 4) // max(rows // batch, 1) + (cols + 1) * 16
        else:
            data_bytes, batch_extra = rows * cols * itemsize, 0
        _memory.require(
            [
                ("the engine's copy of the data", data_bytes + targets.nbytes + rows * 8),
                ("optimizer state", slots * values * itemsize),
                ("the copy a failed fit returns to", (1 + slots) * values * itemsize),
                ("per-batch buffers", (4 * batch * sum(widths) + values) * itemsize + batch_extra),
            ],
            "this fit",
        )

    @property
    def built(self) -> bool:
        """Whether the parameters exist (``input_dim`` given, or built by ``build``/``fit``)."""
        return self._engine is not None

    def _require_built(self) -> _core.Model:
        if self._engine is None:
            raise ValueError("the model is not built yet: pass input_dim= or call fit/build first")
        return self._engine

    @property
    @_locked
    def input_dim(self) -> int | None:
        """The number of input features, or None before the model is built."""
        return None if self._engine is None else int(self._engine.input_dim)

    @property
    def output_dim(self) -> int:
        """The number of outputs: the last ``Dense`` layer's units."""
        widths = [layer.units for layer in self.layers if isinstance(layer, Dense)]
        return widths[-1]

    @property
    @_locked
    def n_params(self) -> int:
        """The number of trainable parameters (weights, biases, BatchNorm's gamma and beta); needs a built model."""
        return int(self._require_built().n_params)

    @property
    def is_classifier(self) -> bool:
        """Whether the loss is a classification loss (softmax cross-entropy, binary cross-entropy, hinge), which
        reports accuracy."""
        return self.loss in CLASSIFICATION_LOSSES

    @property
    def optimizer(self) -> Optimizer | None:
        """The optimizer the model trains with (the last one given to ``fit``/``train_step``, or loaded with it).
        Its ``lr`` is the base rate a schedule starts from; callbacks such as ReduceLROnPlateau change it."""
        return self._optimizer

    def config(self) -> dict[str, Any]:
        """The JSON-able description of the model (architecture and training configuration).

        Returns
        -------
        dict
            ``layers`` (each layer's ``config()``), ``input_dim``, ``loss``, ``l1``, ``l2``, ``dtype``, ``seed`` and
            ``penalty_per_sample``; ``from_config`` makes a model of the same architecture from it (with fresh
            weights: the weights are not part of the config).
        """
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
        """A new model from ``config()``: the same architecture and settings, with fresh initial weights.

        Parameters
        ----------
        config : dict
            What ``config()`` returns (``l1``, ``l2``, ``dtype``, ``seed``, ``input_dim`` and
            ``penalty_per_sample`` may be left out for their defaults).

        Returns
        -------
        Sequential
            Built when ``config["input_dim"]`` is set.

        Raises
        ------
        KeyError
            If ``layers`` or ``loss`` is missing.
        TypeError, ValueError
            If an entry is not valid (as ``Sequential`` and ``layer_from_config`` check).
        """
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
    def copy(self, dtype: FloatDType | None = None) -> Sequential:
        """An independent copy: the same weights, optimizer (a copy of the object) and its state, and counters,
        so the copy trains on exactly as the original would.

        Parameters
        ----------
        dtype : {"float32", "float64"}, optional
            Convert the copy (parameters and optimizer state) to this dtype; the model's own by default.

        Returns
        -------
        Sequential
            The copy (unbuilt when the model is).

        Raises
        ------
        TypeError, ValueError
            If ``dtype`` is not float32 or float64.
        """
        config = self.config()
        target = config["dtype"] if dtype is None else check_dtype(dtype).name
        clone = Sequential.from_config({**config, "dtype": target, "input_dim": None})
        if self._engine is not None:
            if target == self.dtype:
                clone._engine = self._engine.copy()
            else:
                tensors, meta = self._engine.state_dict(True)
                clone.build(int(self._engine.input_dim))
                clone._require_built().load_state_dict(
                    {name: engine_array(array, np.dtype(target)) for name, array in tensors.items()}, meta
                )
        clone._optimizer = copy_module.copy(self._optimizer)
        return clone

    def summary(self, print_fn: Callable[[str], Any] | None = None, *, file: Any = None) -> None:
        """Print the layers, their output shapes and parameter counts (Keras' ``summary``: prints, returns None).

        Parameters
        ----------
        print_fn : callable (str) -> Any, optional
            Receives the whole table as one string instead of printing it (e.g. ``lines.append``).
        file : file-like, optional
            The stream to print to (default ``sys.stdout``).
        """
        text = self._summary_text()
        if print_fn is not None:
            print_fn(text)
        else:
            print(text, file=file)

    def _summary_text(self) -> str:
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
        return "\n".join(lines)

    def __repr__(self) -> str:
        layers = ", ".join(map(repr, self.layers))
        return f"Sequential([{layers}], input_dim={self.input_dim}, loss={self.loss!r}, dtype={self.dtype!r}, seed={self.seed})"

    # ---- state: files, pickling, state_dict -----------------------------------------------------------------

    @keywords()
    def save(self, path: Any, include_optimizer: bool = True) -> None:
        """Write the model as a safetensors file, atomically (a temporary file, then a rename).

        The file holds the weights as tensors and, in its metadata, the architecture, the counters and (unless
        ``include_optimizer=False``) the optimizer and its state, so that ``ferronet.load`` then ``fit``
        continues bit-identically. An unbuilt model saves its architecture only.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (its directory must exist).
        include_optimizer : bool, default True
            Store the optimizer and its state.

        Raises
        ------
        TypeError
            If an argument has the wrong type.
        OSError
            If the file cannot be written (an existing file is left as it was).
        """
        data = self._to_bytes(include_optimizer)  # fails before any file is touched
        _files.atomic_write(path, data)

    @_locked
    def _to_bytes(self, include_optimizer: bool = True, metadata: dict[str, str] | None = None) -> bytes:
        """The model as the bytes of a model file (what ``save`` writes; pickling uses it too). ``metadata`` adds
        string entries of the caller's own to the file's metadata (the scikit-learn estimators' state)."""
        include_optimizer = check_bool(include_optimizer, "include_optimizer")
        if self._engine is None:
            return bytes(_core.unbuilt_model_file(json.dumps(self.config())))
        return bytes(self._engine.to_file_bytes(include_optimizer, metadata))

    @classmethod
    def _from_bytes(cls, data: bytes, source: str = "model bytes") -> Sequential:
        """The model in ``data`` (a model file's bytes); errors name it as ``source``."""
        return cls._from_bytes_with_metadata(data, source)[0]

    @classmethod
    def _from_bytes_with_metadata(cls, data: bytes, source: str = "model bytes") -> tuple[Sequential, dict[str, str]]:
        """The model in ``data`` and the metadata entries that are not the engine's (see ``_to_bytes``)."""
        check_model_bytes(data, source)  # another format (a torch checkpoint...) is named before the engine reads
        return cls._from_file_parts(_core.read_model_file(data, source), source)

    @classmethod
    def _from_path_with_metadata(cls, path: Any, source: str) -> tuple[Sequential, dict[str, str]]:
        """The model in the file ``path`` and its metadata entries. A safetensors file goes to the engine open, which
        reads each tensor straight into the model (peak memory: the model plus its header); anything else is read
        whole, so that its format can be named."""
        with _files.open_regular(path) as file:
            try:
                head = file.read(SAFETENSORS_HEAD)
                if not is_safetensors(head):
                    # One copy of the bytes, read by the raw file (a buffered read would join two copies).
                    raw = cast(io.FileIO, file.raw)
                    raw.seek(0)
                    return cls._from_bytes_with_metadata(raw.readall(), source)
            except OSError as error:
                raise _files.read_error(error, path) from None
            parts = _core.read_model_fd(file.fileno(), source)
        return cls._from_file_parts(parts, source)

    @classmethod
    def _from_file_parts(
        cls, parts: tuple[str, Any, str | None, dict[str, str]], source: str
    ) -> tuple[Sequential, dict[str, str]]:
        """A model from what the engine read out of a model file."""
        config_json, engine, optimizer_json, metadata = parts
        config = json.loads(config_json)
        try:
            model = cls.from_config({**config, "input_dim": None})
            optimizer = None if optimizer_json is None else optimizer_from_config(json.loads(optimizer_json))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source} holds an invalid model config: {error}") from None
        model._engine = engine
        model._optimizer = optimizer
        return model, dict(metadata)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (joblib, distributed engines) goes through the same safe bytes as files, optimizer included.
        return (_from_pickle, (self._to_bytes(include_optimizer=True),))

    @_locked
    def state_dict(self, include_optimizer: bool = True) -> dict[str, Any]:
        """The model's whole state, as copies.

        Parameters
        ----------
        include_optimizer : bool, default True
            Include the optimizer's configuration and state.

        Returns
        -------
        dict
            ``{"tensors": {name: array}, "meta": {"counters": ..., "optimizer": ...}}`` with the model file's
            tensor names (``layers.0.W``, ``optimizer.0.W.exp_avg`` ...).

        Raises
        ------
        ValueError
            If the model is not built.
        """
        include_optimizer = check_bool(include_optimizer, "include_optimizer")
        tensors, meta = self._require_built().state_dict(include_optimizer)
        return {"tensors": dict(tensors), "meta": json.loads(meta)}

    @_locked
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the whole state with one from ``state_dict``, all or nothing.

        Parameters
        ----------
        state : dict
            What ``state_dict`` returned, from a model of the same architecture (arrays are converted to this
            model's dtype); its optimizer, when it holds one, becomes this model's optimizer.

        Raises
        ------
        TypeError
            If ``state`` does not have the structure ``state_dict`` returns.
        ValueError
            If the model is not built, or a tensor is missing, misshapen or not finite.
        """
        engine = self._require_built()
        if not isinstance(state, dict) or set(state) != {"tensors", "meta"}:
            raise TypeError("state must be a dict with 'tensors' and 'meta', as state_dict() returns")
        tensors = state["tensors"]
        if not isinstance(tensors, dict):
            raise TypeError("state['tensors'] must be a dict of arrays")
        converted = {}
        for name, value in tensors.items():
            array = engine_array(as_array(value, f"state['tensors'][{name!r}]"), np.dtype(self.dtype))
            require_finite(array, f"state['tensors'][{name!r}]")
            converted[name] = array
        meta = state["meta"]
        optimizer_meta = meta.get("optimizer") if isinstance(meta, dict) else None
        optimizer = None
        if optimizer_meta:
            stored = optimizer_meta.get("config") or optimizer_meta.get("engine")
            optimizer = optimizer_from_config(stored) if stored else None
        engine.load_state_dict(converted, json.dumps(meta))
        self._optimizer = optimizer

    # ---- export: ONNX and PyTorch (optional dependencies, loaded on use) --------------------------------------

    def to_onnx(self, path: Any = None, *, opset: int | None = None, dtype: DTypeName | None = None) -> Any:
        """The model as a standard ONNX graph (inference form); see ``ferronet.onnx.to_onnx``.

        Needs ``pip install "ferronet[onnx]"``.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Also write the graph to this ``.onnx`` file (atomically).
        opset : int, optional
            The ONNX opset (default ``ferronet.onnx.DEFAULT_OPSET``).
        dtype : {"float32", "float64"}, optional
            The float type of the graph; the model's by default.

        Returns
        -------
        onnx.ModelProto
            The checked graph.

        Raises
        ------
        ImportError
            If onnx is not installed.
        ValueError
            If the model is not built or an argument is not allowed.
        """
        from ._onnx_export import to_onnx

        return to_onnx(self, path, opset=opset, dtype=dtype)

    def to_torch(self) -> Any:
        """A ``torch.nn.Sequential`` in eval mode computing what ``forward`` computes (needs PyTorch).

        Returns
        -------
        torch.nn.Sequential
            See ``ferronet.torch_interop.to_torch``.

        Raises
        ------
        ImportError
            If PyTorch is not installed.
        ValueError
            If the model is not built.
        """
        from .torch_interop import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(
        cls,
        module: Any,
        *,
        loss: LossName | None = None,
        input_dim: int | None = None,
        dtype: FloatDType | None = None,
        seed: int | None = 0,
    ) -> Sequential:
        """A model with the layers and weights of a ``torch.nn.Sequential`` (needs PyTorch).

        The module may hold Linear, ReLU, LeakyReLU(0.01), Sigmoid, Tanh, Identity, BatchNorm1d, Dropout and a last
        Softmax; see ``ferronet.torch_interop`` for the correspondence.

        Parameters
        ----------
        module : torch.nn.Sequential
            The network to import (nested Sequentials are flattened).
        loss : {"softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"}, optional
            Defaults to what the last activation implies (softmax → softmax cross-entropy, sigmoid → binary
            cross-entropy, none → mse).
        input_dim : int, optional
            The input width, needed only when the module starts with a layer that does not tell it.
        dtype : {"float32", "float64"}, optional
            Defaults to the module's parameter dtype.
        seed : int or None, default 0
            The new model's seed (shuffles and dropout masks when training on).

        Returns
        -------
        Sequential
            A built model computing what the module computes.

        Raises
        ------
        ImportError
            If PyTorch is not installed.
        ValueError
            If the module holds a layer ferronet has no counterpart for, or widths or settings do not match.
        """
        if input_dim is not None:
            input_dim = check_int(input_dim, "input_dim", minimum=1, maximum=MAX_UNITS)
        seed = check_seed(seed)
        from .torch_interop import from_torch_layers

        imported = from_torch_layers(module, loss=loss, input_dim=input_dim, dtype=dtype)
        model = cls(imported.layers, input_dim=imported.input_dim, loss=imported.loss, dtype=imported.dtype, seed=seed)
        model.set_weights(imported.weights)
        return model

    # ---- parameters ----------------------------------------------------------------------------------------

    @_locked
    def get_weights(self) -> list[dict[str, np.ndarray]]:
        """Copies of the parameters.

        Returns
        -------
        list of dict
            One dict per layer: ``{"W": (fan_in, fan_out), "b": (fan_out,)}`` for Dense, ``gamma``, ``beta``,
            ``running_mean`` and ``running_var`` for BatchNorm, ``{}`` for the others.

        Raises
        ------
        ValueError
            If the model is not built.
        """
        return list(self._require_built().get_weights())

    @_locked
    def set_weights(self, weights: Sequence[dict[str, Any]]) -> None:
        """Replace the parameters; everything is checked before anything changes.

        Parameters
        ----------
        weights : sequence of dict
            The structure ``get_weights`` returns: one dict per layer with exactly its arrays, of the same shapes
            (converted to the model's dtype), finite, and ``running_var`` >= 0.

        Raises
        ------
        TypeError
            If ``weights`` does not have that structure.
        ValueError
            If the model is not built, or an array is missing, misshapen or not finite.
        """
        engine = self._require_built()
        if not isinstance(weights, Sequence) or isinstance(weights, (str, bytes, dict)):
            raise TypeError("weights must be a list with one dict per layer, as get_weights() returns")
        if len(weights) != len(self.layers):
            raise ValueError(f"weights must hold one dict per layer ({len(self.layers)}); got {len(weights)}")
        converted = []
        for index, (layer_weights, shapes) in enumerate(zip(weights, self._weight_shapes(), strict=True)):
            if not isinstance(layer_weights, dict):
                raise TypeError(f"weights[{index}] must be a dict; got {type(layer_weights).__name__}")
            if set(layer_weights) != set(shapes):
                missing = sorted(set(shapes) - set(layer_weights))
                if missing and set(layer_weights) < set(shapes):
                    raise ValueError(f"weights[{index}][{missing[0]!r}] is missing")
                raise ValueError(
                    f"weights[{index}] must have exactly the keys {sorted(shapes)}; got {sorted(layer_weights)}"
                )
            arrays = {}
            for name, value in layer_weights.items():
                what = f"weights[{index}][{name!r}]"
                array = engine_array(as_array(value, what), np.dtype(self.dtype))
                if array.shape != shapes[name]:
                    raise ValueError(f"{what} must have shape {shapes[name]}; got {array.shape}")
                require_finite(array, what)
                if name == "running_var" and array.size and array.min() < 0:
                    raise ValueError(f"{what} must be >= 0; got {array.min()}")
                arrays[name] = array
            converted.append(arrays)
        engine.set_weights(converted)

    def _weight_shapes(self) -> list[dict[str, tuple[int, ...]]]:
        """Per layer, the shape of each array ``get_weights`` returns (the model must be built)."""
        width = self._require_built().input_dim
        shapes: list[dict[str, tuple[int, ...]]] = []
        for layer in self.layers:
            if isinstance(layer, Dense):
                shapes.append({"W": (width, layer.units), "b": (layer.units,)})
                width = layer.units
            elif isinstance(layer, BatchNorm):
                shapes.append({name: (width,) for name in ("gamma", "beta", "running_mean", "running_var")})
            else:
                shapes.append({})
        return shapes

    # ---- inputs --------------------------------------------------------------------------------------------

    def _features(
        self, X: Any, *, allow_empty: bool = False, build: bool = False, check_finite: bool = True, name: str = "X"
    ) -> np.ndarray | SparseRows:
        """X checked and converted for the engine: a C-contiguous matrix, or ``SparseRows`` for a SciPy CSR/CSC X
        (never densified; the first layer must then be Dense)."""
        dtype = np.dtype(self.dtype)
        n_features = None if build and self._engine is None else self._require_built().input_dim
        features = check_any_features(
            X, name, dtype, n_features=n_features, allow_empty=allow_empty, check_finite=check_finite
        )
        if isinstance(features, SparseRows) and not isinstance(self.layers[0], Dense):
            raise ValueError(
                f"{name} is sparse, so the first layer must be a Dense layer (it multiplies the sparse rows without "
                f"densifying them); this model starts with {self.layers[0]!r}. Put it after a first Dense layer, use "
                f"Dense(..., dropconnect=p) for dropout on the inputs, or pass {name}.toarray()"
            )
        if n_features is None:
            self.build(features.shape[1])
        return features

    def _targets(self, y: Any, n_rows: int, name: str = "y") -> np.ndarray:
        """Targets in the form the loss needs: int64 labels, or a float matrix of the model's dtype."""
        outputs = self.output_dim
        if self.loss in LABEL_LOSSES:
            array = as_array(y, name)
            if array.ndim == 2 and array.shape == (n_rows, 1) and outputs != 1:
                array = array[:, 0]  # a column of labels (e.g. a one-column DataFrame)
            if array.ndim == 2:
                if array.shape != (n_rows, outputs):
                    raise ValueError(
                        f"{name} must be labels of shape ({n_rows},) or one-hot of shape ({n_rows}, {outputs}); "
                        f"got {array.shape}"
                    )
                if not (np.isin(array, (0, 1)).all() and (array.sum(axis=1) == 1).all()):
                    raise ValueError(
                        f"a 2-D {name} must be one-hot: each row one 1 and zeros elsewhere (or pass integer labels)"
                    )
                return np.ascontiguousarray(array.argmax(axis=1), dtype=np.int64)
            return check_labels(array, name, n_samples=n_rows, n_classes=outputs)
        array = as_array(y, name)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2 or array.shape != (n_rows, outputs):
            raise ValueError(
                f"{name} must have shape ({n_rows}, {outputs}) (or ({n_rows},) for one output) for {self.loss}; "
                f"got {np.shape(y)}"
            )
        targets = engine_array(array, np.dtype(self.dtype))
        require_finite(targets, name)
        if self.loss == "binary_cross_entropy" and ((targets < 0) | (targets > 1)).any():
            raise ValueError(f"{name} must hold values in [0, 1] for binary_cross_entropy")
        if self.loss == "poisson" and (targets < 0).any():
            raise ValueError(
                f"{name} must hold values >= 0 for poisson (counts or rates); got a minimum of {targets.min()}"
            )
        return targets

    def _batch(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        build: bool = False,
        check_finite: bool = True,
        names: tuple[str, str, str] = ("X", "y", "sample_weight"),
    ) -> tuple[np.ndarray | SparseRows, np.ndarray, np.ndarray | None]:
        x_name, y_name, w_name = names
        if x_name == "X":
            features = self._features(X, build=build, check_finite=check_finite)
        else:
            features = self._features(X, name=x_name)
        targets = self._targets(y, features.shape[0], y_name)
        weights = check_sample_weight(sample_weight, features.shape[0], np.dtype(self.dtype), w_name)
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

    # ---- inference -----------------------------------------------------------------------------------------

    @_locked
    def forward(self, X: Any, training: bool = False) -> np.ndarray:
        """The last layer's output for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.
        training : bool, default False
            Apply the dropout masks of the current step and BatchNorm batch statistics (and update nothing).

        Returns
        -------
        numpy.ndarray of shape (n_samples, output_dim)
            The last layer's activations: probabilities when it ends in softmax or sigmoid (even when the loss
            fuses them), else its linear output.

        Raises
        ------
        ValueError
            If the model is not built, or ``X`` has the wrong width or non-finite values.
        """
        features = self._features(X, allow_empty=not training)
        return self._require_built().forward(features, check_bool(training, "training"), False)

    @_locked
    def _logits(self, X: Any) -> np.ndarray:
        features = self._features(X, allow_empty=True)  # raises a clear ValueError when the model is not built
        return self._require_built().forward(features, False, True)

    @keywords(hints=PREDICT_HINTS)
    def predict(self, X: Any) -> np.ndarray:
        """Predictions for ``X``, in inference mode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Class indices (int64, (n,)) for softmax cross-entropy and hinge; 0/1 per output (int64) for binary
            cross-entropy; values for mse; means ``exp(output)`` for poisson. Single-output models return shape
            (n,), others (n, outputs).

        Raises
        ------
        ValueError
            If the model is not built, or ``X`` has the wrong width or non-finite values.
        """
        logits = self._logits(X)
        if self.loss in LABEL_LOSSES:
            return logits.argmax(axis=1).astype(np.int64) if logits.shape[0] else np.zeros(0, np.int64)
        if self.loss == "binary_cross_entropy":
            labels: np.ndarray = (logits > 0).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        if self.loss in LOG_LINK_LOSSES:
            logits = np.exp(logits)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    @keywords(hints=PREDICT_HINTS)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities for ``X``, in inference mode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Softmax over the outputs (softmax cross-entropy), or sigmoids (binary cross-entropy; a single output
            gives the two columns ``[1 - p, p]``).

        Raises
        ------
        ValueError
            If the loss is not softmax or binary cross-entropy, the model is not built, or ``X`` is not valid.
        """
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

    @keywords(hints=PREDICT_HINTS)
    @_locked
    def evaluate(self, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """The objective and, for classifiers, the accuracy on (X, y), in inference mode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.
        y : array-like
            The targets, as ``fit`` takes them.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the samples in the mean.

        Returns
        -------
        dict
            ``{"loss": mean data loss + penalty}`` plus ``"accuracy"`` for classifiers.

        Raises
        ------
        ValueError
            If the model is not built or the data is not valid.
        """
        features, targets, weights = self._batch(X, y, sample_weight)
        loss, correct = self._require_built().evaluate(features, targets, weights)
        result = {"loss": float(loss)}
        if self.is_classifier:
            result["accuracy"] = float(correct) / features.shape[0]
        return result

    @_locked
    def gradients(self, X: Any, y: Any, sample_weight: Any = None) -> list[dict[str, np.ndarray]]:
        """The gradient of the objective with respect to each parameter on (X, y), in training mode, without
        updating anything.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.
        y : array-like
            The targets, as ``fit`` takes them.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the samples in the mean.

        Returns
        -------
        list of dict
            The structure of ``get_weights`` (BatchNorm gives ``"gamma"`` and ``"beta"`` only).

        Raises
        ------
        ValueError
            If the model is not built or the data is not valid.
        """
        features, targets, weights = self._batch(X, y, sample_weight)
        return list(self._require_built().gradients(features, targets, weights)[1])

    @_locked
    def _objective(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The training-mode objective that ``gradients`` differentiates (for gradient checks)."""
        features, targets, weights = self._batch(X, y, sample_weight)
        return float(self._require_built().gradients(features, targets, weights)[0])

    @_locked
    def _trace(self, X: Any, y: Any, sample_weight: Any = None) -> dict[str, Any]:
        """One batch in training mode without any update: the objective, each layer's output, d loss / d output
        per layer and the parameter gradients (for diagnostics)."""
        features, targets, weights = self._batch(X, y, sample_weight)
        return dict(self._require_built().trace(features, targets, weights))

    # ---- training ------------------------------------------------------------------------------------------

    def _choose_optimizer(self, optimizer: Any) -> tuple[Optimizer, bool]:
        """The optimizer to train with and whether its state starts fresh (a different optimizer object)."""
        chosen = get_optimizer(optimizer) if optimizer is not None else (self._optimizer or SGD())
        return chosen, chosen is not self._optimizer

    @keywords(hints=FIT_HINTS)
    @_locked
    def train_step(
        self, X: Any, y: Any, optimizer: Optimizer | OptimizerName | None = None, sample_weight: Any = None
    ) -> float:
        """One update on one batch (built from ``X`` when needed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch.
        y : array-like
            The targets, as ``fit`` takes them.
        optimizer : Optimizer or {"sgd", "adam", "rmsprop"}, optional
            As in ``fit``: defaults to the optimizer used last (or ``SGD()``).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the samples in the mean.

        Returns
        -------
        float
            The objective at the weights before the update.

        Raises
        ------
        FloatingPointError
            If the loss is not finite (nothing changes, the optimizer included).
        TypeError, ValueError
            If an argument is not valid.
        """
        with self._unbuilt_on_error():
            features, targets, weights = self._batch(X, y, sample_weight, build=True)
            chosen, reset = self._choose_optimizer(optimizer)
            loss, _ = self._require_built().train_step(features, targets, weights, json.dumps(chosen.config()), reset)
        self._optimizer = chosen
        return float(loss)

    @keywords(hints=FIT_HINTS)
    @_locked
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 1,
        batch_size: int = 32,
        optimizer: Optimizer | OptimizerName | None = None,
        schedule: Schedule | Callable[[int, float], float] | None = None,
        shuffle: bool = True,
        validation_data: tuple[Any, ...] | None = None,
        validation_split: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        progress: Progress = False,
        sample_weight: Any = None,
        verbose: Verbosity = 0,
        callbacks: Sequence[Callback] | None = None,
        initial_epoch: int | None = None,
    ) -> History:
        """Train on (X, y); whole epochs run in Rust with the GIL released.

        Parameters
        ----------
        X, y : array-like (X also a SciPy CSR or CSC sparse matrix or array)
            Samples (n, features) and targets: class labels of shape (n,) or (n, 1), or one-hot (n, classes),
            for softmax cross-entropy and hinge; (n,) or (n, outputs) values for mse, binary cross-entropy (in
            [0, 1]) and poisson (>= 0).
        epochs : int, default 1
            As in Keras: the index of the last epoch when ``initial_epoch`` is given (epochs ``initial_epoch``
            to ``epochs - 1`` run); otherwise the number of epochs to run.
        batch_size : int, default 32
            Rows per update (the last batch of an epoch may be smaller).
        optimizer : Optimizer or {"sgd", "adam", "rmsprop"}, optional
            Defaults to the optimizer used last (or ``SGD()``); the same object keeps its state, a new one starts
            fresh state.
        schedule : Schedule or callable (epoch, lr0) -> lr, optional
            The learning rate of each epoch from the optimizer's ``lr``.
        shuffle : bool, default True
            Shuffle the rows every epoch (a permutation drawn from the seed and the epoch index).
        validation_data : (X_val, y_val) or (X_val, y_val, sample_weight), optional
            Evaluated at the end of every epoch (``val_loss``, ``val_accuracy``).
        validation_split : float, default 0.0
            Holds out the last fraction of the rows (before shuffling, as Keras does); in ``[0, 1)``.
        early_stopping : EarlyStopping, optional
            The same as passing it in ``callbacks``.
        progress : bool or "auto", default False
            A tqdm bar per epoch ("auto": when stderr is a terminal).
        sample_weight : array-like of shape (n,), optional
            Non-negative weights of the samples in each batch's mean.
        verbose : {0, 1, 2, True, False, "auto"}, default 0
            Keras' meaning: 0 silent, 1 a progress bar, 2 a line per epoch (True: a line per epoch).
        callbacks : list of Callback, optional
            Called between epochs (see ``ferronet.callbacks``).
        initial_epoch : int, optional
            The index of the first epoch (for schedules, callbacks, the history). Without it the index continues
            from the epochs already trained with this optimizer, so ``fit(epochs=2)`` then
            ``fit(epochs=4, initial_epoch=2)`` — or ``fit(epochs=2)`` twice — trains exactly as ``fit(epochs=4)``.

        Returns
        -------
        History
            ``history.history`` maps "loss" (and "accuracy", "val_*", "lr", "epoch_seconds") to per-epoch values.

        Raises
        ------
        ValueError, TypeError
            For bad arguments, before anything changes.
        FloatingPointError
            When the loss stops being finite (unless a TerminateOnNaN callback stops training instead).

        Any exception (bad input, divergence, Ctrl-C, an error in a callback) leaves the weights, the optimizer
        and its state exactly as they were before the call.
        """
        epochs = check_int(epochs, "epochs", minimum=0)
        if initial_epoch is not None:
            initial_epoch = check_int(initial_epoch, "initial_epoch", minimum=0)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        shuffle = check_bool(shuffle, "shuffle")
        verbosity = check_verbose(verbose)
        validation_split = check_float(
            validation_split, "validation_split", minimum=0.0, maximum=1.0, max_inclusive=False
        )
        callback_list = check_callbacks(callbacks)
        if early_stopping is not None:
            if not isinstance(early_stopping, EarlyStopping):
                raise TypeError(
                    instance_hint(early_stopping, EarlyStopping, "early_stopping")
                    or f"early_stopping must be a ferronet.EarlyStopping; got {type(early_stopping).__name__}"
                )
            callback_list.append(early_stopping)
        chosen, reset = self._choose_optimizer(optimizer)
        if schedule is not None and (not callable(schedule) or instance_hint(schedule, Schedule, "schedule")):
            raise TypeError(
                instance_hint(schedule, Schedule, "schedule")
                or "schedule must be a ferronet.schedules.Schedule or a callable (epoch, lr0) -> lr"
            )
        show_progress = resolve_progress(progress) or (verbosity == 1 and _tqdm_available())

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
                validation = self._batch(
                    X_val,
                    y_val,
                    weight_val[0] if weight_val else None,
                    names=("validation_data X", "validation_data y", "validation_data sample_weight"),
                )
            elif validation_split:
                n_val = math.floor(features.shape[0] * validation_split)
                if n_val < 1 or n_val >= features.shape[0]:
                    raise ValueError(
                        f"validation_split={validation_split} of {features.shape[0]} rows leaves no validation or no training rows"
                    )
                cut = features.shape[0] - n_val
                held_out = _rows(features, cut, features.shape[0])
                require_finite_features(held_out, "X")  # the held-out rows are not copied into the engine
                validation = (held_out, targets[cut:], None if weights is None else weights[cut:])
                features, targets = _rows(features, 0, cut), targets[:cut]
                weights = None if weights is None else weights[:cut]
            for callback in callback_list:
                for monitor in callback.required_metrics():
                    if monitor.startswith("val_") and validation is None:
                        raise ValueError(
                            f"{type(callback).__name__} monitors {monitor!r}, which needs validation_data or "
                            "validation_split"
                        )
                    if monitor.endswith("accuracy") and not self.is_classifier:
                        raise ValueError(
                            f"{type(callback).__name__} monitors {monitor!r}, which needs a classification loss; "
                            f"this model uses {self.loss}"
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
            # The first epochs' rates are checked before any change (only the first ones: a huge ``epochs`` cut
            # short by early stopping must not wait on, or fill memory with, one rate per epoch).
            if schedule is not None:
                # the index of the first epoch: where this optimizer's epochs continue, or initial_epoch
                first = initial_epoch
                if first is None:
                    first = 0 if reset else int(self._require_built().counters["optimizer_epochs"])
                for epoch in range(first, first + min(epochs, PRECHECKED_EPOCHS)):
                    learning_rate(schedule, epoch, chosen.lr)
            self._require_fit_memory(features, targets, batch_size, chosen)
            run = TrainingRun(
                self,
                features,
                targets,
                weights,
                optimizer=chosen,
                reset_optimizer=reset,
                batch_size=batch_size,
                shuffle=shuffle,
                validation=validation,
                schedule=schedule,
                callbacks=callback_list,
                show_progress=show_progress,
                verbose=verbosity,
            )
            del features  # the engine holds its own copy now
        with run:
            return run.fit(epochs, initial_epoch)

    def _training_run(
        self,
        features: Any,
        targets: Any,
        weights: Any,
        *,
        optimizer: Any,
        batch_size: int,
        shuffle: bool,
    ) -> TrainingRun:
        """A training run over (features, targets, weights) for a caller that drives the epochs itself (the
        scikit-learn estimators): the data is checked and copied into the engine once."""
        with self._unbuilt_on_error():
            features, targets, weights = self._batch(features, targets, weights, build=True, check_finite=False)
            chosen, reset = self._choose_optimizer(optimizer)
            return TrainingRun(
                self,
                features,
                targets,
                weights,
                optimizer=chosen,
                reset_optimizer=reset,
                batch_size=check_int(batch_size, "batch_size", minimum=1),
                shuffle=check_bool(shuffle, "shuffle"),
            )


def _rows(features: np.ndarray | SparseRows, start: int, stop: int) -> np.ndarray | SparseRows:
    """Rows ``start:stop`` of either kind of features (no copy)."""
    return features.row_block(start, stop) if isinstance(features, SparseRows) else features[start:stop]


def _from_pickle(data: bytes) -> Sequential:
    return Sequential._from_bytes(data, "pickled model")


def _tqdm_available() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _describe_layer(layer: Layer) -> str:
    if isinstance(layer, Dense):
        extra = f", dropconnect={layer.dropconnect}" if layer.dropconnect else ""
        return f"{layer.units}, {layer.activation}{extra}"
    if isinstance(layer, Activation):
        return layer.activation
    config = layer.config()
    return ", ".join(f"{k}={v}" for k, v in config.items() if k != "kind")
