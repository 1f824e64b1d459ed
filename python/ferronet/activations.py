"""The activation functions ferronet knows, by name.

Each is computed in the Rust engine (``rust/kernels/activation.rs``); ``ferronet.reference.activations`` is the
NumPy twin. Backward passes take the forward *output*, from which every derivative here can be computed.
"""

from __future__ import annotations

from typing import get_args

from ._types import ActivationName, InitName

#: Names accepted by ``Dense(activation=...)`` and ``Activation(...)``: the values of ``ActivationName``.
ACTIVATIONS: tuple[ActivationName, ...] = get_args(ActivationName)

#: Slope of ``leaky_relu`` for negative inputs.
LEAKY_RELU_SLOPE = 0.01

#: The default weight init for each activation: He for the ReLU family, Glorot (Xavier) for the rest.
DEFAULT_INIT: dict[str, InitName] = {"relu": "he", "leaky_relu": "he"}


def default_init(activation: str) -> InitName:
    """The weight init ``Dense(init=None)`` uses for an activation.

    Parameters
    ----------
    activation : str
        An activation name (one of ``ACTIVATIONS``).

    Returns
    -------
    InitName
        ``"he"`` for ``"relu"`` and ``"leaky_relu"``, ``"xavier"`` (Glorot normal) for every other activation.

    Examples
    --------
    >>> default_init("relu"), default_init("tanh")
    ('he', 'xavier')
    """
    return DEFAULT_INIT.get(activation, "xavier")


__all__ = ["ACTIVATIONS", "DEFAULT_INIT", "LEAKY_RELU_SLOPE", "ActivationName", "default_init"]
