"""Inverted dropout with a given mask: kept units are scaled by 1/(1-p), dropped ones become 0.

The scale ``1/(1-p)`` is computed in float64 and then cast to the data's dtype; the result is ``x * scale`` with
``scale = where(mask, 1/(1-p), 0)``, exactly what the Rust engine computes. DropConnect applies the same to W.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from . import rng


def dropout_scale(mask: np.ndarray, p: float, dtype: np.dtype[Any]) -> np.ndarray:
    """``where(mask, 1/(1-p), 0)`` in ``dtype``."""
    scalar = np.dtype(dtype).type
    return cast(np.ndarray, np.where(mask, scalar(1.0 / (1.0 - p)), scalar(0)))


def dropout_forward(x: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """``x * where(mask, 1/(1-p), 0)``."""
    return cast(np.ndarray, x * dropout_scale(mask, p, x.dtype))  # NumPy types array products as Any


def dropout_backward(grad: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """``grad * where(mask, 1/(1-p), 0)``: the same scaling as the forward pass."""
    return cast(np.ndarray, grad * dropout_scale(mask, p, grad.dtype))


def dropout_mask(
    rows: int, cols: int, p: float, seed: int, step: int, layer: int, stream: int = rng.DROPOUT
) -> np.ndarray:
    """The engine's keep mask (bool, (rows, cols), True = kept) for ``layer`` at optimizer step ``step``."""
    return rng.mask(rows, cols, p, seed, stream, step, layer)
