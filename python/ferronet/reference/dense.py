"""Dense (fully connected) layer: ``z = x @ W + b``, W of shape (fan_in, fan_out), rows are samples."""

from __future__ import annotations

import numpy as np


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``z = x @ W + b``."""
    z: np.ndarray = x @ W
    z += b
    return z


def dense_weight_grads(x: np.ndarray, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The parameter gradients only: ``dW = x.T @ dz``, ``db = dz.sum(axis=0)`` (for a first layer, no dx)."""
    return x.T @ dz, dz.sum(axis=0)


def dense_backward(x: np.ndarray, W: np.ndarray, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dx = dz @ W.T``, ``dW = x.T @ dz``, ``db = dz.sum(axis=0)``."""
    dW, db = dense_weight_grads(x, dz)
    return dz @ W.T, dW, db
