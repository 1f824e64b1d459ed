"""Optimizer update rules (torch.optim's), as pure functions: they return new arrays and never modify their inputs.

``grad`` already includes the penalty gradient. Hyperparameters are cast to the array dtype before use, and each
formula is written in the operation order of the Rust kernel (Python evaluates ``a * b * c`` as ``(a * b) * c``),
so float64 results agree to rounding.
"""

from __future__ import annotations

import numpy as np


def sgd_update(param: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
    """``p - lr*g``."""
    lr = param.dtype.type(lr)
    return param - lr * grad


def momentum_update(
    param: np.ndarray, grad: np.ndarray, velocity: np.ndarray, lr: float, momentum: float
) -> tuple[np.ndarray, np.ndarray]:
    """``v = momentum*v + g``; ``p = p - lr*v``. Returns ``(param, velocity)``."""
    dtype = param.dtype.type
    lr, momentum = dtype(lr), dtype(momentum)
    velocity = momentum * velocity + grad
    return param - lr * velocity, velocity


def nesterov_update(
    param: np.ndarray, grad: np.ndarray, velocity: np.ndarray, lr: float, momentum: float
) -> tuple[np.ndarray, np.ndarray]:
    """``v = momentum*v + g``; ``p = p - lr*(g + momentum*v)``. Returns ``(param, velocity)``."""
    dtype = param.dtype.type
    lr, momentum = dtype(lr), dtype(momentum)
    velocity = momentum * velocity + grad
    return param - lr * (grad + momentum * velocity), velocity


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam at step t = ``step`` (from 1). Returns ``(param, m, v)``:

    ``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g*g``; ``p = p - lr*(m/(1-b1**t)) / (sqrt(v/(1-b2**t)) + eps)``.
    """
    if step < 1:
        raise ValueError(f"step must be >= 1 (the first update is step 1); got {step}")
    dtype = param.dtype.type
    lr, beta1, beta2, eps = dtype(lr), dtype(beta1), dtype(beta2), dtype(eps)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    correction1 = 1 - beta1**step
    correction2 = 1 - beta2**step
    return param - lr * (m / correction1) / (np.sqrt(v / correction2) + eps), m, v


def rmsprop_update(
    param: np.ndarray, grad: np.ndarray, sq: np.ndarray, lr: float, rho: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """``sq = rho*sq + (1-rho)*g*g``; ``p = p - lr*g / (sqrt(sq) + eps)``. Returns ``(param, sq)``."""
    dtype = param.dtype.type
    lr, rho, eps = dtype(lr), dtype(rho), dtype(eps)
    sq = rho * sq + (1 - rho) * grad * grad
    return param - lr * grad / (np.sqrt(sq) + eps), sq
