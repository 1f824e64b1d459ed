"""Losses on the last layer's output: each returns ``(loss, grad)``.

``loss`` is a Python float (computed in the input dtype), ``grad`` the exact gradient of that loss with the shape
and dtype of the first argument. Each row i has a loss ``l_i``; the batch loss is their mean, or with
``sample_weight`` their weighted mean ``sum_i w_i*l_i / sum_i w_i`` (0 with zero gradient when all weights are 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .activations import sigmoid_forward


def _reduce(
    row_losses: np.ndarray, row_grads: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """Average the row losses and scale the row gradients ``d l_i / d z_i`` (modified in place) to match.

    Unweighted: ``mean(l)`` and ``grad_i / n``; weighted: ``sum(c*l)`` and ``c_i * grad_i`` with ``c = w / sum(w)``.
    """
    n = row_losses.shape[0]
    if sample_weight is None:
        row_grads /= n
        return float(row_losses.mean()), row_grads
    weights = np.asarray(sample_weight, dtype=row_grads.dtype)
    if weights.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},); got {weights.shape}")
    total = weights.sum()
    if total == 0:
        return 0.0, np.zeros_like(row_grads)
    coefficients = weights / total
    row_grads *= coefficients[:, None]
    return float(coefficients @ row_losses), row_grads


def _labels(labels: np.ndarray, n: int, k: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape ({n},); got {labels.dtype} of shape {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in 0..{k - 1}; got values from {labels.min()} to {labels.max()}")
    return labels


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """``l_i = logsumexp(z_i) - z_i[y_i]`` (max-shifted, fused: never a log of a softmax).

    ``d l_i / d z_i = softmax(z_i) - onehot(y_i)``.
    """
    n, k = logits.shape
    rows, labels = np.arange(n), _labels(labels, n, k)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)
    row_losses = np.log(sum_exp) - shifted[rows, labels]
    row_grads = exp
    row_grads *= (1 / sum_exp)[:, None]  # the softmax
    row_grads[rows, labels] -= 1
    return _reduce(row_losses, row_grads, sample_weight)


def mse(pred: np.ndarray, target: np.ndarray, sample_weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """``l_i = mean_j (p_ij - t_ij)**2``; ``d l_i / d p_i = 2 (p_i - t_i) / k``. Unweighted: 2(p - t)/(n*k)."""
    k = pred.shape[1]
    diff = pred - np.asarray(target, dtype=pred.dtype)
    row_losses = (diff * diff).mean(axis=1)
    row_grads = diff
    row_grads *= pred.dtype.type(2 / k)
    return _reduce(row_losses, row_grads, sample_weight)


def binary_cross_entropy(
    logits: np.ndarray, target: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """On logits: ``l_ij = max(z, 0) - z*t + log1p(exp(-|z|))``, ``l_i = mean_j l_ij``.

    ``d l_i / d z_i = (sigmoid(z_i) - t_i) / k``. Unweighted: (sigmoid(z) - t)/(n*k).
    """
    k = logits.shape[1]
    target = np.asarray(target, dtype=logits.dtype)
    elementwise = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    row_losses = elementwise.mean(axis=1)
    row_grads = sigmoid_forward(logits)
    row_grads -= target
    row_grads /= k
    return _reduce(row_losses, row_grads, sample_weight)


def hinge(scores: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Multiclass hinge: ``l_i = sum_{j != y_i} max(0, s_ij - s_iy_i + 1)``.

    Subgradient: +1 at each j != y_i with a strictly positive margin, minus their count at y_i.
    """
    n, k = scores.shape
    rows, labels = np.arange(n), _labels(labels, n, k)
    margins = scores - scores[rows, labels][:, None] + 1
    margins[rows, labels] = 0
    positive = margins > 0
    row_losses = np.where(positive, margins, scores.dtype.type(0)).sum(axis=1)
    row_grads = positive.astype(scores.dtype)
    row_grads[rows, labels] = -positive.sum(axis=1)
    return _reduce(row_losses, row_grads, sample_weight)


def poisson(z: np.ndarray, target: np.ndarray, sample_weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Half the Poisson deviance on ``z = log(mean)``: ``l_ij = exp(z) - t*z + t*log(t) - t`` (``0*log(0) = 0``),
    ``l_i = mean_j l_ij``; ``d l_i / d z_i = (exp(z_i) - t_i) / k``. Unweighted: (exp(z) - t)/(n*k).

    The terms ``t*log(t) - t`` do not depend on ``z``; with them the loss is 0 at a perfect fit ``exp(z) = t``.
    """
    k = z.shape[1]
    target = np.asarray(target, dtype=z.dtype)
    mean = np.exp(z)
    positive = target > 0
    t_log_t = np.where(positive, target * np.log(np.where(positive, target, 1)), z.dtype.type(0))
    row_losses = (mean - target * z + t_log_t - target).mean(axis=1)
    row_grads = mean - target
    row_grads /= k
    return _reduce(row_losses, row_grads, sample_weight)


LOSS_FUNCTIONS: dict[str, Callable[..., tuple[float, np.ndarray]]] = {
    "softmax_cross_entropy": softmax_cross_entropy,
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "hinge": hinge,
    "poisson": poisson,
}
