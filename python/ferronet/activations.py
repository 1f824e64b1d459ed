"""The activation functions ferronet knows, by name.

Each is computed in the Rust engine (``rust/kernels/activation.rs``); ``ferronet.reference.activations`` is the
NumPy twin. Backward passes take the forward *output*, from which every derivative here can be computed.
"""

from __future__ import annotations

#: Names accepted by ``Dense(activation=...)`` and ``Activation(...)``.
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax")

#: Slope of ``leaky_relu`` for negative inputs.
LEAKY_RELU_SLOPE = 0.01

#: The default weight init for each activation: He for the ReLU family, Glorot (Xavier) for the rest.
DEFAULT_INIT = {"relu": "he", "leaky_relu": "he"}


def default_init(activation: str) -> str:
    return DEFAULT_INIT.get(activation, "xavier")
