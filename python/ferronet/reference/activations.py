"""Activation functions: ``*_forward(z) -> a`` and ``*_backward(grad, output) -> grad_input``.

Every derivative is computed from the forward *output* ``a``, as the Rust kernels do
(``rust/kernels/activation.rs``). Arrays are (samples, features); results keep the input dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numpy as np

from ..activations import LEAKY_RELU_SLOPE

_Kernel = TypeVar("_Kernel")


def relu_forward(z: np.ndarray) -> np.ndarray:
    """``max(z, 0)``."""
    return np.where(z > 0, z, z.dtype.type(0))


def relu_backward(grad: np.ndarray, output: np.ndarray) -> np.ndarray:
    """``grad`` where ``output > 0``, else 0."""
    return np.where(output > 0, grad, grad.dtype.type(0))


def leaky_relu_forward(z: np.ndarray, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    """``z`` where ``z > 0``, else ``z * slope``."""
    return np.where(z > 0, z, z * z.dtype.type(slope))


def leaky_relu_backward(grad: np.ndarray, output: np.ndarray, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    """``grad`` where ``output > 0``, else ``grad * slope``."""
    return np.where(output > 0, grad, grad * grad.dtype.type(slope))


def sigmoid_forward(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` for z >= 0 and ``e / (1 + e)`` with ``e = exp(z)`` for z < 0: never overflows."""
    e = np.exp(-np.abs(z))  # exp(-z) for z >= 0, exp(z) for z < 0; always in (0, 1]
    return cast(np.ndarray, np.where(z >= 0, 1 / (1 + e), e / (1 + e)))  # NumPy types ufunc results as Any


def sigmoid_backward(grad: np.ndarray, output: np.ndarray) -> np.ndarray:
    """``grad * a * (1 - a)``."""
    return cast(np.ndarray, grad * output * (1 - output))


def tanh_forward(z: np.ndarray) -> np.ndarray:
    """``tanh(z)``."""
    return cast(np.ndarray, np.tanh(z))


def tanh_backward(grad: np.ndarray, output: np.ndarray) -> np.ndarray:
    """``grad * (1 - a*a)``."""
    return cast(np.ndarray, grad * (1 - output * output))


def linear_forward(z: np.ndarray) -> np.ndarray:
    """The identity (returns ``z`` itself, no copy)."""
    return z


def linear_backward(grad: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The identity (returns ``grad`` itself, no copy)."""
    return grad


def softmax_forward(z: np.ndarray) -> np.ndarray:
    """Row-wise ``exp(z - max) / sum(exp(z - max))``, the division done as a multiplication by 1/sum."""
    e: np.ndarray = np.exp(z - z.max(axis=1, keepdims=True))
    e *= 1 / e.sum(axis=1, keepdims=True)
    return e


def softmax_backward(grad: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The Jacobian-vector product ``a * (grad - sum(grad * a, axis=1))`` per row."""
    dot = (grad * output).sum(axis=1, keepdims=True)
    return cast(np.ndarray, output * (grad - dot))


FORWARD: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": relu_forward,
    "leaky_relu": leaky_relu_forward,
    "sigmoid": sigmoid_forward,
    "tanh": tanh_forward,
    "linear": linear_forward,
    "softmax": softmax_forward,
}

BACKWARD: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "relu": relu_backward,
    "leaky_relu": leaky_relu_backward,
    "sigmoid": sigmoid_backward,
    "tanh": tanh_backward,
    "linear": linear_backward,
    "softmax": softmax_backward,
}


def _lookup(table: dict[str, _Kernel], name: str) -> _Kernel:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"activation must be one of {', '.join(map(repr, table))}; got {name!r}") from None


def forward(name: str, z: np.ndarray) -> np.ndarray:
    """The activation ``name`` applied to ``z``."""
    return _lookup(FORWARD, name)(z)


def backward(name: str, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The gradient through activation ``name``, from its forward ``output``."""
    return _lookup(BACKWARD, name)(grad, output)
