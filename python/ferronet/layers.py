"""Layer descriptions for ``Sequential``: plain configuration objects.

They hold no parameters: the Rust engine owns those once the model is built. ``config()`` is the JSON-able
description used by the engine, the NumPy reference and saved model files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ._names import keywords
from ._validation import check_choice, check_float, check_int, check_probability
from .activations import ACTIVATIONS, default_init

INITS = ("he", "xavier", "xavier_uniform", "lecun", "uniform", "small", "zeros")

#: Largest layer width accepted: guards against accidental huge allocations (10**12 units).
MAX_UNITS = 1 << 24

#: Keras and torch arguments of layers that ferronet spells differently or puts elsewhere.
_INPUT_HINT = "the number of input features is Sequential's: Sequential([...], input_dim=N)"
_DENSE_HINTS = {
    "input_dim": _INPUT_HINT,
    "input_shape": _INPUT_HINT,
    "in_features": _INPUT_HINT,
    "out_features": "the number of outputs is units: Dense(units)",
    "kernel_initializer": f"ferronet's name is init, one of {', '.join(map(repr, INITS))}",
    "kernel_regularizer": "the L1/L2 penalties are Sequential's: Sequential(..., l2=...)",
    "use_bias": "a Dense layer always has a bias",
    "bias": "a Dense layer always has a bias",
}


class Layer(ABC):
    """Base class: a layer is its configuration."""

    kind: str = "layer"

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The JSON-able description of this layer, with its "kind"."""

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "kind")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layer) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.config().items())))


class Dense(Layer):
    """A fully connected layer ``z = x @ W + b`` followed by an optional activation.

    ``init=None`` picks He for relu/leaky_relu and Glorot normal ("xavier") otherwise. ``dropconnect=p`` drops
    each weight with probability p while training (a fresh mask per batch, kept weights scaled by 1/(1-p)).
    """

    kind = "dense"

    @keywords(hints=_DENSE_HINTS)
    def __init__(self, units: int, activation: str | None = None, init: str | None = None, dropconnect: float = 0.0):
        self.units = check_int(units, "units", minimum=1, maximum=MAX_UNITS)
        self.activation = "linear" if activation is None else check_choice(activation, "activation", ACTIVATIONS)
        self.init = default_init(self.activation) if init is None else check_choice(init, "init", INITS)
        self.dropconnect = check_probability(dropconnect, "dropconnect")

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "units": self.units,
            "activation": self.activation,
            "init": self.init,
            "dropconnect": self.dropconnect,
        }


class Activation(Layer):
    """An activation as its own layer (for example after BatchNorm)."""

    kind = "activation"

    @keywords()
    def __init__(self, activation: str):
        self.activation = check_choice(activation, "activation", ACTIVATIONS)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "activation": self.activation}


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability p and scale the rest by 1/(1-p)."""

    kind = "dropout"

    @keywords(aliases={"rate": "p"})
    def __init__(self, p: float = 0.5, *, rate: float | None = None):
        self.p = check_probability(p, "p")

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "p": self.p}


class BatchNorm(Layer):
    """Batch normalization with torch.nn.BatchNorm1d semantics.

    ``momentum`` is the keep factor of the running averages (ours 0.9 = torch's 0.1):
    ``running = momentum * running + (1 - momentum) * batch_statistic``.
    """

    kind = "batchnorm"

    @keywords(aliases={"epsilon": "eps"})
    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, *, epsilon: float | None = None):
        self.momentum = check_float(
            momentum, "momentum", minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False
        )
        self.eps = check_float(eps, "eps", minimum=0.0, min_inclusive=False)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "momentum": self.momentum, "eps": self.eps}


LAYER_TYPES = {cls.kind: cls for cls in (Dense, Activation, Dropout, BatchNorm)}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``Layer.config()`` (used by saved files and the reference)."""
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"a layer config must be a dict with a 'kind' key; got {config!r}")
    kind = check_choice(config["kind"], "layer kind", LAYER_TYPES)
    arguments = {key: value for key, value in config.items() if key != "kind"}
    try:
        return LAYER_TYPES[kind](**arguments)
    except TypeError as error:
        raise ValueError(f"bad {kind} layer config {config!r}: {error}") from None
