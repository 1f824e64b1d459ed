"""Layer descriptions for ``Sequential``: plain configuration objects.

They hold no parameters: the Rust engine owns those once the model is built. ``config()`` is the JSON-able
description used by the engine, the NumPy reference and saved model files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, get_args

from ._names import keywords
from ._types import ActivationName, InitName
from ._validation import check_choice, check_float, check_int, check_probability
from .activations import ACTIVATIONS, default_init

#: Names accepted by ``Dense(init=...)``: the values of ``InitName`` (formulas in docs/formulas.md).
INITS: tuple[InitName, ...] = get_args(InitName)

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
    """Base class of the layers: a layer is its configuration (the engine owns the parameters).

    Layers compare equal when their configurations are equal, and print as the call that makes them.
    """

    #: The layer's kind in configurations and saved files ("dense", "activation", "dropout", "batchnorm").
    kind: str = "layer"

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The JSON-able description of this layer.

        Returns
        -------
        dict
            ``{"kind": ..., **constructor arguments}``; ``layer_from_config`` rebuilds the layer from it.
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "kind")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layer) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.config().items())))


class Dense(Layer):
    """A fully connected layer ``z = x @ W + b`` followed by an optional activation.

    Parameters
    ----------
    units : int
        Output width (1 to ``MAX_UNITS``).
    activation : {"relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"}, optional
        Applied to ``z``; None means ``"linear"``. ``"softmax"`` is allowed on the last layer only.
    init : {"he", "xavier", "xavier_uniform", "lecun", "uniform", "small", "zeros"}, optional
        The weight initialization (docs/formulas.md); None picks He for relu/leaky_relu and Glorot normal
        ("xavier") otherwise (``activations.default_init``). Biases start at zero.
    dropconnect : float, default 0.0
        DropConnect: while training, drop each weight with probability ``dropconnect`` (a fresh mask per batch,
        kept weights scaled by ``1/(1-p)``); in ``[0, 1)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``units`` is out of range, a name is unknown or ``dropconnect`` is not in ``[0, 1)``.

    Examples
    --------
    >>> Dense(10, activation="relu")
    Dense(units=10, activation='relu', init='he', dropconnect=0.0)
    """

    kind = "dense"

    @keywords(hints=_DENSE_HINTS)
    def __init__(
        self,
        units: int,
        activation: ActivationName | None = None,
        init: InitName | None = None,
        dropconnect: float = 0.0,
    ):
        self.units = check_int(units, "units", minimum=1, maximum=MAX_UNITS)
        self.activation = "linear" if activation is None else check_choice(activation, "activation", ACTIVATIONS)
        self.init = default_init(self.activation) if init is None else check_choice(init, "init", INITS)
        self.dropconnect = check_probability(dropconnect, "dropconnect")

    def config(self) -> dict[str, Any]:
        """The JSON-able description of this layer.

        Returns
        -------
        dict
            ``{"kind": "dense", "units", "activation", "init", "dropconnect"}``.
        """
        return {
            "kind": self.kind,
            "units": self.units,
            "activation": self.activation,
            "init": self.init,
            "dropconnect": self.dropconnect,
        }


class Activation(Layer):
    """An activation as its own layer (for example after BatchNorm).

    Parameters
    ----------
    activation : {"relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"}
        The function applied element-wise (softmax: row-wise, last layer only).

    Raises
    ------
    TypeError, ValueError
        If ``activation`` is not one of the names.
    """

    kind = "activation"

    @keywords()
    def __init__(self, activation: ActivationName):
        self.activation = check_choice(activation, "activation", ACTIVATIONS)

    def config(self) -> dict[str, Any]:
        """The JSON-able description of this layer.

        Returns
        -------
        dict
            ``{"kind": "activation", "activation"}``.
        """
        return {"kind": self.kind, "activation": self.activation}


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability p and scale the rest by 1/(1-p).

    In inference (``predict``, ``evaluate``) the layer passes its input through unchanged.

    Parameters
    ----------
    p : float, default 0.5
        The drop probability, in ``[0, 1)``.
    rate : float, optional
        Keras' name for ``p`` (pass one or the other).

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not a number in ``[0, 1)``.
    """

    kind = "dropout"

    @keywords(aliases={"rate": "p"})
    def __init__(self, p: float = 0.5, *, rate: float | None = None):
        self.p = check_probability(p, "p")

    def config(self) -> dict[str, Any]:
        """The JSON-able description of this layer.

        Returns
        -------
        dict
            ``{"kind": "dropout", "p"}``.
        """
        return {"kind": self.kind, "p": self.p}


class BatchNorm(Layer):
    """Batch normalization with torch.nn.BatchNorm1d semantics.

    Training normalizes each feature with the batch's mean and (biased) variance, then scales by ``gamma`` and
    shifts by ``beta`` (learned, starting at 1 and 0); inference uses the running averages. A training batch needs
    at least 2 rows.

    Parameters
    ----------
    momentum : float, default 0.9
        The keep factor of the running averages (ours 0.9 = torch's 0.1), in ``(0, 1)``:
        ``running = momentum * running + (1 - momentum) * batch_statistic`` (the variance unbiased, n/(n-1)).
    eps : float, default 1e-5
        Added to the variance before the square root; > 0.
    epsilon : float, optional
        Keras' name for ``eps`` (pass one or the other).

    Raises
    ------
    TypeError, ValueError
        If an argument is not a number in its range.
    """

    kind = "batchnorm"

    @keywords(aliases={"epsilon": "eps"})
    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, *, epsilon: float | None = None):
        self.momentum = check_float(
            momentum, "momentum", minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False
        )
        self.eps = check_float(eps, "eps", minimum=0.0, min_inclusive=False)

    def config(self) -> dict[str, Any]:
        """The JSON-able description of this layer.

        Returns
        -------
        dict
            ``{"kind": "batchnorm", "momentum", "eps"}``.
        """
        return {"kind": self.kind, "momentum": self.momentum, "eps": self.eps}


#: Layer classes by ``kind``.
LAYER_TYPES = {cls.kind: cls for cls in (Dense, Activation, Dropout, BatchNorm)}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``Layer.config()`` (used by saved files and the reference).

    Parameters
    ----------
    config : dict
        A layer's ``config()``: its ``"kind"`` and its constructor arguments.

    Returns
    -------
    Layer
        A new ``Dense``, ``Activation``, ``Dropout`` or ``BatchNorm``.

    Raises
    ------
    ValueError
        If ``config`` is not a dict with a known ``"kind"``, or its arguments do not fit that layer.
    """
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"a layer config must be a dict with a 'kind' key; got {config!r}")
    kind = check_choice(config["kind"], "layer kind", LAYER_TYPES)
    arguments = {key: value for key, value in config.items() if key != "kind"}
    try:
        return LAYER_TYPES[kind](**arguments)
    except TypeError as error:
        raise ValueError(f"bad {kind} layer config {config!r}: {error}") from None


__all__ = [
    "INITS",
    "LAYER_TYPES",
    "MAX_UNITS",
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "Layer",
    "layer_from_config",
]
