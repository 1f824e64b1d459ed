"""Weight penalties: ``0.5*l2*sum(W**2) + l1*sum(|W|)`` over Dense weights (never biases or BatchNorm parameters)."""

from __future__ import annotations

import numpy as np


def penalty(W: np.ndarray, l1: float, l2: float) -> float:
    """``0.5*l2*sum(W**2) + l1*sum(|W|)``, computed in W's dtype, returned as a Python float."""
    dtype = W.dtype.type
    total = dtype(0)
    if l2:
        total += dtype(0.5) * dtype(l2) * np.vdot(W, W)
    if l1:
        total += dtype(l1) * np.abs(W).sum()
    return float(total)


def penalty_grad(W: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """``l2*W + l1*sign(W)`` (sign(0) = 0)."""
    dtype = W.dtype.type
    grad = np.zeros_like(W)
    if l2:
        grad += dtype(l2) * W
    if l1:
        grad += dtype(l1) * np.sign(W)
    return grad
